"""The report's generic plots (any scenario's groups, metrics and trials): clusters per CNI, a policy's cost per
cluster, medians per trial as points with their intervals, per-interval series, percentiles, latency vs offered load
and the gateway node's metrics over time. Scenarios pick among them in their ``report_plots`` (and may draw their
own with :mod:`cnibench.report.figure`); this module names no scenario.

Every plot: one panel per metric (and per trial where trials differ in kind), each CNI in its report-wide style
(:func:`~cnibench.report.figure.cni_style`: colour, marker, line style), values as points with their interval (never
bars from zero), the axis where the data are, the legend under the panels.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cnibench.metrics.prometheus import summarised_points
from cnibench.metrics.queries import UTILISATION, UTILISATION_RANGE
from cnibench.report.figure import Plot, Table, cni_style, legend_below, panels, plt, svg
from cnibench.results.group import Group
from cnibench.results.metric import MetricInfo
from cnibench.results.model import RunResults
from cnibench.results.policy import PairedVerdict
from cnibench.results.stats import MedianInterval, median_interval
from cnibench.scenarios import gateway_node, metric_named


def _order(groups: Sequence[Group]) -> list[str]:
    return list(dict.fromkeys(g.cni for g in groups))


def _label(info: MetricInfo) -> str:
    return f"{info.label} ({info.unit})" if info.unit else info.label


def _dodge(index: int, count: int, width: float = 0.6) -> float:
    """The offset of the ``index``-th of ``count`` series side by side within a category ``width`` wide."""
    return (index - (count - 1) / 2) * (width / max(1, count))


def _point(ax: Any, x: float, values: Sequence[float], scale: float, style: Any, label: str | None) -> None:
    """The repetitions as small dots, their median as the CNI's marker with the median's exact order-statistic
    interval as a whisker (none with too few values for any level)."""
    ax.scatter([x] * len(values), [v / scale for v in values], s=8, color=style.color, alpha=0.4, linewidths=0)
    median = statistics.median(values)
    ci = median_interval(values)
    if ci is not None:
        ax.vlines(x, ci.low / scale, ci.high / scale, color=style.color, linewidth=1.6, zorder=3)
    ax.scatter([x], [median / scale], s=34, color=style.color, marker=style.marker, edgecolors="#111111",
               linewidths=0.6, zorder=4, label=label)  # fmt: skip


def _levels(intervals: Sequence[MedianInterval | None]) -> str:
    return ", ".join(sorted({f"{ci.level:.0%}" for ci in intervals if ci is not None})) or "none"


def per_series(groups: Sequence[Group], metric: str, scenarios: Sequence[str], title: str) -> Plot | None:
    """One panel per trial; per series (a CNI) its clusters as large markers (each the geometric mean of its
    repetitions, drawn as small dots beside it), and the series' value (the geometric mean of its clusters) as a
    bar across, with the 95 % t-interval of that mean over the clusters. The axis starts where the data do."""
    from scipy.stats import t as student

    from cnibench.results.group import by_round

    info = metric_named(metric)
    chosen = [t for t in scenarios if any(g.scenario == t and g.values(info) for g in groups)]
    if not chosen:
        return None
    series = list(dict.fromkeys(g.series for g in groups if g.scenario in chosen))
    order = _order(groups)
    fig, axes = panels(len(chosen), height=2.5, sharey=True)
    for ax, trial in zip(axes, chosen, strict=True):
        for i, name in enumerate(series):
            group = next((g for g in groups if (g.series, g.scenario) == (name, trial)), None)
            rounds = by_round(group, info) if group else {}
            if not group or not rounds:
                continue
            style = cni_style(group.cni, order)
            positive = all(v > 0 for vs in rounds.values() for v in vs)
            clusters = []
            for k, (_, values) in enumerate(sorted(rounds.items())):
                x = i + (k - (len(rounds) - 1) / 2) * min(0.08, 0.6 / max(1, len(rounds)))
                mean = statistics.fmean(math.log(v) for v in values) if positive else statistics.fmean(values)
                value = math.exp(mean) if positive else mean
                clusters.append(value)
                ax.scatter([x] * len(values), [v / info.scale for v in values], s=6, color=style.color, alpha=0.35,
                           linewidths=0, zorder=2)  # fmt: skip
                ax.scatter([x], [value / info.scale], s=30, color=style.color, marker=style.marker,
                           edgecolors="#111111", linewidths=0.5, zorder=3)  # fmt: skip
            logs = [math.log(v) for v in clusters] if positive else clusters
            centre = statistics.fmean(logs)
            back = math.exp if positive else float
            ax.hlines(back(centre) / info.scale, i - 0.3, i + 0.3, color="#111111", linewidth=1.6, zorder=4)
            if len(logs) > 1:
                half = float(student.ppf(0.975, len(logs) - 1)) * statistics.stdev(logs) / math.sqrt(len(logs))
                ax.vlines(i + 0.34, back(centre - half) / info.scale, back(centre + half) / info.scale,
                          color="#111111", linewidth=1.2, zorder=4)  # fmt: skip
        ax.set_xticks(range(len(series)), series, rotation=30 if len(series) > 2 else 0,
                      ha="right" if len(series) > 2 else "center")  # fmt: skip
        ax.set_xlim(-0.6, len(series) - 0.4)
        ax.set_title(trial)
    axes[0].set_ylabel(_label(info))
    caption = (
        "Per trial (a panel) and CNI: each cluster (one CNI on one fresh cluster in one round) as a large marker, "
        "the geometric mean of its repetitions (small dots beside it); the black bar across is the CNI's value, the "
        "geometric mean of its clusters, with the 95 % t-interval of that mean over the clusters beside it. How "
        "CNIs differ, with the interval that holds for the whole family, is the scoreboard's."
    )
    return Plot(title, caption, svg(fig))


#: The longest panel title (characters of 10 pt text, about 5.5 pt each) that fits a third of a figure's width.
TITLE_CHARS_IN_A_THIRD = 18


def policy_ratio(ratios: Sequence[tuple[str, PairedVerdict]]) -> list[Plot]:
    """Per metric, one plot: per series (and trial) a policy's trial over its baseline per cluster (run back to back
    on it): each cluster's ratio as a marker (the CNI's style), the estimate (the geometric mean of the clusters'
    ratios) as a bar across with its simultaneous interval beside it. The same numbers as the headline's; the axis
    starts where the data do."""
    by_metric: dict[str, list[tuple[str, PairedVerdict]]] = {}
    for name, verdict in ratios:
        by_metric.setdefault(verdict.metric.label, []).append((name, verdict))
    order = list(dict.fromkeys(v.cni for _, v in ratios))
    plots = []
    for label, chosen in by_metric.items():
        trials = list(dict.fromkeys(v.scenario for _, v in chosen))
        # three panels to a row while their titles fit a third of the width (egress@500M); one a row for long
        # trial names (network-policy's pod-to-pod.cross-node.tcp-crr@1000rules), whose titles would overlap
        columns = 3 if max(len(t) for t in trials) <= TITLE_CHARS_IN_A_THIRD else 1
        fig, axes = panels(len(trials), height=2.4, columns=columns, sharey=True)
        for ax, trial in zip(axes, trials, strict=True):
            mine = [(name, v) for name, v in chosen if v.scenario == trial]
            for i, (_, verdict) in enumerate(mine):
                j = verdict.judgement
                middle = j.ratio if j.ratio is not None else statistics.median(verdict.cluster_ratios)
                style = cni_style(verdict.cni, order)
                count = len(verdict.cluster_ratios)
                xs = [i + (k - (count - 1) / 2) * min(0.08, 0.6 / max(1, count)) for k in range(count)]
                ax.scatter(xs, verdict.cluster_ratios, s=30, color=style.color, marker=style.marker,
                           edgecolors="#111111", linewidths=0.5, zorder=3)  # fmt: skip
                ax.hlines(middle, i - 0.3, i + 0.3, color="#111111", linewidth=1.6, zorder=4)
                if j.ci is not None and max(j.ci) < 10 * max(verdict.cluster_ratios):  # an interval that fits
                    ax.vlines(i + 0.34, j.ci[0], j.ci[1], color="#111111", linewidth=1.2, zorder=4)
            ax.axhline(1.0, color="#111111", linewidth=1, linestyle="--")
            ax.set_xticks(range(len(mine)), [name for name, _ in mine])
            ax.set_xlim(-0.6, len(mine) - 0.4)
            if len(trials) > 1:
                ax.set_title(trial)
        ax = axes[0]
        first = chosen[0][1]
        ax.set_ylabel(f"{label}:\nwith / without")
        plots.append(
            Plot(
                f"Policy vs baseline: {label}",
                f"{label} of each trial with the policy ({first.scenario}) over its baseline ({first.baseline}), run "
                "back to back on the same cluster: each cluster's ratio as a marker; the black bar across, their "
                "geometric mean (the headline's estimate) with its simultaneous 95 % interval beside it (omitted "
                "when wider than the axis). The dashed line at 1.0: the policy costs nothing.",
                svg(fig),
            )
        )
    return plots


def per_trial(
    groups: Sequence[Group], metric: str, trials: Sequence[str], labels: Mapping[str, str], title: str
) -> Plot | None:
    """One panel: per trial (x, ticks ``labels[trial]``'s first word, e.g. a trial's code) each CNI side by side as
    its repetitions (small dots) and their median (the CNI's marker) with the median's exact order-statistic
    interval; with the same numbers as a :class:`Table` (one row per trial, ``labels[trial]`` in full). None when no
    trial of ``trials`` has the metric."""
    info = metric_named(metric)
    chosen = [t for t in trials if any(g.scenario == t and g.values(info) for g in groups)]
    if not chosen:
        return None
    cnis = list(dict.fromkeys(g.cni for g in groups if g.scenario in chosen))
    order = _order(groups)
    fig, (ax,) = panels(1, height=2.6)
    intervals: list[MedianInterval | None] = []
    rows = []
    for i, trial in enumerate(chosen):
        cells = []
        for j, cni in enumerate(cnis):
            group = next((g for g in groups if (g.cni, g.scenario) == (cni, trial)), None)
            values = group.values(info) if group else []
            if not values:
                cells.append("-")
                continue
            ci = median_interval(values)
            intervals.append(ci)
            _point(ax, i + _dodge(j, len(cnis)), values, info.scale, cni_style(cni, order), cni if i == 0 else None)
            cells.append(info.show(statistics.median(values)) + (f" {ci.describe(info.show)}" if ci else "")
                         + f" (n={len(values)})")  # fmt: skip
        rows.append((labels.get(trial, trial), *cells))
    ticks = [labels.get(t, t).split(" ")[0] for t in chosen]
    ax.set_xticks(range(len(chosen)), ticks, rotation=45 if len(chosen) > 4 else 0,
                  ha="right" if len(chosen) > 4 else "center")  # fmt: skip
    ax.set_xlim(-0.6, len(chosen) - 0.4)
    ax.set_ylabel(_label(info))
    legend_below(fig)
    level = _levels(intervals)
    caption = (
        f"Per trial and CNI: the repetitions (small dots), their median (the CNI's marker) and the median's exact "
        f"order-statistic interval (the line through it; level {level})."
    )
    table = Table(title, ("trial", *(f"{cni} ({info.unit})" if info.unit else cni for cni in cnis)), tuple(rows),
                  f"Median [interval, level {level}] (n).")  # fmt: skip
    return Plot(title, caption, svg(fig), tables=(table,))


def intervals_over_time(
    groups: Sequence[Group], trials: Sequence[str], field: str, title: str, *, unit: str = "Gbit/s", scale: float = 1e9
) -> Plot | None:
    """One panel per trial of ``trials``; per CNI the median over its repetitions of the sample list field ``field``
    (``intervals_bps``: the receiver's bit/s per iperf3 interval, warm-up left out) against the second of the
    measurement as a line in the CNI's style, with the band from the smallest to the largest repetition; divided by
    ``scale`` into ``unit``. None when no sample has the field."""
    series = []
    for group in (g for g in groups if g.scenario in trials):
        runs = [list(values) for s in group.samples if s.status == "ok" and (values := getattr(s, field, None))]
        if runs:
            series.append((group, runs))
    if not series:
        return None
    chosen = list(dict.fromkeys(g.scenario for g, _ in series))
    order = _order(groups)
    fig, axes = panels(len(chosen), height=2.0, columns=1, sharey=True)
    counts = set()
    for ax, trial in zip(axes, chosen, strict=True):
        for group, runs in (item for item in series if item[0].scenario == trial):
            style = cni_style(group.cni, order)
            length = min(len(v) for v in runs)
            columns = [sorted(values[k] / scale for values in runs) for k in range(length)]
            seconds = range(1, length + 1)
            counts.add(len(runs))
            ax.fill_between(seconds, [c[0] for c in columns], [c[-1] for c in columns], color=style.color, alpha=0.15,
                            linewidth=0)  # fmt: skip
            ax.plot(seconds, [statistics.median(c) for c in columns], color=style.color, linestyle=style.linestyle,
                    marker=style.marker, markersize=4, markevery=max(1, length // 8), linewidth=1.5,
                    label=group.series)  # fmt: skip
        ax.set_title(trial)
        ax.set_ylabel(unit)
        ax.set_ylim(bottom=0)
    axes[-1].set_xlabel("second of the measurement (warm-up left out)")
    legend_below(fig)
    n = ", ".join(str(c) for c in sorted(counts))
    caption = (
        f"Per iperf3 interval: per CNI the median over its repetitions (n = {n}) as a line in the CNI's style, the "
        "band from the lowest to the highest repetition in that interval."
    )
    return Plot(title, caption, svg(fig))


def percentiles(
    groups: Sequence[Group], trials: Sequence[str], fields: Mapping[str, str], title: str, caption: str
) -> Plot | None:
    """One panel per trial of ``trials``; per percentile field (``fields``: sample field -> tick label, e.g.
    ``latency_p99_ms`` -> ``p99``) and CNI side by side, the repetitions (small dots), their median (the CNI's
    marker) and the median's exact order-statistic interval, in ms. None when no repetition has any of them."""
    chosen = [g for g in groups if g.scenario in trials]
    found = {
        g.scenario: g for g in chosen
        if any(s.status == "ok" and getattr(s, f, None) for s in g.samples for f in fields)
    }  # fmt: skip
    if not found:
        return None
    names = list(fields)
    order = _order(groups)
    trial_names = list(dict.fromkeys(g.scenario for g in chosen if g.scenario in found))
    fig, axes = panels(len(trial_names), height=2.5, sharey=True)
    intervals: list[MedianInterval | None] = []
    for ax, trial in zip(axes, trial_names, strict=True):
        mine = [g for g in chosen if g.scenario == trial]
        for j, group in enumerate(mine):
            for i, name in enumerate(names):
                values = [v for s in group.samples if s.status == "ok" and (v := getattr(s, name, None))]
                if values:
                    intervals.append(median_interval(values))
                    _point(ax, i + _dodge(j, len(mine)), values, 1.0, cni_style(group.cni, order),
                           group.series if i == 0 else None)  # fmt: skip
        ax.set_xticks(range(len(names)), list(fields.values()))
        ax.set_xlim(-0.6, len(names) - 0.4)
        ax.set_title(trial)
    axes[0].set_ylabel("latency (ms)")
    legend_below(fig)
    more = (
        f" Per CNI: the repetitions (small dots), their median (the CNI's marker) and the median's exact "
        f"order-statistic interval (level {_levels(intervals)})."
    )
    return Plot(title, caption + more, svg(fig))


def node_metrics_note(run: RunResults, run_dir: Path | None) -> str | None:
    """Why a run has no node-metric plots, in one line; None when it has them (or had nothing to draw)."""
    if run_dir is None or not (run_dir / "raw").is_dir():
        return (
            f"Run {run.run_id}: no node-metric plots: the run's raw Prometheus answers (its raw/ directory) are not "
            "at hand; the report was made from its results alone."
        )
    if not any((run_dir / "raw").glob("*/*/rep-*.metrics")):
        return f"Run {run.run_id}: no node-metric plots: node metrics were not collected in this run."
    return None


def node_metrics_over_time(run: RunResults, run_dir: Path | None) -> list[Plot]:
    """The gateway node's CPU and transmit rate over each measurement window, from the raw Prometheus answers: per
    trial one plot, every repetition a line in its CNI's style. Each plot's ``scenario`` is the trial (the report
    places it in the section of the scenario that owns the trial)."""
    if run_dir is None or not (run_dir / "raw").is_dir():
        return []
    plots = []
    for scenario in dict.fromkeys(s.scenario for s in run.samples):
        fig, axes = panels(2, height=2.3)
        drawn = False
        cnis = list(dict.fromkeys(s.cni for s in run.samples if s.scenario == scenario))
        for cni in cnis:
            style = cni_style(cni, cnis)
            node = gateway_node(run.environment, cni, scenario)
            for directory in sorted((run_dir / "raw" / cni / scenario).glob("rep-*.metrics")):
                for ax, (name, scale) in zip(axes, (("cpu_util", 0.01), ("net_tx_bps", 1e9)), strict=True):
                    path = directory / f"{name}.json"
                    if not path.exists():
                        continue
                    doc = json.loads(path.read_text())
                    for series in doc["data"].get("result", []):
                        if series.get("metric", {}).get("node") != node:
                            continue
                        # the points the averages use: finite, a utilisation clamped to [0, 1], and none whose rate
                        # window reaches before the window's start (the previous repetition's traffic)
                        clamp = UTILISATION_RANGE if name in UTILISATION else None
                        points = summarised_points(doc, series.get("values") or [], clamp)
                        ax.plot([t - doc["start"] for t, _ in points], [v / scale for _, v in points],
                                color=style.color, linestyle=style.linestyle, marker=style.marker, markersize=3,
                                linewidth=1, alpha=0.8, label=cni)  # fmt: skip
                        drawn = True
        if not drawn:
            plt.close(fig)
            continue
        axes[0].set_title("CPU, whole machine (%)")
        axes[1].set_title("gateway node transmit (Gbit/s)")
        for ax in axes:
            ax.set_xlabel("s into the window")
            ax.set_ylim(bottom=0)
        legend_below(fig)
        plots.append(
            Plot(
                f"Gateway node during {scenario}",
                "From Prometheus over each repetition's window (a line per repetition): the points the averages use "
                "(from one rate window after the start, so that no point carries the previous repetition's "
                "traffic). node_exporter runs in the node's network namespace: its network counters are the "
                "node's own, CPU is the whole machine's.",
                svg(fig),
                scenario=scenario,
            )
        )
    return plots


def latency_vs_load(groups: Sequence[Group], scenario: str, metric: str, title: str) -> Plot | None:
    """Offered load on x, a latency metric on y: one panel per trial of ``scenario``'s fixed loads (its
    ``<trial>@<rate>`` trials), one line per CNI in its style through the medians, the median's exact
    order-statistic interval as a band. Unsustained repetitions are in it (and marked on the point with an open
    circle): their latency is the overload's."""
    from cnibench.scenarios import SCENARIOS
    from cnibench.scenarios.base import base_trial, load_suffix
    from cnibench.scenarios.load import LoadSample

    owner = SCENARIOS.get(scenario)
    info = metric_named(metric)
    lines: dict[tuple[str, str], list[tuple[float, Group, bool]]] = {}
    for group in groups:
        if not (owner.owns(group.scenario) and load_suffix(group.scenario)):
            continue
        offered = next((s.offered_rate for s in group.samples if isinstance(s, LoadSample) and s.offered_rate), None)
        if offered is None or not group.values(info):
            continue
        overloaded = any(isinstance(s, LoadSample) and s.sustained is False for s in group.samples)
        lines.setdefault((base_trial(group.scenario), group.cni), []).append((offered, group, overloaded))
    if not lines:
        return None
    unit = owner.settings_model.rate_unit  # type: ignore[attr-defined]
    scale = 1e9 if unit.unit == "bit/s" else 1.0
    trials = list(dict.fromkeys(trial for trial, _ in lines))
    order = _order(groups)
    fig, axes = panels(len(trials), height=2.5, sharey=True)
    intervals: list[MedianInterval | None] = []
    for ax, trial in zip(axes, trials, strict=True):
        for (mine, cni), points in sorted(lines.items()):
            if mine != trial:
                continue
            style = cni_style(cni, order)
            points.sort(key=lambda p: p[0])
            xs = [p[0] / scale for p in points]
            values = [p[1].values(info) for p in points]
            cis = [median_interval(v) for v in values]
            intervals += cis
            ys = [statistics.median(v) / info.scale for v in values]
            lows = [(ci.low if ci else statistics.median(v)) / info.scale for ci, v in zip(cis, values, strict=True)]
            highs = [(ci.high if ci else statistics.median(v)) / info.scale for ci, v in zip(cis, values, strict=True)]
            ax.plot(xs, ys, marker=style.marker, color=style.color, linestyle=style.linestyle, label=cni)
            ax.fill_between(xs, lows, highs, color=style.color, alpha=0.18, linewidth=0)
            for x, y, point in zip(xs, ys, points, strict=True):
                if point[2]:
                    ax.scatter([x], [y], s=90, facecolors="none", edgecolors="#111111", zorder=4)
        ax.set_title(trial)
        ax.set_xlabel(f"offered ({'Gbit/s' if scale == 1e9 else unit.unit})")
    axes[0].set_ylabel(_label(info))
    legend_below(fig)
    caption = (
        "Each point: the median over the repetitions at one offered load; band: the median's exact order-statistic "
        f"interval (level {_levels(intervals)}); open circle: a load some repetition did not sustain within 5 % (its "
        "latency is an overloaded path's)."
    )
    return Plot(title, caption, svg(fig))
