"""CPU seconds per mode over a measurement window and its idle window, from the raw ``node_cpu_seconds_total``
scrapes saved by :func:`~cnibench.metrics.prometheus.fetch_window` (``cpu_seconds.json``: a range selector's
answer, every scrape with its own timestamp, one series per node x CPU x mode).

A counter's value at a window's edge is interpolated linearly between the scrapes around it (the counter grows by
the CPU time between two scrapes; where in between is unknown, linear is the least assumption). Cores busy in a
mode = its CPU seconds over the window / the window's length. Scope ``machine``: every node exporter sees this
machine's CPUs (netns, kind), so one node's series are the machine's and the first node (by name) is used;
``nodes``: each node its own (AKS, kubeconfig), so the nodes are summed.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cnibench.metrics.prometheus import PrometheusError, series_points
from cnibench.metrics.queries import CPU_SECONDS

#: Modes shown on their own; the other busy modes add up to "other"; "total" is every mode but idle.
MODES = ("user", "system", "softirq")


@dataclass(frozen=True)
class CpuWindows:
    """Cores busy per mode (``user``, ``system``, ``softirq``, ``other``, ``total``) over the measured window and
    over the idle window (None when none was measured); lengths in seconds."""

    scope: Literal["machine", "nodes"]
    window_s: float
    load_cores: dict[str, float]
    idle_window_s: float | None
    idle_cores: dict[str, float] | None


def value_at(points: list[tuple[float, float]], t: float) -> float | None:
    """A counter's value at time ``t`` by linear interpolation between the scrapes around it (points sorted by
    time); None when ``t`` is outside the scrapes."""
    for (t0, v0), (t1, v1) in itertools.pairwise(points):
        if t0 <= t <= t1:
            return v0 if t1 == t0 else v0 + (v1 - v0) * (t - t0) / (t1 - t0)
    return None


def _cores(series: Mapping[str, list[tuple[float, float]]], start: float, end: float) -> dict[str, float] | None:
    out = {mode: 0.0 for mode in (*MODES, "other", "total")}
    for mode, points in series.items():
        first, last = value_at(points, start), value_at(points, end)
        if first is None or last is None:
            return None
        cores = max(last - first, 0.0) / (end - start)  # a counter reset (exporter restart) is not a negative cost
        out[mode if mode in MODES else "other"] += cores
        out["total"] += cores
    return out


def _series(data: Mapping[str, Any], scope: str) -> dict[str, list[tuple[float, float]]]:
    """Mode -> summed counter over the CPUs (and over the nodes with scope ``nodes``; the first node's only with
    ``machine``), on the scrape timestamps."""
    by_node: dict[str, dict[str, dict[float, float]]] = {}
    for item in data.get("result", []):
        labels = item.get("metric") or {}
        node, mode = str(labels.get("node") or labels.get("instance") or "?"), str(labels.get("mode", "?"))
        summed = by_node.setdefault(node, {}).setdefault(mode, {})
        for t, v in series_points(item.get("values") or []):
            summed[t] = summed.get(t, 0.0) + v
    nodes = sorted(by_node)[:1] if scope == "machine" else sorted(by_node)
    out: dict[str, list[tuple[float, float]]] = {}
    for node in nodes:
        for mode, points in by_node[node].items():
            if scope == "machine" or not out.get(mode):
                out[mode] = sorted(points.items())
            else:  # nodes scraped at different moments: add each node's counter at the other's timestamps
                mine = sorted(points.items())
                out[mode] = [(t, v + (value_at(mine, t) or 0.0)) for t, v in out[mode] if value_at(mine, t) is not None]
    return out


def cpu_windows(out_dir: Path) -> CpuWindows | None:
    """The cores busy per mode over one repetition's windows; None when no counters were saved (a run before
    fixed loads, or metrics off). Raises :class:`PrometheusError` when the answer cannot be read or does not cover
    the window."""
    path = out_dir / f"{CPU_SECONDS}.json"
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        scope = "nodes" if doc.get("scope") == "nodes" else "machine"
        start, end = float(doc["start"]), float(doc["end"])
        idle = doc.get("idle")
        series = _series(doc["data"], scope)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PrometheusError(f"{path.name}: not a saved counter answer ({exc})") from None
    if not series:
        raise PrometheusError(f"{path.name}: no node_cpu_seconds_total series in the window")
    load = _cores(series, start, end)
    if load is None:
        raise PrometheusError(f"{path.name}: the scrapes do not cover the window {start:.3f}..{end:.3f}")
    idle_cores = _cores(series, float(idle[0]), float(idle[1])) if idle else None
    if idle and idle_cores is None:
        raise PrometheusError(f"{path.name}: the scrapes do not cover the idle window {idle[0]:.3f}..{idle[1]:.3f}")
    return CpuWindows(
        scope=scope,  # type: ignore[arg-type]
        window_s=end - start,
        load_cores=load,
        idle_window_s=float(idle[1]) - float(idle[0]) if idle else None,
        idle_cores=idle_cores,
    )
