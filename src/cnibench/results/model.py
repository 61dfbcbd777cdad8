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
* 7 — samples say their round.
* 8 — fixed loads (``load: rate``): trials named ``<trial>@<rate>`` (``egress@500M``), and on egress and ingress
  samples ``load``, ``offered_rate``, ``achieved_fraction``, ``sustained``, ``cpu_cost`` (CPU per unit of work
  against an idle baseline), ``cpu_s_per_gbit`` (egress), ``cpu_s_per_1k_requests`` and ``dropped_iterations``
  (ingress). Samples are told apart by the scenario their trial belongs to.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, PlainValidator, SerializeAsAny, ValidationError
from pydantic_core import PydanticCustomError

from cnibench.errors import ResultsError
from cnibench.files import atomic_write_text
from cnibench.results.sample import Record, SampleBase
from cnibench.scenarios import SCENARIOS, scenario_of

SCHEMA_VERSION = 8
SCHEMA_CHANGES: dict[int, str] = {
    1: "first version: run metadata, resolved spec, environment, egress and egress-baseline samples",
    2: "ingress samples; planned_repetitions",
    3: "node_metrics and metrics_error on samples when metrics are enabled",
    4: "egress_apply_s on egress samples; Kubernetes cluster facts (detected CNI, its version, nodes)",
    5: "UDP loss/jitter/intervals from the receiver; TCP RTT over the measured intervals (null: not measured); "
    "re-timed intervals; client_cpu_percent/server_cpu_percent; max_failed_rate on ingress samples; notes on "
    "samples; provenance of reanalyzed runs; finite node metrics only",
    6: "owner (PID, start time and host of the run's cnibench process); status abandoned (that process is gone)",
    7: "samples say their round (spec.rounds: every CNI once per round on a fresh cluster; earlier runs: 1)",
    8: "east-west samples (path, placement, InfraBuilder code, client and server node and addresses, verified); "
    "fixed loads: trials <trial>@<rate>; load, offered_rate, achieved_fraction, sustained, cpu_cost, "
    "cpu_s_per_gbit, cpu_s_per_1k_requests, dropped_iterations",
}
RESULTS_FILE = "results.json"


def _known_trials() -> str:
    """The trials this cnibench reads, for the error about a sample of an unknown one."""
    return ", ".join(
        ", ".join(scenario.trials)
        if len(scenario.trials) <= 3
        else f"{scenario.name}'s trials ({scenario.trials[0]}, ...)"
        for scenario in SCENARIOS.values()
        if scenario.trials  # ingested trials are free text (<tool>:<text>)
    )


def _scenario_sample(value: Any) -> SampleBase:
    """A sample (a dict being read, or a model) as its scenario's own sample model, found through the registry when
    it is read (so a scenario registered after this module was imported is read too): the scenario whose trial it
    is (``scenario``: ``egress-baseline``, ``egress@500M``). Raises pydantic's ``unknown_scenario`` error for a trial
    no scenario has, and the sample model's errors (their locations under the sample's index)."""
    trial = value.get("scenario") if isinstance(value, dict) else getattr(value, "scenario", None)
    try:
        model = scenario_of(str(trial)).sample_model_of(str(trial))
    except KeyError:
        raise PydanticCustomError(
            "unknown_scenario",
            "unknown scenario (this cnibench knows {known}, each also as <trial>@<rate>; a results file of a newer "
            "cnibench?)",
            {"known": _known_trials()},
        ) from None
    return value if isinstance(value, model) else model.model_validate(value)


if TYPE_CHECKING:
    Sample = SampleBase
else:
    #: A sample of any scenario: its scenario's own sample model (written with all of that model's fields).
    Sample = Annotated[SerializeAsAny[SampleBase], PlainValidator(_scenario_sample)]
#: ``abandoned``: the run's cnibench process died (SIGKILL, a crash, a reboot) before it could finish the run.
RunStatus = Literal["running", "complete", "failed", "interrupted", "abandoned"]
#: The schema version that brought ``abandoned`` (older files say ``interrupted`` for a run cleaned up after it).
ABANDONED_SINCE = 6


class Owner(Record):
    """The process that runs (ran) a run: a PID names one process only together with its start time."""

    pid: int = Field(gt=0)
    started_at: float = Field(description="Unix time the process started (psutil's create_time).")
    host: str = Field(description="The machine's host name: a PID means nothing on another one.")


class RunResults(Record):
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
        if first["type"] == "unknown_scenario":  # name the value, not pydantic's "tag" words
            found = first["input"].get("scenario") if isinstance(first["input"], dict) else None
            loc, first["msg"] = f"{loc}.scenario", f"{found!r}: {first['msg']}"
        raise ResultsError(f"{path}: {loc}: {first['msg']}") from None
