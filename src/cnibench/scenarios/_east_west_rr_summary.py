"""The east-west request/response workloads' lines of the terminal summary and plots of the report: the rr/crr
table (medians), each node's conntrack table, the repetitions Little's law flagged or whose conntrack table filled
or saw insert failures, the CPU cost per 1,000 transactions (:mod:`cnibench.scenarios._east_west_rr` makes the
samples)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cnibench.results.sample import SampleBase
from cnibench.scenarios._east_west_rr import COST_FIELD, NodeConntrack

if TYPE_CHECKING:
    from cnibench.report.figure import Plot
    from cnibench.results.group import Group


def conntrack_lines(samples: Sequence[SampleBase]) -> list[str]:
    """Per CNI x trial x node: the conntrack table's entries (median start, peak, end over the repetitions), the
    limit and the counters summed over the repetitions; a line of warning text for a repetition whose table filled
    or saw insert failures or drops is the caller's (:func:`conntrack_warnings`)."""
    from cnibench.report.text import table

    groups: dict[tuple[str, str, str], list[NodeConntrack]] = {}
    for s in samples:
        for n in getattr(s, "conntrack", None) or []:
            groups.setdefault((s.cni, str(getattr(s, "code", s.scenario)), n.node), []).append(n)
    if not groups:
        return []
    body = []
    for (cni, code, node), windows in groups.items():
        med = {k: statistics.median(getattr(w, k) for w in windows) for k in ("entries_start", "entries_peak",
                                                                               "entries_end")}  # fmt: skip
        sums = {k: sum(getattr(w, k) for w in windows) for k in ("insert_failed", "drop", "early_drop", "invalid")}
        limit = windows[0].limit
        body.append((cni, code, node, f"{med['entries_start']:.0f}", f"{med['entries_peak']:.0f}",
                     f"{med['entries_end']:.0f}", f"{limit:,}" if limit else "-",
                     *(str(v) for v in sums.values()), str(len(windows))))  # fmt: skip
    header = ("cni", "code", "node", "entries start", "peak", "end", "nf_conntrack_max", "insert_failed", "drop",
              "early_drop", "invalid", "n")  # fmt: skip
    return ["", "conntrack per node over each repetition (entries: medians; counters: increase, summed):",
            *table(header, body)]  # fmt: skip


def conntrack_warnings(samples: Sequence[SampleBase]) -> list[str]:
    """One line per repetition whose table filled or saw insert failures, drops or early drops on a node."""
    out = []
    for s in samples:
        for n in getattr(s, "conntrack", None) or []:
            if n.troubled:
                what = "filled its conntrack table" if n.filled else "saw conntrack trouble"
                out.append(f"{s.cni} {s.scenario} repetition {s.repetition}: {n.node} {what} (peak "
                           f"{n.entries_peak:,} of {n.limit or '?'}, insert_failed {n.insert_failed}, drop {n.drop}, "
                           f"early_drop {n.early_drop})")  # fmt: skip
    return out


def rr_table(samples: Sequence[SampleBase]) -> list[str]:
    """The summary's table of the rr and crr trials: per CNI x trial, the medians of the successful repetitions,
    and how many repetitions Little's law flagged."""
    from cnibench.report.text import median_text, summarize_field, table

    groups: dict[tuple[str, str], list[SampleBase]] = {}
    for s in samples:
        if getattr(s, "workload", "stream") != "stream":
            groups.setdefault((s.cni, s.scenario), []).append(s)
    if not groups:
        return []
    body = []
    for (cni, _trial), group in groups.items():
        first = group[0]
        ok = sum(1 for s in group if s.status == "ok")
        flagged = sum(1 for s in group if getattr(s, "little_ok", None) is False)
        rate = "transactions_per_s" if getattr(first, "workload", "") == "rr" else "connections_per_s"
        figures = [(rate, 0), ("latency_p50_us", 1), ("latency_p90_us", 1), ("latency_p99_us", 1),
                   ("latency_p99_9_us", 1), ("latency_max_us", 0), ("little_product", 3)]  # fmt: skip
        body.append((
            cni, str(getattr(first, "code", "")), str(getattr(first, "path", "")), str(getattr(first, "placement", "")),
            f"{getattr(first, 'protocol', '')}-{getattr(first, 'workload', '')}", f"{ok}/{len(group)}",
            *(median_text(summarize_field(group, name), 1, digits) for name, digits in figures), str(flagged),
            median_text(summarize_field(group, "failed_requests"), 1, 0),
            median_text(summarize_field(group, COST_FIELD), 1, 4),
        ))  # fmt: skip
    header = ("cni", "code", "path", "placement", "workload", "ok", "tx/s or conn/s", "p50 us", "p90 us", "p99 us",
              "p99.9 us", "max us", "Little", "flagged", "failed", "CPU s/1k tx")  # fmt: skip
    return [
        "",
        "request/response (medians of the successful repetitions; rr: round trips, sockperf; crr: connect "
        "to response, ab; Little = tx/s x mean latency, 1 with one outstanding):",
        *table(header, body),
    ]


def rr_summary(samples: Sequence[Any], warnings: list[str]) -> list[str]:
    """The summary's request/response lines (table, conntrack per node, CPU per 1,000 transactions) of the rr/crr
    ``samples``; adds the flagged repetitions and the conntrack trouble to ``warnings``."""
    from cnibench.scenarios.load import cost_lines

    lines = rr_table(samples) + conntrack_lines(samples)
    warnings += conntrack_warnings(samples)
    warnings += [f"{s.cni} {s.scenario} repetition {s.repetition}: flagged, not averaged: {s.error}"
                 for s in samples if s.little_ok is False]  # fmt: skip
    return lines + cost_lines(samples, COST_FIELD, "CPU s per 1,000 transactions")


def rr_plots(groups: Sequence[Group]) -> list[Plot]:
    """The report's plots of the rr trials' p99 round trip and the crr trials' connections/s, per trial and CNI."""
    from cnibench.report.plots import per_trial
    from cnibench.scenarios._east_west_matrix import ALL_POINTS

    plots = []
    for workload, field, what in (
        ("rr", "latency_p99_us", "round trip p99"),
        ("crr", "connections_per_s", "connections/s"),
    ):
        points = [p for p in ALL_POINTS if p.workload == workload]
        labels = {p.trial: f"{p.code} {p.placement} {p.mode}" for p in points}
        plot = per_trial(groups, field, [p.trial for p in points], labels, f"East-west {workload}: {what} per CNI")
        if plot is not None:
            plots.append(plot)
    return plots
