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
from pathlib import Path
from typing import Any

from cnibench import direct
from cnibench.metrics.catalogue import NETNS_UPLINKS, expressions, rate_window_s

NODE_EXPORTER_PORT = 9100
PROMETHEUS_PORT = 9090
HTTP_TIMEOUT_S = 5.0


class PrometheusError(Exception):
    """Prometheus could not be reached or refused a query; the message says which and why."""


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


def node_exporter_argv(listen: str) -> list[str]:
    """node_exporter with only what the catalogue needs: cheap to scrape every second."""
    return [
        "prometheus-node-exporter",
        f"--web.listen-address={listen}",
        "--collector.disable-defaults",
        "--collector.cpu",
        "--collector.meminfo",
        "--collector.netdev",
        "--collector.loadavg",
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
        raise PrometheusError(f"Prometheus at {url} unreachable: {reason}") from None
    except ValueError as exc:
        raise PrometheusError(f"{path}: answer is not JSON: {exc}") from None
    if doc.get("status") != "success":
        raise PrometheusError(f"{path}: {doc.get('errorType', 'error')}: {doc.get('error', 'no reason given')}")
    return doc.get("data")


def targets_health(url: str) -> dict[str, str]:
    """``{node: health}`` of the active targets ("up", "down", "unknown"), with the last error for the rest."""
    data = get(url, "/api/v1/targets", {"state": "active"})
    out: dict[str, str] = {}
    for target in data.get("activeTargets", []):
        node = target.get("labels", {}).get("node") or target.get("scrapeUrl", "?")
        health = target.get("health", "unknown")
        error = target.get("lastError")
        out[node] = health if health == "up" or not error else f"{health} ({error})"
    return out


def wait_targets_up(url: str, expected: int, timeout: float) -> float:
    """Poll until ``expected`` targets are up; return the seconds it took. The deadline error names the laggards."""
    start = time.monotonic()
    last = "Prometheus did not answer"
    while True:
        try:
            health = targets_health(url)
            if len(health) >= expected and all(h == "up" for h in health.values()):
                return time.monotonic() - start
            waiting = {n: h for n, h in health.items() if h != "up"}
            last = f"{len(health) - len(waiting)} of {expected} up; waiting for " + (
                ", ".join(f"{n}: {h}" for n, h in sorted(waiting.items())) or "targets to appear"
            )
        except PrometheusError as exc:
            last = str(exc)
        if time.monotonic() - start > timeout:
            raise PrometheusError(f"node_exporter targets not up within {timeout:g} s: {last}")
        time.sleep(0.1)


def wait_scraped_past(url: str, moment: float, timeout: float) -> None:
    """Wait until every target has been scraped after ``moment`` (so the window's last sample is in)."""
    deadline = time.monotonic() + timeout
    while True:
        data = get(url, "/api/v1/query", {"query": "min(timestamp(up))"})
        result = data.get("result", [])
        if result and float(result[0]["value"][1]) >= moment:
            return
        if time.monotonic() > deadline:
            raise PrometheusError(f"no scrape after the measurement ended within {timeout:g} s")
        time.sleep(0.1)


def fetch_window(
    url: str,
    *,
    start: float,
    end: float,
    scrape_interval_s: float,
    out_dir: Path,
    uplinks: str = NETNS_UPLINKS,
) -> dict[str, Path]:
    """Run every catalogue query over ``[start, end + one scrape interval]`` with the scrape interval as step and
    save each raw answer as ``out_dir/<name>.json``."""
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
    return saved


def summarize_matrix(
    data: dict[str, Any], *, start: float | None = None, end: float | None = None, lead: float = 0.0
) -> dict[str, dict[str, float]]:
    """``{node: {"avg": .., "max": ..}}`` of one query_range answer, NaN points left out.

    With ``start``/``end``, only points whose rate window (``lead`` seconds back) lies inside the measurement
    are used — a point whose window reaches before the start would average in the idle time before the tool
    began; all points are used if that leaves none (a measurement shorter than the rate window).
    """
    if data.get("resultType") != "matrix":
        raise PrometheusError(f"expected a matrix, got {data.get('resultType')!r}")
    out: dict[str, dict[str, float]] = {}
    for series in data.get("result", []):
        node = series.get("metric", {}).get("node", "?")
        points = [(float(t), float(v)) for t, v in series.get("values", []) if not math.isnan(float(v))]
        if start is not None and end is not None:
            inside = [(t, v) for t, v in points if start + lead <= t <= end]
            points = inside or points
        values = [v for _, v in points]
        if values:
            out[node] = {"avg": sum(values) / len(values), "max": max(values)}
    return out


def node_metrics(out_dir: Path) -> dict[str, dict[str, float]]:
    """Per node, ``<query>_avg`` and ``<query>_max`` for every saved query answer in ``out_dir``."""
    per_node: dict[str, dict[str, float]] = {}
    for name in expressions(1.0):
        path = out_dir / f"{name}.json"
        if not path.exists():
            raise PrometheusError(f"no answer saved for {name}")
        doc = json.loads(path.read_text())
        lead = float(doc.get("rate_window_s", 0.0)) if "rate(" in doc.get("query", "") else 0.0
        for node, figures in summarize_matrix(
            doc["data"], start=doc.get("start"), end=doc.get("end"), lead=lead
        ).items():
            per_node.setdefault(node, {})[f"{name}_avg"] = figures["avg"]
            per_node[node][f"{name}_max"] = figures["max"]
    if not per_node:
        raise PrometheusError("Prometheus returned no data for the window")
    return per_node
