"""The east-west stream trials' summary table pieces: a row per CNI x trial, and the pod/host throughput ratio
table (no plotting library: the terminal summary imports it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cnibench.report.text import table
from cnibench.results.stats import Summary
from cnibench.scenarios._east_west_matrix import PATHS, Point


@dataclass(frozen=True)
class Row:
    """One CNI x trial of the summary."""

    cni: str
    trial: str
    point: Point
    offered: float | None
    code: str
    streams: int
    ok: int
    total: int
    verified: int
    throughput: Summary | None
    ci: tuple[float, float, float] | None  # low, high (bit/s), level
    rtt: Summary | None
    retransmits: Summary | None
    loss: Summary | None


def ratio_lines(ratios: Sequence[tuple[str, str, str, str, float]]) -> list[str]:
    """The pod/host throughput ratios (:meth:`EastWest.ratios`) per datapath (CNI) as a table; none without a
    host-to-host trial."""
    if not ratios:
        return []
    cells: dict[tuple[str, str, str], dict[str, float]] = {}
    for cni, path, placement, mode, ratio in ratios:
        cells.setdefault((cni, placement, mode), {})[path] = ratio
    paths = [p for p in PATHS if any(p in row for row in cells.values())]
    body = [
        (cni, placement, mode, *(f"{row[p]:.2f}" if p in row else "-" for p in paths))
        for (cni, placement, mode), row in cells.items()
    ]
    header = ("cni", "placement", "mode", *(f"{p} / host-to-host" for p in paths))
    return [
        "pod network / host network throughput (median over median, same nodes; 1.00: the pod path costs nothing):",
        *table(header, body),
    ]
