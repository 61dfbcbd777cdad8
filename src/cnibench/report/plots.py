"""The report's generic plots (any scenario's groups, metrics and trials): clusters per CNI, a policy's cost per
cluster, medians per trial, per-interval series, percentiles, latency vs offered load and the gateway node's metrics
over time. Scenarios pick among them in their ``report_plots`` (and may draw their own with
:mod:`cnibench.report.figure`); this module names no scenario.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cnibench.metrics.prometheus import summarised_points
from cnibench.metrics.queries import UTILISATION, UTILISATION_RANGE
from cnibench.report.figure import Plot, cni_style, plt, svg
from cnibench.report.figure import color as _color
from cnibench.results.group import Group
from cnibench.results.metric import MetricInfo
from cnibench.results.model import RunResults
from cnibench.results.stats import MetricStats, summarize
from cnibench.results.verdicts import PairedVerdict
from cnibench.scenarios import gateway_node, metric_named


def _bar(ax: Any, x: float, stats: MetricStats, info: MetricInfo, width: float, color: str, label: str | None) -> str:
    """One bar at the median (``stats.median`` is set) with the median's exact interval as whiskers; returns the
    interval's level."""
    assert stats.median is not None
    median = stats.median / info.scale
    low, high = (stats.ci.low, stats.ci.high) if stats.ci else (stats.median, stats.median)
    ax.bar(x, median, width, color=color, alpha=0.75, label=label)
    ax.errorbar(x, median, yerr=[[median - low / info.scale], [high / info.scale - median]], fmt="none",
                ecolor="#111111", capsize=4, linewidth=1.2)  # fmt: skip
    return f"{stats.ci.level:.0%}" if stats.ci else "none"


def per_series(groups: Sequence[Group], metric: str, scenarios: Sequence[str], title: str) -> Plot | None:
    """One panel per trial; per series (a CNI, or a CNI of one run) its clusters as large markers (each the
    geometric mean of its repetitions, drawn as small dots beside it), and the series' value (the geometric mean of
    its clusters) as a bar across, with the 95 % t-interval of that mean over the clusters. The axis starts where
    the data do, not at zero. Colour and marker per CNI (:func:`cni_style`)."""
    import math
    import statistics as st

    from scipy.stats import t as student

    from cnibench.results.verdicts import by_round

    info = metric_named(metric)
    chosen = [t for t in scenarios if any(g.scenario == t and g.values(info) for g in groups)]
    if not chosen:
        return None
    series = list(dict.fromkeys(g.series for g in groups if g.scenario in chosen))
    order = list(dict.fromkeys(g.cni for g in groups))
    fig, axes = plt.subplots(1, len(chosen), figsize=(3.4 * len(chosen) + 0.6, 3.0), sharey=True, squeeze=False)
    for ax, trial in zip(axes[0], chosen, strict=True):
        for i, name in enumerate(series):
            group = next((g for g in groups if (g.series, g.scenario) == (name, trial)), None)
            rounds = by_round(group, info) if group else {}
            if not rounds:
                continue
            color, marker = cni_style(group.cni if group else name, order)
            positive = all(v > 0 for vs in rounds.values() for v in vs)
            clusters = []
            for k, (_, values) in enumerate(sorted(rounds.items())):
                x = i + (k - (len(rounds) - 1) / 2) * min(0.08, 0.6 / max(1, len(rounds)))
                value = math.exp(st.fmean(math.log(v) for v in values)) if positive else st.fmean(values)
                clusters.append(value)
                ax.scatter([x] * len(values), [v / info.scale for v in values], s=6, color=color, alpha=0.35,
                           linewidths=0, zorder=2)  # fmt: skip
                ax.scatter([x], [value / info.scale], s=30, color=color, marker=marker, edgecolors="#111111",
                           linewidths=0.5, zorder=3)  # fmt: skip
            logs = [math.log(v) for v in clusters] if positive else clusters
            centre = st.fmean(logs)
            back = math.exp if positive else float
            ax.hlines(back(centre) / info.scale, i - 0.3, i + 0.3, color="#111111", linewidth=1.6, zorder=4)
            if len(logs) > 1:
                half = float(student.ppf(0.975, len(logs) - 1)) * st.stdev(logs) / math.sqrt(len(logs))
                ax.vlines(i + 0.34, back(centre - half) / info.scale, back(centre + half) / info.scale,
                          color="#111111", linewidth=1.2, zorder=4)  # fmt: skip
        ax.set_xticks(range(len(series)), series, rotation=20 if len(series) > 3 else 0, ha="right"
                      if len(series) > 3 else "center")  # fmt: skip
        ax.set_xlim(-0.6, len(series) - 0.4)
        ax.set_title(trial, fontsize=10)
    axes[0][0].set_ylabel(f"{info.label} ({info.unit})" if info.unit else info.label)
    caption = (
        "Per trial (a panel) and CNI: each cluster (one CNI on one fresh cluster in one round) as a large marker, "
        "the geometric mean of its repetitions (small dots beside it); the black bar across is the CNI's value, the "
        "geometric mean of its clusters, with the 95 % t-interval of that mean over the clusters beside it. How "
        "CNIs differ, with the interval that holds for the whole family, is the scoreboard's."
    )
    return Plot(title, caption, svg(fig))


def policy_ratio(ratios: Sequence[tuple[str, PairedVerdict]]) -> list[Plot]:
    """Per metric, one plot: per series (and trial) a policy's trial over its baseline per cluster (run back to back
    on it): each cluster's ratio as a marker (colour and marker per CNI), the estimate (the geometric mean of the
    clusters' ratios) as a bar across with its simultaneous interval beside it. The same numbers as the headline's;
    the axis starts where the data do."""
    by_metric: dict[str, list[tuple[str, PairedVerdict]]] = {}
    for name, verdict in ratios:
        by_metric.setdefault(verdict.metric.label, []).append((name, verdict))
    plots = []
    for label, chosen in by_metric.items():
        several_trials = len({v.scenario for _, v in chosen}) > 1
        fig, ax = plt.subplots(figsize=(6.4, 2.6))
        names = []
        order = list(dict.fromkeys(v.cni for _, v in ratios))
        for i, (name, verdict) in enumerate(chosen):
            j = verdict.judgement
            names.append(f"{name}\n{verdict.scenario}" if several_trials else name)
            middle = j.ratio if j.ratio is not None else statistics.median(verdict.cluster_ratios)
            color, marker = cni_style(verdict.cni, order)
            spread = min(0.08, 0.6 / max(1, len(verdict.cluster_ratios)))
            xs = [i + (k - (len(verdict.cluster_ratios) - 1) / 2) * spread for k in range(len(verdict.cluster_ratios))]
            ax.scatter(xs, verdict.cluster_ratios, s=30, color=color, marker=marker, edgecolors="#111111",
                       linewidths=0.5, zorder=3)  # fmt: skip
            ax.hlines(middle, i - 0.3, i + 0.3, color="#111111", linewidth=1.6, zorder=4)
            if j.ci is not None and max(j.ci) < 10 * max(verdict.cluster_ratios):  # an interval that fits the axis
                ax.vlines(i + 0.34, j.ci[0], j.ci[1], color="#111111", linewidth=1.2, zorder=4)
        ax.axhline(1.0, color="#111111", linewidth=1, linestyle="--")
        ax.set_xticks(range(len(chosen)), names)
        first = chosen[0][1]
        ax.set_ylabel(f"{label}: with / without")
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


def grouped(
    groups: Sequence[Group], metric: str, trials: Sequence[str], labels: Mapping[str, str], title: str
) -> Plot | None:
    """Median per trial (x, labelled by ``labels``) with one bar per series side by side (CNIs next to each other),
    the median's exact order-statistic interval as whiskers; None when no trial of ``trials`` has the metric."""
    info = metric_named(metric)
    chosen = [t for t in trials if any(g.scenario == t and g.values(info) for g in groups)]
    if not chosen:
        return None
    series = list(dict.fromkeys(g.series for g in groups if g.scenario in chosen))
    fig, ax = plt.subplots(figsize=(max(6.4, 1.1 * len(chosen) + 1.5), 3.4))
    width = 0.8 / len(series)
    levels = set()
    for j, name in enumerate(series):
        for i, trial in enumerate(chosen):
            group = next((g for g in groups if (g.series, g.scenario) == (name, trial)), None)
            stats = group.stats(info) if group else None
            if stats is None or stats.median is None:
                continue
            x = i - 0.4 + width * (j + 0.5)
            levels.add(_bar(ax, x, stats, info, width * 0.9, _color(j), name if i == 0 else None))
    ax.set_xticks(range(len(chosen)), [labels.get(t, t).replace(" ", "\n") for t in chosen], fontsize=7)
    ax.set_ylabel(f"{info.label} ({info.unit})" if info.unit else info.label)
    ax.legend(frameon=False)
    caption = (
        "Bars: median per CNI; whiskers: the median's exact order-statistic confidence interval (level "
        f"{', '.join(sorted(levels))})."
    )
    return Plot(title, caption, svg(fig))


#: Above this many repetitions of a series, the time plot shows their median and range instead of every line.
MAX_LINES_PER_SERIES = 12


def intervals_over_time(
    groups: Sequence[Group], trials: Sequence[str], field: str, title: str, *, unit: str = "Gbit/s", scale: float = 1e9
) -> Plot | None:
    """Per repetition of each series x trial of ``trials``, the per-interval values of the sample list field
    ``field`` (``intervals_bps``: the receiver's bit/s per iperf3 interval, warm-up left out) against the second of
    the measurement, divided by ``scale`` into ``unit``; a series with more than :data:`MAX_LINES_PER_SERIES`
    repetitions as its median line and min-to-max band. None when no sample has the field."""
    series = []
    for group in (g for g in groups if g.scenario in trials):
        runs = [list(values) for s in group.samples if (values := getattr(s, field, None))]
        if runs:
            series.append((group, runs))
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 3.0))
    banded = False
    for index, (group, runs) in enumerate(series):
        label = f"{group.series} {group.scenario}"
        if len(runs) <= MAX_LINES_PER_SERIES:
            for i, values in enumerate(runs):
                ax.plot(range(1, len(values) + 1), [v / scale for v in values], color=_color(index), linewidth=1,
                        alpha=0.8, label=label if i == 0 else None)  # fmt: skip
            continue
        banded = True
        length = min(len(v) for v in runs)
        columns = [sorted(values[k] / scale for values in runs) for k in range(length)]
        seconds = range(1, length + 1)
        ax.fill_between(
            seconds, [c[0] for c in columns], [c[-1] for c in columns], color=_color(index), alpha=0.2, linewidth=0
        )
        ax.plot(seconds, [statistics.median(c) for c in columns], color=_color(index), linewidth=1.5,
                label=f"{label} (median of {len(runs)})")  # fmt: skip
    ax.set_xlabel("second of the measurement (warm-up left out)")
    ax.set_ylabel(f"throughput ({unit})")
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False, fontsize=7, ncol=2)
    caption = "Per iperf3 interval; each line is one repetition"
    if banded:
        caption += f" (series with more than {MAX_LINES_PER_SERIES}: median line, band from min to max)"
    return Plot(title, caption + ".", svg(fig))


def percentiles(
    groups: Sequence[Group], trials: Sequence[str], fields: Mapping[str, str], title: str, caption: str
) -> Plot | None:
    """Per series x trial of ``trials``, the median over its ok repetitions of each percentile field (``fields``:
    sample field -> tick label, e.g. ``latency_p99_ms`` -> ``p99``), as bars side by side, in ms. None when no
    repetition has any of them."""
    chosen = [g for g in groups if g.scenario in trials]
    if not chosen:
        return None
    names = tuple(fields)
    fig, ax = plt.subplots(figsize=(6.4, 3.0))
    width = 0.8 / len(chosen)
    drawn = False
    for j, group in enumerate(chosen):
        medians = []
        for name in names:
            values = [getattr(s, name) for s in group.samples if s.status == "ok" and getattr(s, name, None)]
            summary = summarize(values)
            medians.append(summary.median if summary else 0.0)
        drawn = drawn or any(medians)
        ax.bar([i - 0.4 + width * (j + 0.5) for i in range(len(names))], medians, width * 0.9, color=_color(j),
               label=group.series)  # fmt: skip
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xticks(range(len(names)), list(fields.values()))
    ax.set_ylabel("latency (ms)")
    ax.legend(frameon=False)
    return Plot(title, caption, svg(fig))


def node_metrics_over_time(run: RunResults, run_dir: Path | None) -> list[Plot]:
    """The gateway node's CPU and transmit rate over each measurement window, from the raw Prometheus answers."""
    if run_dir is None or not (run_dir / "raw").is_dir():
        return []
    plots = []
    scenarios = dict.fromkeys(s.scenario for s in run.samples)
    for scenario in scenarios:
        fig, axes = plt.subplots(1, 2, figsize=(7.2, 2.6))
        drawn = False
        cnis = list(dict.fromkeys(s.cni for s in run.samples if s.scenario == scenario))
        for index, cni in enumerate(cnis):
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
                        ax.plot(
                            [t - doc["start"] for t, _ in points],
                            [v / scale for _, v in points],
                            color=_color(index),
                            linewidth=1,
                            alpha=0.8,
                            label=cni if directory.name.startswith("rep-01") else None,
                        )
                        drawn = True
        if not drawn:
            plt.close(fig)
            continue
        axes[0].set_ylabel("CPU, whole machine (%)")
        axes[1].set_ylabel("gateway node transmit (Gbit/s)")
        for ax in axes:
            ax.set_xlabel("seconds into the measurement window")
            ax.set_ylim(bottom=0)
        axes[0].legend(frameon=False, fontsize=7)
        plots.append(
            Plot(
                f"Gateway node during {scenario} ({run.run_id})",
                "From Prometheus over each repetition's window: the points the averages use (from one rate window "
                "after the start, so that no point carries the previous repetition's traffic). node_exporter runs "
                "in the node's network namespace: its network counters are the node's own, CPU is the whole "
                "machine's.",
                svg(fig),
            )
        )
    return plots


def latency_vs_load(groups: Sequence[Group], scenario: str, metric: str, title: str) -> Plot | None:
    """Offered load on x, a latency metric on y: one line per series (CNI) and trial of ``scenario``'s fixed loads
    (its ``<trial>@<rate>`` trials), the median's exact order-statistic interval as a band. Unsustained
    repetitions are in it (and marked on the point with an open circle): their latency is the overload's."""
    from cnibench.scenarios import SCENARIOS
    from cnibench.scenarios.base import base_trial, load_suffix
    from cnibench.scenarios.load import LoadSample

    owner = SCENARIOS.get(scenario)
    info = metric_named(metric)
    lines: dict[tuple[str, str], list[tuple[float, MetricStats, bool]]] = {}
    for group in groups:
        if not (owner.owns(group.scenario) and load_suffix(group.scenario)):
            continue
        offered = next((s.offered_rate for s in group.samples if isinstance(s, LoadSample) and s.offered_rate), None)
        stats = group.stats(info)
        if offered is None or stats.median is None:
            continue
        overloaded = any(isinstance(s, LoadSample) and s.sustained is False for s in group.samples)
        lines.setdefault((group.series, base_trial(group.scenario)), []).append((offered, stats, overloaded))
    if not lines:
        return None
    unit = owner.settings_model.rate_unit  # type: ignore[attr-defined]
    scale = 1e9 if unit.unit == "bit/s" else 1.0
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    levels: set[str] = set()
    for index, ((series, trial), points) in enumerate(sorted(lines.items())):
        points.sort(key=lambda p: p[0])
        xs = [p[0] / scale for p in points]
        ys = [float(p[1].median or 0) / info.scale for p in points]
        lows = [(p[1].ci.low if p[1].ci else float(p[1].median or 0)) / info.scale for p in points]
        highs = [(p[1].ci.high if p[1].ci else float(p[1].median or 0)) / info.scale for p in points]
        levels.update(f"{p[1].ci.level:.0%}" for p in points if p[1].ci)
        color = _color(index)
        ax.plot(xs, ys, marker="o", color=color, label=f"{series} {trial}", linestyle="-" if "-" not in trial else "--")
        ax.fill_between(xs, lows, highs, color=color, alpha=0.18, linewidth=0)
        for x, y, point in zip(xs, ys, points, strict=True):
            if point[2]:
                ax.scatter([x], [y], s=80, facecolors="none", edgecolors="#111111", zorder=4)
    ax.set_xlabel(f"offered load ({'Gbit/s' if scale == 1e9 else unit.unit})")
    ax.set_ylabel(f"{info.label} ({info.unit})" if info.unit else info.label)
    ax.legend(frameon=False, fontsize=8)
    caption = (
        "Each point: the median over the repetitions at one offered load; band: the median's exact order-statistic "
        f"interval (level {', '.join(sorted(levels)) or 'none'}); open circle: a load some repetition did not "
        "sustain within 5 % (its latency is an overloaded path's)."
    )
    return Plot(title, caption, svg(fig))
