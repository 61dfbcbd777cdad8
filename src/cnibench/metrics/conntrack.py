"""Each node's conntrack table over a repetition's window from node_exporter's conntrack collector, as
:func:`~cnibench.metrics.prometheus.fetch_window` saved it (``conntrack.json``: a range selector's answer, every
scrape with its own timestamp; series ``node_nf_conntrack_entries``, ``..._entries_limit`` and
``node_nf_conntrack_stat_{insert_failed,drop,early_drop,invalid}`` per node). The Kubernetes platforms' source of
the request/response workloads' conntrack figures (node_exporter on the host network reads the node's table); on
netns the repetition's own sampler is finer (every 0.2 s, :mod:`cnibench.platforms.netns.conntrack_watch`).

The window's samples are the scrapes from the last one at or before its start to the first one at or after its end,
so that the counters' increase covers the whole window (a scrape interval more at most)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cnibench.errors import MeasurementError
from cnibench.metrics.prometheus import PrometheusError, series_points
from cnibench.metrics.queries import CONNTRACK
from cnibench.tools.conntrack import (
    COUNTERS,
    NODE_EXPORTER_ENTRIES,
    NODE_EXPORTER_LIMIT,
    NODE_EXPORTER_STAT,
    ConntrackCounters,
    ConntrackTable,
    ConntrackWindow,
    window,
)


def _node(labels: dict[str, Any]) -> str:
    return str(labels.get("node") or labels.get("instance") or "?")


def _tables(series: dict[str, list[tuple[float, float]]], start: float, end: float) -> list[ConntrackTable]:
    """The node's tables at each scrape of the entry count inside the window (plus the scrapes just outside it)."""
    entries = series.get(NODE_EXPORTER_ENTRIES, [])
    times = [t for t, _ in entries]
    before = [t for t in times if t <= start]
    after = [t for t in times if t >= end]
    first = before[-1] if before else (times[0] if times else start)
    last = after[0] if after else (times[-1] if times else end)
    chosen = [t for t in times if first <= t <= last]
    values = {name: dict(points) for name, points in series.items()}
    out = []
    for t in chosen:
        missing = [c for c in COUNTERS if t not in values.get(NODE_EXPORTER_STAT + c, {})]
        if missing:
            raise PrometheusError(f"conntrack.json: no {', '.join(missing)} scraped at {t:.3f}")
        counters = ConntrackCounters(**{c: int(values[NODE_EXPORTER_STAT + c][t]) for c in COUNTERS})
        limit = values.get(NODE_EXPORTER_LIMIT, {}).get(t)
        out.append(ConntrackTable(int(values[NODE_EXPORTER_ENTRIES][t]), int(limit) if limit else None, counters))
    return out


def conntrack_windows(out_dir: Path) -> dict[str, tuple[ConntrackWindow, int]] | None:
    """Per node (its ``node`` label), the table over the repetition's window and the number of scrapes it is made
    of; None when no answer was saved (a run before this, or metrics off). Raises :class:`PrometheusError` when the
    answer cannot be read, has no series (the collector is off: ``--collector.conntrack``) or a node has fewer than
    two scrapes in the window."""
    path = out_dir / f"{CONNTRACK}.json"
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        start, end = float(doc["start"]), float(doc["end"])
        result = doc["data"]["result"]
        by_node: dict[str, dict[str, list[tuple[float, float]]]] = {}
        for item in result:
            labels = item["metric"]
            by_node.setdefault(_node(labels), {})[str(labels["__name__"])] = series_points(item["values"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PrometheusError(f"{path.name}: not a saved conntrack answer ({exc})") from None
    if not by_node:
        raise PrometheusError(
            f"{path.name}: no node_nf_conntrack_* series (is node_exporter's conntrack collector on?)"
        )
    out = {}
    for node, series in sorted(by_node.items()):
        tables = _tables(series, start, end)
        try:
            out[node] = (window(tables), len(tables))
        except MeasurementError as exc:
            raise PrometheusError(f"{path.name}: {node}: {exc}") from None
    return out
