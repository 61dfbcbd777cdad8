"""The network-policy scenario's lines of the terminal summary and its cost curves in the report
(:mod:`cnibench.scenarios.network_policy` makes the samples).

**How to read a curve.** x is the number of non-matching rules in front of the matching one (0: default-deny plus
the matching allow rule), on a symmetric log scale; the dotted line of the same style is the same CNI (variant)
with no policy at all. A connection's first packet walks the policy; every later packet of it is accepted by the
conntrack rule in front (``ct state established,related accept``), so a stream pays once per connection (its curve
stays flat, unless the CPU per Gbit moves), rr pays once for its one connection, and crr pays on every transaction:
its connections/s and CPU per 1,000 connections show what a rule costs. A ``chain`` representation's cost grows with
the rules walked; a ``set`` (one lookup) should stay flat."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING

from cnibench.scenarios._network_policy_trials import NAME, POINTS, order_key, split

if TYPE_CHECKING:
    from cnibench.report.figure import Plot
    from cnibench.results.group import Group
    from cnibench.results.sample import SampleBase

#: Per workload, the figures the summary and the curves show: (sample field, label, scale, digits).
FIGURES: dict[str, tuple[tuple[str, str, float, int], ...]] = {
    "stream": (("throughput_bps", "Gbit/s", 1e9, 2), ("cpu_s_per_gbit", "CPU s per Gbit", 1.0, 3)),
    "rr": (("latency_p99_us", "rr p99 µs", 1.0, 1), ("transactions_per_s", "transactions/s", 1.0, 0),
           ("cpu_s_per_1k_transactions", "CPU s per 1,000 transactions", 1.0, 4)),
    "crr": (("connections_per_s", "connections/s", 1.0, 0),
            ("cpu_s_per_1k_transactions", "CPU s per 1,000 connections", 1.0, 4)),
}  # fmt: skip


def _median(samples: Sequence[SampleBase], field: str) -> float | None:
    values = [getattr(s, field, None) for s in samples if s.status == "ok"]
    numbers = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    return statistics.median(numbers) if numbers else None


def _text(value: float | None, scale: float, digits: int) -> str:
    return "-" if value is None else f"{value / scale:,.{digits}f}"


def summary(samples: Sequence[SampleBase], warnings: list[str]) -> list[str]:
    """Per workload, a table of CNI x point x size: repetitions ok, denied probes blocked, the rules and elements
    read back, the workload's figures (medians); a warning per denied probe that got through."""
    from cnibench.report.text import table

    groups: dict[tuple[str, str], list[SampleBase]] = {}
    for s in samples:
        groups.setdefault((s.cni, s.scenario), []).append(s)
        if getattr(s, "denied_probe", None) == "passed":
            warnings.append(f"{s.cni} {s.scenario} repetition {s.repetition}: the denied probe got through")
    lines: list[str] = []
    cnis = list(dict.fromkeys(cni for cni, _ in groups))
    for workload, figures in FIGURES.items():
        body = []
        for cni in cnis:
            for trial in sorted((t for c, t in groups if c == cni), key=order_key):
                point, size = split(trial)
                if point.workload != workload:
                    continue
                group = groups[(cni, trial)]
                probes = [s for s in group if getattr(s, "denied_probe", None) is not None]
                blocked = sum(1 for s in probes if getattr(s, "denied_probe", None) == "blocked")
                rules = _median(group, "nft_rules")
                elements = _median(group, "nft_elements")
                body.append((
                    cni, point.code, "none" if size is None else str(size),
                    f"{sum(1 for s in group if s.status == 'ok')}/{len(group)}",
                    f"{blocked}/{len(probes)}" if probes else "-",
                    _text(rules, 1, 0), _text(elements, 1, 0),
                    *(_text(_median(group, field), scale, digits) for field, _, scale, digits in figures),
                ))  # fmt: skip
        if body:
            header = ("cni", "code", "rules", "ok", "denied blocked", "nft rules", "elements",
                      *(label for _, label, _, _ in figures))  # fmt: skip
            lines += ["", f"network-policy, {workload} (medians; rules: non-matching in front of the match):",
                      *table(header, body)]  # fmt: skip
    return lines[1:] if lines else []


def cost_curves(groups: Sequence[Group]) -> list[Plot]:
    """One figure per workload and figure (throughput, rr p99, transactions/s, connections/s, CPU per unit): a
    panel per point of the matrix, x the rules (symmetric log), a line per CNI or variant through the medians, its
    no-policy median as a dotted line of the same style; with the numbers as a table."""
    from cnibench.report.figure import Plot, Table, cni_style, legend_below, panels, svg

    by_point: dict[str, dict[str, dict[int | None, Group]]] = {}
    for group in groups:
        try:
            point, size = split(group.scenario)
        except KeyError:
            continue
        by_point.setdefault(point.trial, {}).setdefault(group.cni, {})[size] = group
    order = list(dict.fromkeys(g.cni for g in groups))
    plots: list[Plot] = []
    for workload, figures in FIGURES.items():
        trials = [t for t in POINTS if t in by_point and POINTS[t].workload == workload]
        if not trials:
            continue
        for field, label, scale, digits in figures:
            fig, axes = panels(len(trials), height=2.5)
            rows: list[tuple[str, ...]] = []
            drawn = False
            for ax, trial in zip(axes, trials, strict=True):
                for cni, sizes in by_point[trial].items():
                    style = cni_style(cni, order)
                    medians = {size: _group_median(g, field) for size, g in sizes.items()}
                    xs = sorted(s for s in medians if s is not None and medians[s] is not None)
                    if xs:
                        ys = [float(medians[x]) / scale for x in xs]  # type: ignore[arg-type]
                        ax.plot(xs, ys, marker=style.marker, color=style.color, linestyle=style.linestyle, label=cni)
                        drawn = True
                    base = medians.get(None)
                    if base is not None:
                        ax.axhline(base / scale, color=style.color, linestyle=":", linewidth=1.0)
                    ordered = sorted(medians.items(), key=lambda kv: -1 if kv[0] is None else kv[0])
                    rows += [(cni, POINTS[trial].code, "none" if s is None else str(s), _text(v, scale, digits))
                             for s, v in ordered]  # fmt: skip
                ticks = sorted({n for by in by_point[trial].values() for n in by if n is not None})
                ax.set_xscale("symlog", linthresh=1.0)
                ax.set_xticks(ticks, [f"{n:,}" for n in ticks])
                ax.minorticks_off()
                ax.set_xlim(-0.3, max(ticks, default=1) * 1.6 + 1)
                ax.set_title(POINTS[trial].code)
                ax.set_xlabel("non-matching rules")
            axes[0].set_ylabel(label)
            legend_below(fig)
            if not drawn:
                fig.clf()
                continue
            title = f"Network policy: {label} vs rules ({workload})"
            caption = (
                "Each point: the median over the repetitions at one policy size (0: default-deny plus the matching "
                "allow rule); dotted: the same CNI with no policy. A connection's first packet walks the rules, the "
                "rest is accepted by conntrack first: crr pays per connection, a stream once."
            )
            table = Table(title, ("cni", "code", "rules", label), tuple(rows))
            plots.append(Plot(title, caption, svg(fig), scenario=NAME, tables=(table,)))
    return plots


def _group_median(group: Group, field: str) -> float | None:
    return _median(group.samples, field)
