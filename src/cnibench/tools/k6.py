"""k6: render the ingress load script, build the command line, parse ``--summary-export`` JSON.

Summary shape (k6 1.x, legacy export): ``metrics.http_reqs.count|rate``, ``metrics.http_req_duration.avg|med|
p(90)|p(95)|p(99)|max`` (milliseconds), ``metrics.http_req_failed.value`` (the failed fraction),
``metrics.data_received.rate`` (bytes/s), and the backend counters ``metrics["backend_hits{pod:<name>}"].count``.
In ``thresholds``, ``true`` means the threshold FAILED.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from cnibench.errors import MeasurementError
from cnibench.tools.base import json_object

UNMATCHED = "none"
STARTUP_S = 1.0  # k6's own start-up and teardown around the load, for time estimates
_TREND = ("avg", "med", "p(90)", "p(95)", "p(99)", "max")


def render_script(
    *,
    target: str,
    backends: list[str],
    vus: int,
    duration: int,
    reuse_connections: bool,
    max_failed_rate: float,
) -> str:
    """The load script. Every value is inserted as a JSON literal, so nothing in it can break the JavaScript."""
    template = string.Template(resources.files("cnibench.tools").joinpath("k6_script.js").read_text("utf-8"))
    return template.substitute(
        target=json.dumps(target),
        backends=json.dumps(backends),
        vus=json.dumps(vus),
        duration=json.dumps(f"{duration}s"),
        no_connection_reuse=json.dumps(not reuse_connections),
        failed_threshold=json.dumps(f"rate<={max_failed_rate:g}"),
    )


def run_argv(script: Path, summary: Path) -> list[str]:
    return [
        "k6", "run",
        "--no-usage-report",  # no internet here, and none needed
        "--quiet",  # no progress bar in the log
        "--no-color",
        "--address", "",  # no REST API server
        "--summary-export", str(summary),
        str(script),
    ]  # fmt: skip


@dataclass(frozen=True)
class K6Result:
    requests: int
    requests_per_s: float
    latency_avg_ms: float
    latency_p50_ms: float
    latency_p90_ms: float
    latency_p95_ms: float
    latency_p99_ms: float
    latency_max_ms: float
    failed_rate: float
    data_received_bps: float  # bits per second, like throughput_bps
    backend_hits: dict[str, int]  # every expected backend, 0 when it never answered
    unmatched: int  # answers without a Hostname line
    thresholds_failed: tuple[str, ...]  # "metric: expression" of every crossed threshold


def _metric(metrics: dict[str, Any], name: str) -> dict[str, Any]:
    value = metrics.get(name)
    if not isinstance(value, dict):
        raise MeasurementError(f"k6 summary has no metric {name!r}")
    return value


def _number(metric: dict[str, Any], key: str, name: str) -> float:
    value = metric.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MeasurementError(f"k6 summary: {name}.{key} is missing or not a number")
    return float(value)


def parse_summary(text: str, backends: list[str]) -> K6Result:
    """Parse a ``--summary-export`` document; ``backends`` are the pods that should have answered."""
    doc = json_object(text, what="k6 summary", empty="k6 wrote no summary")
    metrics = doc.get("metrics")
    if not isinstance(metrics, dict):
        raise MeasurementError("k6 summary has no metrics")
    reqs = _metric(metrics, "http_reqs")
    duration = _metric(metrics, "http_req_duration")
    trend = {key: _number(duration, key, "http_req_duration") for key in _TREND}
    failed = _metric(metrics, "http_req_failed")
    received = metrics.get("data_received") or {}
    hits = {
        pod: int((metrics.get(f"backend_hits{{pod:{pod}}}") or {}).get("count", 0)) for pod in [*backends, UNMATCHED]
    }
    crossed = tuple(
        f"{name}: {expr}"
        for name, metric in sorted(metrics.items())
        if isinstance(metric, dict)
        for expr, failed_ in (metric.get("thresholds") or {}).items()
        if failed_ is True
    )
    unmatched = hits.pop(UNMATCHED)
    return K6Result(
        requests=int(_number(reqs, "count", "http_reqs")),
        requests_per_s=_number(reqs, "rate", "http_reqs"),
        latency_avg_ms=trend["avg"],
        latency_p50_ms=trend["med"],
        latency_p90_ms=trend["p(90)"],
        latency_p95_ms=trend["p(95)"],
        latency_p99_ms=trend["p(99)"],
        latency_max_ms=trend["max"],
        failed_rate=_number(failed, "value", "http_req_failed"),
        data_received_bps=float(received.get("rate", 0.0)) * 8,
        backend_hits=hits,
        unmatched=unmatched,
        thresholds_failed=crossed,
    )


def version_of(output: str) -> str | None:
    """``k6 v1.1.0 (commit/..., go1.24.4, linux/amd64)`` -> ``1.1.0``."""
    parts = output.split()
    return parts[1].lstrip("v") if len(parts) > 1 and parts[0] == "k6" else None
