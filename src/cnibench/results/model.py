"""``results.json``: a versioned, immutable record of one run (``schema_version`` + samples).

Schema history (readers refuse versions they do not know):

* 1 — first version: run metadata, resolved spec, environment, and ``egress`` / ``egress-baseline`` samples.
* 2 — ``ingress`` samples (k6 through the LoadBalancer IP and the gateway); ``planned_repetitions``.
* 3 — ``node_metrics`` / ``metrics_error`` on samples of runs with metrics enabled.
* 4 — ``egress_apply_s`` on egress samples (Kubernetes: seconds from applying the egress policy until the external
  server saw the egress IP); ``cluster`` facts of the Kubernetes platforms (detected CNI and version, nodes).
* 5 — figures true to what the tools measured: UDP loss, jitter and ``intervals_bps`` from the receiver (the
  server's own JSON); TCP RTT over the measured intervals only (null when not measured); mis-timed intervals
  re-timed; ``client_cpu_percent`` / ``server_cpu_percent`` (iperf3); ``max_failed_rate`` on ingress samples
  (cnibench judges the failed rate itself); ``notes`` on every sample (what a parser corrected or left out);
  ``provenance`` on runs made by ``cnibench reanalyze``. Node metrics never hold a value that is not a finite number.
* 6 — ``owner`` (the cnibench process running the run: PID, start time, host) and the status ``abandoned``: the
  run's process is gone without finishing it (``cnibench clean`` records it when it removes what the run left).
  Files of versions 1-5 have no ``owner``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
)

from cnibench.errors import ResultsError
from cnibench.files import atomic_write_text

SCHEMA_VERSION = 6
SCHEMA_CHANGES: dict[int, str] = {
    1: "first version: run metadata, resolved spec, environment, egress and egress-baseline samples",
    2: "ingress samples; planned_repetitions",
    3: "node_metrics and metrics_error on samples when metrics are enabled",
    4: "egress_apply_s on egress samples; Kubernetes cluster facts (detected CNI, its version, nodes)",
    5: "UDP loss/jitter/intervals from the receiver; TCP RTT over the measured intervals (null: not measured); "
    "re-timed intervals; client_cpu_percent/server_cpu_percent; max_failed_rate on ingress samples; notes on "
    "samples; provenance of reanalyzed runs; finite node metrics only",
    6: "owner (PID, start time and host of the run's cnibench process); status abandoned (that process is gone)",
}
RESULTS_FILE = "results.json"

Status = Literal["ok", "failed"]
#: ``abandoned``: the run's cnibench process died (SIGKILL, a crash, a reboot) before it could finish the run.
RunStatus = Literal["running", "complete", "failed", "interrupted", "abandoned"]
#: The schema version that brought ``abandoned`` (older files say ``interrupted`` for a run cleaned up after it).
ABANDONED_SINCE = 6


class _Record(BaseModel):
    # no NaN or infinity in a record: pydantic would write them as null, which a float field cannot read back
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class SampleBase(_Record):
    """What every sample has, whatever the scenario: a failed repetition is kept with its reason."""

    cni: str
    scenario: str
    repetition: int = Field(ge=1)
    status: Status
    error: str | None = None
    started_at: float | None = Field(None, description="Unix time the measurement started.")
    ended_at: float | None = None
    artifact: str | None = Field(None, description="Raw tool output, relative to the run directory.")
    node_metrics: dict[str, dict[str, float]] | None = Field(
        None,
        description="Per node: <query>_avg and <query>_max over the measurement window (metrics enabled only).",
    )
    metrics_error: str | None = Field(
        None, description="Why node_metrics (or some of its queries) is missing (metrics enabled only)."
    )
    notes: list[str] = Field(
        default_factory=list,
        description="What the parsers corrected or left out, and why (a mis-timed iperf3 interval, Prometheus "
        "points that were not finite numbers, a series without a node label).",
    )

    @field_validator("node_metrics", mode="before")
    @classmethod
    def _finite_node_metrics(cls, value: Any) -> Any:
        """Only finite figures: cnibench <= schema 4 wrote a non-finite average as null, which must stay readable."""
        if not isinstance(value, dict):
            return value
        return {
            node: {
                name: figure
                for name, figure in (figures or {}).items()
                if isinstance(figure, int | float) and not isinstance(figure, bool) and math.isfinite(figure)
            }
            for node, figures in value.items()
        }

    @model_serializer(mode="wrap")
    def _leave_out_metrics_when_disabled(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("node_metrics") is None and data.get("metrics_error") is None:
            data.pop("node_metrics", None)
            data.pop("metrics_error", None)
        return data


class EgressSample(SampleBase):
    """One iperf3 run from the client pod to the external server (with or without the egress policy)."""

    scenario: Literal["egress", "egress-baseline"]
    protocol: Literal["tcp", "udp"]
    throughput_bps: float | None = None
    sender_bps: float | None = None
    retransmits: int | None = None
    rtt_mean_us: float | None = None
    rtt_min_us: float | None = None
    rtt_max_us: float | None = None
    jitter_ms: float | None = None
    lost_packets: int | None = None
    lost_percent: float | None = None
    intervals_bps: list[float] = Field(
        default_factory=list,
        description="The receiver's bit/s per reporting interval (the server's own intervals), warm-up left out.",
    )
    client_cpu_percent: float | None = Field(
        None, description="iperf3 client process: CPU time over wall time, % of one core (cpu_utilization_percent)."
    )
    server_cpu_percent: float | None = Field(None, description="iperf3 server process, % of one core.")
    source_ip_seen: str | None = None
    expected_source_ip: str | None = Field(
        None, description="The egress IP with the policy; the client's node IP (masquerade) without it."
    )
    source_ip_ok: bool | None = None
    egress_ip: str | None = None
    egress_ip_ok: bool | None = Field(None, description="The server saw the egress IP (egress scenario only).")
    egress_apply_s: float | None = Field(
        None,
        description="Kubernetes: seconds from applying the egress policy until the server saw the egress IP "
        "(the same for every repetition of a trial: the policy is applied once per trial).",
    )


class IngressSample(SampleBase):
    """One k6 run from outside the cluster through the LoadBalancer IP and the gateway to the echo backends."""

    scenario: Literal["ingress"]
    gateway: Literal["l7", "l4"]
    vus: int
    reuse_connections: bool
    requests: int | None = None
    requests_per_s: float | None = None
    latency_avg_ms: float | None = None
    latency_p50_ms: float | None = None
    latency_p90_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    latency_max_ms: float | None = None
    failed_rate: float | None = Field(None, description="Fraction of requests that failed (0..1).")
    max_failed_rate: float | None = Field(
        None, description="The spec's threshold: the repetition failed when failed_rate is above it (fraction)."
    )
    data_received_bps: float | None = Field(None, description="Bits per second received by k6.")
    backend_hits: dict[str, int] = Field(default_factory=dict, description="Pod -> answers; 0 if it never answered.")
    backends_expected: int
    backends_seen: int | None = None
    unmatched_responses: int | None = Field(None, description="Answers without a Hostname line.")
    jain_fairness: float | None = Field(None, description="Jain's index of backend_hits: 1.0 = perfectly even.")
    max_min_ratio: float | None = Field(None, description="Most / least used backend; null when one got none.")


Sample = Annotated[EgressSample | IngressSample, Field(discriminator="scenario")]


class Owner(_Record):
    """The process that runs (ran) a run: a PID names one process only together with its start time."""

    pid: int = Field(gt=0)
    started_at: float = Field(description="Unix time the process started (psutil's create_time).")
    host: str = Field(description="The machine's host name: a PID means nothing on another one.")


class RunResults(_Record):
    schema_version: int = SCHEMA_VERSION
    run_id: str
    name: str
    platform: str
    status: RunStatus
    error: str | None = None
    started_at: float
    ended_at: float | None = None
    cnibench_version: str
    planned_repetitions: int = Field(0, description="Repetitions the plan had; fewer samples: some did not run.")
    owner: Owner | None = Field(None, description="The cnibench process of the run (schema 6 and later).")
    spec: dict[str, Any]
    environment: dict[str, Any]
    samples: list[Sample] = Field(default_factory=list)
    provenance: dict[str, Any] | None = Field(
        None,
        description="cnibench reanalyze: the run the samples were re-derived from, its cnibench version, when.",
    )


def write_results(path: Path, results: RunResults) -> None:
    """Write atomically: a reader (or a crash) sees the old file or the new one, never half of one."""
    atomic_write_text(path, results.model_dump_json(indent=2) + "\n")


def read_results(path: Path) -> RunResults:
    """Read a run's results; a run directory may be given for its ``results.json``."""
    if path.is_dir():
        path = path / RESULTS_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such results file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path}: cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(raw, dict):
        raise ResultsError(f"{path}: not a results object")
    version = raw.get("schema_version")
    if version not in SCHEMA_CHANGES:
        known = ", ".join(str(v) for v in SCHEMA_CHANGES)
        raise ResultsError(f"{path}: unknown schema_version {version!r} (this cnibench reads {known})")
    try:
        return RunResults.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ResultsError(f"{path}: {loc}: {first['msg']}") from None
