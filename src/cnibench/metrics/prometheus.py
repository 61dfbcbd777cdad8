"""Prometheus: its configuration, a small HTTP client (standard library only) and the parsing of its answers.

``GET /api/v1/query_range`` answers ``{"status": "success", "data": {"resultType": "matrix", "result":
[{"metric": {...}, "values": [[<unix time>, "<value>"], ...]}]}}``; errors carry ``"status": "error"``,
``errorType`` and ``error``.
"""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cnibench import direct
from cnibench.errors import CnibenchError
from cnibench.metrics.queries import (
    CONNTRACK,
    CONNTRACK_SERIES,
    CPU_COUNTERS,
    CPU_SECONDS,
    NETNS_UPLINKS,
    UTILISATION,
    UTILISATION_RANGE,
    duration,
    expressions,
    rate_window_s,
)
from cnibench.proc import wait_until

NODE_EXPORTER_PORT = 9100
PROMETHEUS_PORT = 9090
HTTP_TIMEOUT_S = 5.0


class PrometheusError(CnibenchError):
    """Prometheus could not be reached or refused a query; the message says which and why."""


class PrometheusUnreachable(PrometheusError):
    """Nothing answers at Prometheus's address (it died, or never started)."""


def config(*, scrape_interval: str, targets: list[tuple[str, str]]) -> dict[str, Any]:
    """prometheus.yml: one job scraping node_exporter on every ``(node name, address:port)``."""
    return {
        "global": {"scrape_interval": scrape_interval, "scrape_timeout": scrape_interval},
        "scrape_configs": [
            {
                "job_name": "node",
                "static_configs": [{"targets": [address], "labels": {"node": node}} for node, address in targets],
            }
        ],
    }


def node_exporter_argv(listen: str, *, conntrack: bool = False) -> list[str]:
    """node_exporter with only what the node metrics queries need: cheap to scrape every second; ``conntrack``:
    its conntrack collector too (a run with request/response workloads: :mod:`cnibench.metrics.conntrack`)."""
    return [
        "prometheus-node-exporter",
        f"--web.listen-address={listen}",
        "--collector.disable-defaults",
        "--collector.cpu",
        "--collector.meminfo",
        "--collector.netdev",
        "--collector.loadavg",
        *(["--collector.conntrack"] if conntrack else []),
    ]


def prometheus_argv(config_file: Path, data_dir: Path, listen: str) -> list[str]:
    return [
        "prometheus",
        f"--config.file={config_file}",
        f"--storage.tsdb.path={data_dir}",
        f"--web.listen-address={listen}",
        "--storage.tsdb.retention.time=7d",
        "--log.level=warn",
    ]


def get(url: str, path: str, params: dict[str, str] | None = None) -> Any:
    """GET an API path and return its ``data``; raise :class:`PrometheusError` with Prometheus's reason."""
    full = f"{url.rstrip('/')}{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
    try:
        with direct.urlopen(full, timeout=HTTP_TIMEOUT_S) as response:  # never through a proxy (cnibench.direct)
            doc = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            doc = json.loads(exc.read())
        except ValueError:
            raise PrometheusError(f"{path}: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PrometheusUnreachable(f"Prometheus at {url} unreachable: {reason}") from None
    except ValueError as exc:
        raise PrometheusError(f"{path}: answer is not JSON: {exc}") from None
    if doc.get("status") != "success":
        raise PrometheusError(f"{path}: {doc.get('errorType', 'error')}: {doc.get('error', 'no reason given')}")
    return doc.get("data")


def targets_health(url: str, since: float | None = None) -> dict[str, str]:
    """``{node: health}`` of the active targets ("up", "down", "unknown"), with the last error for the rest.
    ``since`` (Unix time): a target whose last scrape is older counts as "not scraped yet"."""
    data = get(url, "/api/v1/targets", {"state": "active"})
    out: dict[str, str] = {}
    for target in data.get("activeTargets", []):
        node = target.get("labels", {}).get("node") or target.get("scrapeUrl", "?")
        health = target.get("health", "unknown")
        error = target.get("lastError")
        out[node] = health if health == "up" or not error else f"{health} ({error})"
        if since is not None and health == "up" and _scraped_at(target) < since:
            out[node] = "not scraped yet"
    return out


def _scraped_at(target: dict[str, Any]) -> float:
    """A target's last scrape (RFC 3339 in the targets API; Prometheus writes "0001-01-01T00:00:00Z" for never)."""
    try:
        return datetime.fromisoformat(str(target.get("lastScrape"))).timestamp()
    except ValueError:
        return 0.0


def wait_targets_up(url: str, expected: int, timeout: float, since: float | None = None) -> float:
    """Poll until ``expected`` targets are up (``since``: scraped up after that Unix time, so that a Prometheus
    that scraped an earlier cluster at the same addresses has seen this one); return the seconds it took. The
    deadline error (:class:`PrometheusError`) names the laggards; :class:`PrometheusUnreachable` at once when
    nothing answers at ``url``."""
    start = time.monotonic()
    targets_health(url)  # raises PrometheusUnreachable at once when nothing answers: no point waiting for it
    last = ["Prometheus did not answer"]

    def all_up() -> bool | None:
        try:
            health = targets_health(url, since)
        except PrometheusError as exc:
            last[0] = str(exc)
            return None
        if len(health) >= expected and all(h == "up" for h in health.values()):
            return True
        waiting = {n: h for n, h in health.items() if h != "up"}
        last[0] = f"{len(health) - len(waiting)} of {expected} up; waiting for " + (
            ", ".join(f"{n}: {h}" for n, h in sorted(waiting.items())) or "targets to appear"
        )
        return None

    if wait_until(all_up, timeout, interval=0.05) is None:
        raise PrometheusError(f"node_exporter targets not up within {timeout:g} s: {last[0]}")
    return time.monotonic() - start


def wait_scraped_past(url: str, moment: float, timeout: float) -> None:
    """Wait until every target has been scraped after ``moment`` (so the window's last sample is in)."""

    def scraped() -> bool | None:
        result = get(url, "/api/v1/query", {"query": "min(timestamp(up))"}).get("result", [])
        return True if result and float(result[0]["value"][1]) >= moment else None

    if wait_until(scraped, timeout) is None:
        raise PrometheusError(f"no scrape after the measurement ended within {timeout:g} s")


def fetch_window(
    url: str,
    *,
    start: float,
    end: float,
    scrape_interval_s: float,
    out_dir: Path,
    uplinks: str = NETNS_UPLINKS,
    idle: tuple[float, float] | None = None,
    cpu_scope: str = "machine",
) -> dict[str, Path]:
    """Run every node metrics query over ``[start, end + one scrape interval]`` with the scrape interval as step and
    save each raw answer as ``out_dir/<name>.json``; and the raw CPU time counters from the idle window's start
    (``idle``: Unix times; else ``start``) to a scrape after ``end``, as ``cpu_seconds.json`` (with ``cpu_scope``:
    ``machine`` when every node exporter sees this machine's CPUs, ``nodes`` when each sees its own); and the raw
    conntrack collector series over the window as ``conntrack.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    # a scrape after the end: the last point inside the measurement is computed from complete data
    wait_scraped_past(url, end, timeout=5 * scrape_interval_s + 5)
    saved: dict[str, Path] = {}
    for name, query in expressions(scrape_interval_s, uplinks).items():
        data = get(
            url,
            "/api/v1/query_range",
            {
                "query": query,
                "start": f"{start:.3f}",
                "end": f"{end + scrape_interval_s:.3f}",
                "step": f"{scrape_interval_s:g}",  # seconds as a number: "0.5s" would be refused
            },
        )
        path = out_dir / f"{name}.json"
        document = {
            "query": query,
            "start": start,
            "end": end,
            "scrape_interval_s": scrape_interval_s,
            "rate_window_s": rate_window_s(scrape_interval_s),
            "data": data,
        }
        path.write_text(json.dumps(document) + "\n")
        saved[name] = path
    first = min(start, idle[0]) if idle else start
    at = end + scrape_interval_s
    data = get(
        url,
        "/api/v1/query",
        {"query": CPU_COUNTERS.format(range=duration(at - first + 2 * scrape_interval_s)), "time": f"{at:.3f}"},
    )
    path = out_dir / f"{CPU_SECONDS}.json"
    document = {"start": start, "end": end, "idle": list(idle) if idle else None, "scope": cpu_scope, "data": data}
    path.write_text(json.dumps(document) + "\n")
    saved[CPU_SECONDS] = path
    # the conntrack collector's series over the whole window, every scrape (cnibench.metrics.conntrack)
    query = CONNTRACK_SERIES.format(range=duration(at - start + 2 * scrape_interval_s))
    data = get(url, "/api/v1/query", {"query": query, "time": f"{at:.3f}"})
    path = out_dir / f"{CONNTRACK}.json"
    path.write_text(json.dumps({"start": start, "end": end, "query": query, "data": data}) + "\n")
    saved[CONNTRACK] = path
    return saved


#: Labels a series is named by, in order: the node label cnibench's queries group by, then Prometheus's own.
SERIES_LABELS = ("node", "instance")


def series_points(values: list[Any], clamp: tuple[float, float] | None = None) -> list[tuple[float, float]]:
    """A series' ``[[time, "value"], ...]`` as floats: points that are not finite numbers left out, each value
    clamped to ``clamp`` when given (a utilisation). What the summaries and the report's plots both read."""
    points = [p for p in (_finite_point(*pair) for pair in values if len(pair) == 2) if p is not None]
    if clamp is None:
        return points
    return [(t, min(max(v, clamp[0]), clamp[1])) for t, v in points]


def _inside(
    points: list[tuple[float, float]], start: float | None, end: float | None, lead: float
) -> list[tuple[float, float]]:
    """The points whose rate window (``lead`` s back) lies inside ``[start, end]``; all of them when that leaves
    none (a measurement shorter than the rate window), or without a window."""
    if start is None or end is None:
        return points
    inside = [(t, v) for t, v in points if start + lead <= t <= end]
    return inside or points


def summarised_points(
    doc: dict[str, Any], values: list[Any], clamp: tuple[float, float] | None = None
) -> list[tuple[float, float]]:
    """The points of one series of a saved query answer (``doc``: as :func:`node_metrics` reads it) that its
    average and maximum are taken over: finite, clamped to ``clamp``, and inside the measurement window after the
    rate window (a point whose ``rate()`` reaches before the start carries the previous repetition's traffic). What
    the report's time series draw, so that a plot never shows what the averages left out."""
    query = str(doc.get("query", ""))
    lead = float(doc.get("rate_window_s", 0.0)) if "rate(" in query else 0.0
    return _inside(series_points(values, clamp), doc.get("start"), doc.get("end"), lead)


def _finite_point(t: Any, v: Any) -> tuple[float, float] | None:
    """A ``[time, "value"]`` pair as floats; None for a value that is not a finite number (Prometheus returns
    ``NaN``, ``+Inf`` and ``-Inf`` as strings: Prometheus HTTP API, "Expression query result formats")."""
    try:
        point = (float(t), float(v))
    except (TypeError, ValueError):
        return None
    return point if math.isfinite(point[0]) and math.isfinite(point[1]) else None


def _series_name(labels: dict[str, Any], number: int) -> tuple[str, bool]:
    """The name a series is kept under, and whether it had cnibench's grouping label (``node``)."""
    for label in SERIES_LABELS:
        if labels.get(label):
            return (str(labels[label]) if label == "node" else f"{label}={labels[label]}"), label == "node"
    if labels:
        return ",".join(f"{k}={v}" for k, v in sorted(labels.items())), False
    return f"series-{number}", False


@dataclass
class MatrixSummary:
    """Per series (named by its node): ``{"avg": .., "max": ..}`` over the window, and what was left out or
    corrected on the way, in words."""

    figures: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def summarize_matrix(
    data: dict[str, Any],
    *,
    start: float | None = None,
    end: float | None = None,
    lead: float = 0.0,
    clamp: tuple[float, float] | None = None,
    name: str = "query",
) -> MatrixSummary:
    """Average and maximum of every series of one query_range answer.

    * Points that are not finite numbers (``NaN``, ``+Inf``, ``-Inf``) are left out and counted in the notes.
    * With ``clamp`` (a utilisation: ``(0, 1)``), every point is clamped to the range first: ``1 - rate(idle)``
      dips below 0 when a counter advances faster than wall time between scrapes (openshift/console#15332).
    * With ``start``/``end``, only points whose rate window (``lead`` seconds back) lies inside the measurement are
      used; a point whose window reaches before the start would average in the idle time before the tool began.
      All points are used if that leaves none (a measurement shorter than the rate window).
    * A series is named by its ``node`` label, else ``instance=...``, else its labels, else ``series-N``; a series
      without the node label is kept under that name and noted, never merged into another.

    Raises :class:`PrometheusError` when ``data`` is not a matrix.
    """
    if data.get("resultType") != "matrix":
        raise PrometheusError(f"expected a matrix, got {data.get('resultType')!r}")
    out = MatrixSummary()
    unlabelled: list[str] = []
    for number, series in enumerate(data.get("result", []), start=1):
        labels = series.get("metric") or {}
        node, grouped = _series_name(labels if isinstance(labels, dict) else {}, number)
        if not grouped:
            unlabelled.append(node)
        if node in out.figures:
            node = f"{node}#{number}"
        raw = series.get("values") or []
        points = series_points(raw)
        if len(points) < len(raw):
            out.notes.append(f"{name} {node}: {len(raw) - len(points)} point(s) not a finite number (NaN/Inf) left out")
        if clamp is not None:
            outside = sum(1 for _, v in points if not clamp[0] <= v <= clamp[1])
            if outside:
                out.notes.append(f"{name} {node}: {outside} point(s) outside [{clamp[0]:g}, {clamp[1]:g}] clamped")
            points = series_points(raw, clamp)
        points = _inside(points, start, end, lead)
        values = [v for _, v in points]
        if values:
            out.figures[node] = {"avg": sum(values) / len(values), "max": max(values)}
    if unlabelled:
        out.notes.append(
            f"{name}: {len(unlabelled)} series without a node label kept as {', '.join(unlabelled)} "
            "(the query should group by node)"
        )
    return out


@dataclass
class NodeMetrics:
    """One repetition's node metrics: per node ``<query>_avg`` / ``<query>_max``, the queries that returned no
    series in the window, and notes on what was left out or corrected."""

    per_node: dict[str, dict[str, float]]
    missing: dict[str, str]  # query name -> its PromQL
    notes: list[str]

    @property
    def error(self) -> str | None:
        """Why some metrics are missing (None when every query had data)."""
        if not self.missing:
            return None
        return "; ".join(f"{name}: no series in the window (query {query})" for name, query in self.missing.items())


def node_metrics(out_dir: Path) -> NodeMetrics:
    """Every saved query answer of one repetition (``out_dir/<name>.json``), summarised per node.

    Raises :class:`PrometheusError` when an answer was not saved or cannot be read; a query without any series in
    the window is listed in :attr:`NodeMetrics.missing`, never silently absent.
    """
    per_node: dict[str, dict[str, float]] = {}
    missing: dict[str, str] = {}
    notes: list[str] = []
    for name in expressions(1.0):
        path = out_dir / f"{name}.json"
        if not path.exists():
            raise PrometheusError(f"no answer saved for {name}")
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            query = str(doc.get("query", ""))
            lead = float(doc.get("rate_window_s", 0.0)) if "rate(" in query else 0.0
            summary = summarize_matrix(
                doc["data"],
                start=doc.get("start"),
                end=doc.get("end"),
                lead=lead,
                clamp=UTILISATION_RANGE if name in UTILISATION else None,
                name=name,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise PrometheusError(f"{path.name}: not a saved query answer ({exc})") from None
        if not summary.figures:
            missing[name] = query
        notes += summary.notes
        for node, figures in summary.figures.items():
            per_node.setdefault(node, {})[f"{name}_avg"] = figures["avg"]
            per_node[node][f"{name}_max"] = figures["max"]
    if not per_node:
        raise PrometheusError("Prometheus returned no data for the window")
    return NodeMetrics(per_node, missing, notes)
