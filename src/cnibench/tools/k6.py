"""k6: render the ingress load script, build the command line, parse ``--summary-export`` JSON.

Summary shape (k6 1.x, legacy export): ``metrics.http_reqs.count|rate``, ``metrics.http_req_duration.avg|med|
p(90)|p(95)|p(99)|max`` (milliseconds), ``metrics.http_req_failed.value`` (the failed fraction),
``metrics.data_received.rate`` (bytes/s), and the backend counters ``metrics["backend_hits{pod:<name>}"].count``.
In ``thresholds``, ``true`` means the threshold FAILED.

k6 reads ``K6_*`` environment variables that override the script's options and change what the summary holds:
``K6_NO_THRESHOLDS`` (no thresholds evaluated or exported, exit 0 whatever failed), ``K6_SUMMARY_TREND_STATS``
(other percentiles), ``K6_NEW_MACHINE_READABLE_SUMMARY`` (k6 >= 1.5: another document shape, see
grafana/k6-summary). Precedence is command line > environment > script options (checked with k6 1.1.0). So
cnibench runs k6 with every ``K6_*`` variable removed from its environment (:data:`CONTROLLED_ENV_PREFIX`), passes
the trend statistics it reads on the command line, and judges a repetition's failed requests from the summary's
own ``http_req_failed`` rate, not from k6's thresholds or exit code.
"""

from __future__ import annotations

import json
import math
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
#: The trend statistics cnibench reads, given on the command line (which overrides K6_SUMMARY_TREND_STATS).
SUMMARY_TREND_STATS = "avg,min,med,max,p(90),p(95),p(99)"
#: Environment variables with this prefix are removed from k6's environment: they change its summary or thresholds.
CONTROLLED_ENV_PREFIX = "K6_"


#: Seconds a request may take, at the offered rate, before k6 runs out of VUs and drops iterations: maxVUs of a
#: constant-arrival-rate load is rate x this (Little's law: requests in flight = arrival rate x time in the system).
#: A path slower than this at that rate did not sustain it, and dropped_iterations says so.
ARRIVAL_MAX_LATENCY_S = 0.1
#: Pre-allocated VUs cover rate x this (k6 allocates the rest during the test, which costs: "Arrival-rate VU
#: allocation", k6 docs); at least the spec's ``vus``.
ARRIVAL_EXPECTED_LATENCY_S = 0.01
MAX_VUS = 5000


def arrival_vus(rate: int, vus: int) -> tuple[int, int]:
    """``(preAllocatedVUs, maxVUs)`` for a constant-arrival-rate load of ``rate`` requests/s (see the constants)."""
    pre = min(max(vus, math.ceil(rate * ARRIVAL_EXPECTED_LATENCY_S)), MAX_VUS)
    return pre, min(max(pre, math.ceil(rate * ARRIVAL_MAX_LATENCY_S)), MAX_VUS)


def load_options(*, vus: int, duration: int, rate: int | None) -> dict[str, Any]:
    """k6's options for the load: ``vus`` VUs for ``duration`` s (closed model: as fast as they go), or, with
    ``rate`` (requests/s), the ``constant-arrival-rate`` executor (open model: k6 docs, "Constant arrival rate")."""
    if rate is None:
        return {"vus": vus, "duration": f"{duration}s"}
    pre, most = arrival_vus(rate, vus)
    executor = {
        "executor": "constant-arrival-rate",
        "rate": rate,
        "timeUnit": "1s",
        "duration": f"{duration}s",
        "preAllocatedVUs": pre,
        "maxVUs": most,
    }
    return {"scenarios": {"load": executor}}


def render_script(
    *,
    target: str,
    backends: list[str],
    vus: int,
    duration: int,
    reuse_connections: bool,
    max_failed_rate: float,
    rate: int | None = None,
) -> str:
    """The load script (``rate``: requests/s of a fixed load, see :func:`load_options`). Every value is inserted
    as a JSON literal, so nothing in it can break the JavaScript."""
    template = string.Template(resources.files("cnibench.tools").joinpath("k6_script.js").read_text("utf-8"))
    return template.substitute(
        target=json.dumps(target),
        backends=json.dumps(backends),
        load=json.dumps(load_options(vus=vus, duration=duration, rate=rate)),
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
        "--summary-trend-stats", SUMMARY_TREND_STATS,  # the statistics parse_summary reads, whatever the config
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
    iterations: int = 0  # iterations k6 started (one request each)
    dropped_iterations: int = 0  # arrival-rate iterations no free VU could start (absent from the summary: none)


def _metric(metrics: dict[str, Any], name: str) -> dict[str, Any]:
    value = metrics.get(name)
    if not isinstance(value, dict):
        raise MeasurementError(f"k6 summary has no metric {name!r}")
    return value


def _number(metric: dict[str, Any], key: str, name: str) -> float:
    value = metric.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        hint = " (K6_SUMMARY_TREND_STATS or summaryTrendStats chose other statistics?)" if "(" in key else ""
        raise MeasurementError(f"k6 summary: {name}.{key} is missing or not a number{hint}")
    return float(value)


def _check_format(doc: dict[str, Any]) -> dict[str, Any]:
    """The legacy summary's ``metrics`` object; the machine-readable summary of k6 >= 1.5 (grafana/k6-summary:
    ``version``, ``metadata``, ``results.metrics[]``) is named with the variable that selects it."""
    metrics = doc.get("metrics")
    if isinstance(metrics, dict):
        duration = metrics.get("http_req_duration")
        if isinstance(duration, dict) and isinstance(duration.get("values"), dict) and "avg" not in duration:
            raise MeasurementError(
                "k6 summary is the data object of a handleSummary() function (each figure under "
                'metrics.<name>.values, k6 docs "Custom summary"); cnibench reads the --summary-export file'
            )
        return metrics
    results = doc.get("results")
    if isinstance(results, dict) and isinstance(results.get("metrics"), list):
        made_by = (doc.get("metadata") or {}).get("k6Version")
        raise MeasurementError(
            f"k6 summary is k6's machine-readable summary format (version {doc.get('version', '?')}"
            + (f", k6 {made_by}" if made_by else "")
            + "), selected by K6_NEW_MACHINE_READABLE_SUMMARY or --new-machine-readable-summary; cnibench reads "
            "the legacy --summary-export format: unset K6_NEW_MACHINE_READABLE_SUMMARY"
        )
    raise MeasurementError("k6 summary has no metrics")


def parse_summary(text: str, backends: list[str]) -> K6Result:
    """Parse a ``--summary-export`` document; ``backends`` are the pods that should have answered.

    Raises :class:`MeasurementError` for an empty or broken document, a summary in another format (naming it and
    the variable that selects it) and a missing figure."""
    doc = json_object(text, what="k6 summary", empty="k6 wrote no summary")
    metrics = _check_format(doc)
    reqs = _metric(metrics, "http_reqs")
    duration = _metric(metrics, "http_req_duration")
    trend = {key: _number(duration, key, "http_req_duration") for key in _TREND}
    failed = _metric(metrics, "http_req_failed")
    received = metrics.get("data_received")
    received_rate = 0.0 if received is None else _number(_metric(metrics, "data_received"), "rate", "data_received")
    hits = {pod: int(_optional_count(metrics, f"backend_hits{{pod:{pod}}}")) for pod in [*backends, UNMATCHED]}
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
        data_received_bps=received_rate * 8,
        backend_hits=hits,
        unmatched=unmatched,
        thresholds_failed=crossed,
        iterations=int(_optional_count(metrics, "iterations")),
        dropped_iterations=int(_optional_count(metrics, "dropped_iterations")),
    )


def _optional_count(metrics: dict[str, Any], name: str) -> float:
    """A counter's ``count``; 0 when k6 did not export it (it exports only metrics that got samples)."""
    metric = metrics.get(name)
    if metric is None:
        return 0.0
    if not isinstance(metric, dict):
        raise MeasurementError(f"k6 summary: {name} is not a metric")
    return _number(metric, "count", name)


def backends_in_summary(path: Path) -> list[str]:
    """The backends a k6 summary counted (``backend_hits{pod:<name>}``), without the unmatched answers; none for a
    file that is not a summary."""
    try:
        metrics = json.loads(path.read_text(encoding="utf-8", errors="replace")).get("metrics") or {}
    except (OSError, ValueError, AttributeError):
        return []
    if not isinstance(metrics, dict):
        return []
    names = [key[len("backend_hits{pod:") : -1] for key in metrics if key.startswith("backend_hits{pod:")]
    return sorted(name for name in names if name != UNMATCHED)


def version_of(output: str) -> str | None:
    """``k6 v1.1.0 (commit/..., go1.24.4, linux/amd64)`` -> ``1.1.0``."""
    parts = output.split()
    return parts[1].lstrip("v") if len(parts) > 1 and parts[0] == "k6" else None
