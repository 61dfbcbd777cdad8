"""The ingress scenario: k6 outside the cluster sends HTTP load to a LoadBalancer IP; a gateway forwards the route's
path to N echo backends spread over the workers, each answering ``Hostname: <pod>``.

Reported per repetition: request rate, latency percentiles, failures, bytes received, and how evenly the backends
were used (hits per pod, Jain's fairness index, max/min ratio). A backend that never answered counts as zero.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cnibench.errors import MeasurementError
from cnibench.results.model import IngressSample
from cnibench.results.stats import jain_fairness, max_min_ratio
from cnibench.scenarios.base import PlannedRun
from cnibench.spec import IngressSpec
from cnibench.tools import k6
from cnibench.tools.nginx import BackendRef, HTTPRoute

NAME = "ingress"
TRIALS = (NAME,)
GATEWAY_NAME = "gateway"
#: Seconds a repetition may run past k6's own duration before it is killed: k6 itself stops iterations up to 30 s
#: after the duration (gracefulStop) and lets a request take 60 s (its timeout), then writes its summary.
TIMEOUT_MARGIN = 100.0


def backend_names(count: int) -> list[str]:
    return [f"echo-{i}" for i in range(1, count + 1)]


def placement(count: int, workers: list[str]) -> list[tuple[str, str]]:
    """Backends spread over the workers round-robin (a topology spread constraint of skew 1)."""
    return [(name, workers[i % len(workers)]) for i, name in enumerate(backend_names(count))]


def route(spec: IngressSpec, backends: list[BackendRef]) -> HTTPRoute:
    assert spec.lb_ip is not None
    return HTTPRoute(
        listener_ip=str(spec.lb_ip), listener_port=spec.port, path_prefix=spec.path, backends=tuple(backends)
    )


def target_url(spec: IngressSpec) -> str:
    port = "" if spec.port == 80 else f":{spec.port}"
    return f"http://{spec.lb_ip}{port}{spec.path}"


def plan_runs(
    spec: IngressSpec,
    *,
    cni: str,
    repetitions: int,
    run_dir: Path,
    client_netns: str,
    backends: list[str],
) -> tuple[str, list[PlannedRun]]:
    """The load script and every repetition of the ingress trial for one CNI."""
    script = run_dir / "rendered" / cni / "ingress" / "load.js"
    text = k6.render_script(
        target=target_url(spec),
        backends=backends,
        vus=spec.vus,
        duration=spec.duration,
        reuse_connections=spec.reuse_connections,
        max_failed_rate=spec.max_failed_rate,
    )
    runs = []
    for rep in range(1, repetitions + 1):
        raw = run_dir / "raw" / cni / NAME
        summary = raw / f"rep-{rep:02d}.k6-summary.json"
        runs.append(
            PlannedRun(
                cni=cni,
                scenario=NAME,
                repetition=rep,
                artifact=str(summary),
                expected_seconds=spec.duration + k6.STARTUP_S,
                expect={
                    "backends": backends,
                    "gateway": spec.gateway,
                    "vus": spec.vus,
                    "reuse_connections": spec.reuse_connections,
                    "max_failed_rate": spec.max_failed_rate,
                },
                command={
                    "netns": client_netns,
                    "argv": k6.run_argv(script, summary),
                    "timeout": spec.duration + TIMEOUT_MARGIN,
                    "stdout": str(raw / f"rep-{rep:02d}.k6.log"),
                    # K6_* variables change k6's summary and thresholds: k6 runs without them
                    "unset_env": [k6.CONTROLLED_ENV_PREFIX],
                },
            )
        )
    return text, runs


def failed_requests_error(failed_rate: float, max_failed_rate: float | None) -> str | None:
    """Why a repetition failed on its failed requests (fractions 0..1), or None; without a threshold (a run
    recorded before cnibench judged it) nothing is judged."""
    if max_failed_rate is None or failed_rate <= max_failed_rate:
        return None
    return f"{failed_rate:.2%} of requests failed, above max_failed_rate {max_failed_rate:.2%}"


def make_sample(
    run: PlannedRun,
    *,
    run_dir: Path,
    started_at: float | None,
    ended_at: float | None,
    failure: str | None = None,
) -> IngressSample:
    """Parse a repetition's k6 summary. The repetition is ``failed`` when more requests failed than the spec's
    ``max_failed_rate`` allows, judged by cnibench from the summary's own ``http_req_failed`` rate (k6 exports no
    thresholds and exits 0 when ``K6_NO_THRESHOLDS`` is set), or when k6 itself failed."""
    expect = run.expect
    backends: list[str] = list(expect["backends"])
    artifact, text = run.read_artifact(run_dir)
    base: dict[str, Any] = {
        **run.common(started_at=started_at, ended_at=ended_at),
        "artifact": artifact,
        "gateway": expect["gateway"],
        "vus": expect["vus"],
        "reuse_connections": expect["reuse_connections"],
        "backends_expected": len(backends),
        "max_failed_rate": expect.get("max_failed_rate"),
    }
    try:
        result = k6.parse_summary(text, backends)
    except MeasurementError as exc:
        return IngressSample(**base, status="failed", error=failure if failure and not text.strip() else str(exc))
    hits = [result.backend_hits[pod] for pod in backends]
    error = failed_requests_error(result.failed_rate, expect.get("max_failed_rate"))
    if error is None and failure:
        error = failure
    return IngressSample(
        **base,
        status="failed" if error else "ok",
        error=error,
        requests=result.requests,
        requests_per_s=result.requests_per_s,
        latency_avg_ms=result.latency_avg_ms,
        latency_p50_ms=result.latency_p50_ms,
        latency_p90_ms=result.latency_p90_ms,
        latency_p95_ms=result.latency_p95_ms,
        latency_p99_ms=result.latency_p99_ms,
        latency_max_ms=result.latency_max_ms,
        failed_rate=result.failed_rate,
        data_received_bps=result.data_received_bps,
        backend_hits=result.backend_hits,
        backends_seen=sum(1 for h in hits if h > 0),
        unmatched_responses=result.unmatched,
        jain_fairness=jain_fairness(hits),
        max_min_ratio=max_min_ratio(hits),
    )
