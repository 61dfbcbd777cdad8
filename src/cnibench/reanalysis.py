"""Samples from raw artifacts after the fact: ``cnibench parse`` (one file) and ``cnibench reanalyze`` (a whole run).

Both go through the same sample makers a run uses (each scenario's ``make_sample`` and
:func:`cnibench.metrics.prometheus.node_metrics`), so a figure printed here is the figure a run with today's parsers
records.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnibench import __version__
from cnibench.errors import CnibenchError, ResultsError, SpecError
from cnibench.lifecycle import new_run_dir
from cnibench.metrics.prometheus import PrometheusError, node_metrics
from cnibench.orchestration.events import with_node_metrics
from cnibench.repetition import MeasureCommand, Repetition
from cnibench.results.model import RESULTS_FILE, RunResults, Sample, write_results
from cnibench.scenarios import scenario_of
from cnibench.scenarios.egress import EGRESS
from cnibench.scenarios.ingress import INGRESS
from cnibench.tools import k6

TOOLS = ("iperf3", "k6", "prometheus")
#: What a sample has that belongs to the run, not to the artifact (left out of ``parse``'s answer).
RUN_FIELDS = ("cni", "scenario", "repetition", "started_at", "ended_at")
#: What ``reanalyze`` copies from the original run directory (the raw artifacts and what describes the run).
COPIED = ("raw", "spec.yaml", "environment.json", "rendered", "logs")


def _readable(path: Path, *, directory: bool = False) -> None:
    """One clear line (exit 2) for a path that is missing, of the wrong kind or unreadable."""
    if not path.exists():
        raise SpecError(f"{path}: no such {'directory' if directory else 'file'}")
    if directory and not path.is_dir():
        raise SpecError(f"{path}: not a directory (prometheus takes a repetition's saved *.metrics directory)")
    if not directory and not path.is_file():
        raise SpecError(f"{path}: not a file")
    try:
        if directory:
            next(iter(path.iterdir()), None)
        else:
            with path.open("rb") as handle:
                handle.read(1)
    except OSError as exc:
        raise SpecError(f"{path}: cannot read: {exc.strerror}") from None


def _repetition(path: Path, trial: str, expect: dict[str, Any], *, cni: str = "-", number: int = 1) -> Repetition:
    """A repetition whose artifact is ``path``, for a sample maker (nothing is run)."""
    path = path.resolve()
    return Repetition(cni, trial, number, path, MeasureCommand(argv=(), stdout=path, timeout_s=0.0), expect=expect)


def _answer(sample: Sample) -> dict[str, Any]:
    data = sample.model_dump(mode="json")
    return {key: value for key, value in data.items() if key not in RUN_FIELDS}


def parse_artifact(
    tool: str,
    path: Path,
    *,
    protocol: str | None = None,
    expected_source_ip: str | None = None,
    backends: list[str] | None = None,
    max_failed_rate: float = 0.0,
) -> dict[str, Any]:
    """The sample fields a run would derive from one raw file: ``status``, ``error`` and the metric keys exactly
    as in ``results.json`` samples (the run's own fields, such as the CNI, are left out).

    ``tool``: ``iperf3`` (a client's ``-J --get-server-output`` output; ``expected_source_ip`` checks who the
    server saw), ``k6`` (a ``--summary-export`` file; ``backends`` default to those the summary counted), or
    ``prometheus`` (a repetition's saved ``*.metrics/`` directory). Raises :class:`SpecError` (exit 2) for an
    unknown tool or a missing or unreadable path; a broken artifact is a ``failed`` sample, not an error.
    """
    if tool not in TOOLS:
        raise SpecError(f"unknown tool {tool!r}; valid: {', '.join(TOOLS)}")
    _readable(path, directory=tool == "prometheus")
    if tool == "iperf3":
        if protocol is None:
            try:
                start = json.loads(path.read_text(encoding="utf-8", errors="replace")).get("start") or {}
                protocol = str((start.get("test_start") or {}).get("protocol", "TCP")).lower()
            except (ValueError, AttributeError):
                protocol = "tcp"
        expect: dict[str, Any] = {
            "protocol": protocol if protocol in ("tcp", "udp") else "tcp",
            "expected_source_ip": expected_source_ip,
            "egress_ip": None,
            "check_source": expected_source_ip is not None,
        }
        sample = EGRESS.make_sample(_repetition(path, EGRESS.name, expect), run_dir=path.parent, started_at=None,
                                    ended_at=None)  # fmt: skip
        return _answer(sample)
    if tool == "k6":
        names = backends if backends is not None else k6.backends_in_summary(path)
        expect = {
            "backends": names,
            "gateway": "l7",
            "vus": 0,
            "reuse_connections": True,
            "max_failed_rate": max_failed_rate,
        }
        answer = _answer(INGRESS.make_sample(_repetition(path, INGRESS.name, expect), run_dir=path.parent,
                                             started_at=None, ended_at=None))  # fmt: skip
        for unknown in ("gateway", "vus", "reuse_connections"):  # settings of the run, not in the summary
            answer.pop(unknown, None)
        return answer
    # as in a run, missing metrics never fail a repetition: they are a metrics_error beside an "ok"
    try:
        found = node_metrics(path)
    except PrometheusError as exc:
        return {"status": "ok", "error": None, "node_metrics": None, "metrics_error": f"metrics missing: {exc}"}
    return {
        "status": "ok",
        "error": None,
        "node_metrics": found.per_node,
        "metrics_error": f"metrics missing: {found.error}" if found.error else None,
        "notes": found.notes,
    }


# --------------------------------------------------------------------------------------------- reanalyze


@dataclass(frozen=True)
class Reanalysis:
    """A reanalyzed run: where it is, its record, and what changed, per figure, from the original."""

    run_dir: Path
    results: RunResults
    changes: list[str]


#: Figures whose change ``reanalyze`` lists (the rest is shown in the new run's summary and report).
COMPARED = (
    "status",
    "throughput_bps",
    "rtt_mean_us",
    "rtt_min_us",
    "rtt_max_us",
    "lost_packets",
    "lost_percent",
    "jitter_ms",
    "requests_per_s",
    "latency_p99_ms",
    "failed_rate",
)


def _remade(sample: Sample, source: RunResults, run_dir: Path) -> Sample:
    """One sample re-derived from its raw artifact (copied into ``run_dir``) with today's parsers."""
    if sample.artifact is None:
        return sample  # the tool wrote nothing: what the run recorded is all there is
    artifact = run_dir / sample.artifact
    failure = None if artifact.exists() else (sample.error or "the raw artifact is missing")
    scenario = scenario_of(sample.scenario)
    settings = (source.spec.get("scenarios") or {}).get(scenario.name) or {}
    expect = scenario.recorded_settings(sample, settings, artifact)
    run = _repetition(artifact, sample.scenario, expect, cni=sample.cni, number=sample.repetition)
    remade: Sample = scenario.make_sample(run, run_dir=run_dir, started_at=sample.started_at,
                                          ended_at=sample.ended_at, failure=failure)  # fmt: skip
    metrics_dir = artifact.parent / f"rep-{sample.repetition:02d}.metrics"
    if metrics_dir.is_dir():
        remade = with_node_metrics(remade, metrics_dir, None)
    elif sample.metrics_error is not None:
        remade = remade.model_copy(update={"metrics_error": sample.metrics_error})
    return remade


def _changes(before: Sample, after: Sample) -> list[str]:
    label = f"{before.cni} {before.scenario} rep {before.repetition}"
    out = []
    for key in COMPARED:
        old, new = getattr(before, key, None), getattr(after, key, None)
        if old != new and not (isinstance(old, float) and isinstance(new, float) and abs(old - new) <= 1e-9 * abs(old)):
            out.append(f"{label}: {key} {_shown(old)} -> {_shown(new)}")
    return out


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "null" if value is None else str(value)


def reanalyze(source: RunResults, source_dir: Path, results_dir: Path) -> Reanalysis:
    """Re-derive every sample of the run in ``source_dir`` from its raw artifacts into a new run directory under
    ``results_dir`` (a new run id; ``provenance`` says where it came from). The original is never modified.

    Raises :class:`ResultsError` when the run has not finished or its directory has no raw artifacts.
    """
    if source.status == "running":
        raise ResultsError(f"run {source.run_id} has not finished (status running): nothing to reanalyze yet")
    if not (source_dir / "raw").is_dir():
        raise ResultsError(f"{source_dir}: no raw/ directory with the run's artifacts to reanalyze")
    run_id, run_dir = new_run_dir(results_dir.resolve(), source.name)
    try:
        for name in COPIED:
            item = source_dir / name
            if item.is_dir():
                shutil.copytree(item, run_dir / name, symlinks=True)
            elif item.is_file():
                shutil.copy2(item, run_dir / name)
        samples = [_remade(sample, source, run_dir) for sample in source.samples]
    except (OSError, CnibenchError):
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    results = source.model_copy(
        update={
            "schema_version": RunResults.model_fields["schema_version"].default,
            "run_id": run_id,
            "samples": samples,
            "cnibench_version": __version__,
            "provenance": {
                "reanalyzed_from": source.run_id,
                "from_path": str(source_dir),
                "from_cnibench_version": source.cnibench_version,
                "from_schema_version": source.schema_version,
                "reanalyzed_at": time.time(),
            },
        }
    )
    results = RunResults.model_validate(results.model_dump())  # the samples as today's model reads them
    write_results(run_dir / RESULTS_FILE, results)
    changes = [line for before, after in zip(source.samples, samples, strict=True) for line in _changes(before, after)]
    return Reanalysis(run_dir=run_dir, results=results, changes=changes)
