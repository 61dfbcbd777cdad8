"""Samples from raw artifacts after the fact: ``cnibench parse`` (one file) and ``cnibench reanalyze`` (a whole run).

Both go through the same sample makers a run uses (each scenario's ``make_sample`` and
:func:`cnibench.metrics.prometheus.node_metrics`), so a figure printed here is the figure a run with today's parsers
records.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cnibench import __version__
from cnibench.errors import CnibenchError, ResultsError, SpecError
from cnibench.lifecycle import new_run_dir
from cnibench.metrics.prometheus import PrometheusError, node_metrics
from cnibench.orchestration.events import with_node_metrics
from cnibench.repetition import Expectation, MeasureCommand, Repetition
from cnibench.results.model import RESULTS_FILE, RunResults, Sample, write_results
from cnibench.results.sample import SampleBase
from cnibench.scenarios import SCENARIOS, parse_tools, scenario_of
from cnibench.scenarios.base import ParseOptions, Scenario

#: ``cnibench parse prometheus``: a repetition's saved node metrics (every scenario's).
PROMETHEUS = "prometheus"
#: What a sample has that belongs to the run, not to the artifact (left out of ``parse``'s answer).
RUN_FIELDS = ("cni", "scenario", "repetition", "round", "started_at", "ended_at")
#: What ``reanalyze`` copies from the original run directory (the raw artifacts and what describes the run).
COPIED = ("raw", "spec.yaml", "environment.json", "rendered", "logs")


#: The most ``parse`` reads from a pipe or a character device (``/dev/stdin``, ``<(...)``): a raw output is far less.
MAX_STREAM_BYTES = 64 << 20


def _readable(path: Path, *, directory: bool = False) -> None:
    """One clear line (exit 2) for a path that is missing, of the wrong kind or unreadable."""
    if not path.exists():
        raise SpecError(f"{path}: no such {'directory' if directory else 'file'}")
    if directory and not path.is_dir():
        raise SpecError(f"{path}: not a directory (prometheus takes a repetition's saved *.metrics directory)")
    if not directory and path.is_dir():
        raise SpecError(f"{path}: not a file")
    if not directory and not path.is_file():
        return  # a pipe or a device (/dev/stdin, <(...)): read once, by _copied
    try:
        if directory:
            next(iter(path.iterdir()), None)
        else:
            with path.open("rb") as handle:
                handle.read(1)
    except OSError as exc:
        raise SpecError(f"{path}: cannot read: {exc.strerror}") from None


def _copied(path: Path, into: Path) -> Path:
    """``path`` itself when it is a regular file; a pipe or a device (``/dev/stdin``, process substitution ``<(...)``,
    which can be read only once) copied into the directory ``into`` first, under its own name."""
    if path.is_file():
        return path
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_STREAM_BYTES + 1)
    except OSError as exc:
        raise SpecError(f"{path}: cannot read: {exc.strerror}") from None
    if len(data) > MAX_STREAM_BYTES:
        raise SpecError(f"{path}: more than {MAX_STREAM_BYTES >> 20} MiB; a raw tool output is far smaller")
    copy = into / (path.name or "stdin")
    copy.write_bytes(data)
    return copy


def _repetition(path: Path, trial: str, expect: Expectation, *, cni: str = "-", number: int = 1) -> Repetition:
    """A repetition whose artifact is ``path``, for a sample maker (nothing is run)."""
    path = path.resolve()
    return Repetition(cni, trial, number, path, MeasureCommand(argv=(), stdout=path, timeout_s=0.0), expect=expect)


def _answer(sample: Sample) -> dict[str, Any]:
    data = sample.model_dump(mode="json")
    return {key: value for key, value in data.items() if key not in RUN_FIELDS}


def parse_artifact(tool: str, path: Path, options: ParseOptions | None = None) -> dict[str, Any]:
    """The sample fields a run would derive from one raw file: ``status``, ``error`` and the metric keys exactly
    as in ``results.json`` samples (the run's own fields, such as the CNI, are left out).

    ``tool``: a scenario's tool (:func:`~cnibench.scenarios.parse_tools`: ``iperf3``, a client's ``-J
    --get-server-output`` output; ``k6``, a ``--summary-export`` file) with ``options`` (what to check it against), or
    ``prometheus`` (a repetition's saved ``*.metrics/`` directory). Raises :class:`SpecError` (exit 2) for an
    unknown tool, a missing or unreadable path or options the file contradicts; a broken artifact is a ``failed``
    sample, not an error.
    """
    tools: dict[str, Scenario[Any, Any] | None] = {**parse_tools(), PROMETHEUS: None}
    if tool not in tools:
        raise SpecError(f"unknown tool {tool!r}; valid: {', '.join(tools)}")
    _readable(path, directory=tool == PROMETHEUS)
    if tools[tool] is None:
        return _metrics_answer(path)
    readers = [s for s in SCENARIOS.values() if s.parse_tool == tool]
    with tempfile.TemporaryDirectory(prefix="cnibench-parse-") as scratch:
        path = _copied(path, Path(scratch))
        # the first scenario that claims the file (a pcap's marker names its event), else the tool's first
        claimed = [(s, t) for s in readers if (t := s.parse_trial(path)) is not None]
        scenario, trial = claimed[0] if claimed else (readers[0], readers[0].trials[0])
        expect = scenario.parse_expectation(path, options or ParseOptions())
        sample = scenario.make_sample(_repetition(path, trial, expect), run_dir=path.parent, started_at=None,
                                      ended_at=None)  # fmt: skip
    answer = _answer(sample)
    for unknown in scenario.parse_unknown:  # settings of the run, not in the file
        answer.pop(unknown, None)
    return answer


def _metrics_answer(path: Path) -> dict[str, Any]:
    """``parse prometheus``: the node metrics of a repetition's saved ``*.metrics`` directory."""
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


#: What re-deriving one sample may raise besides a parser's MeasurementError (which already gives a failed sample):
#: an artifact that cannot be read (a directory, no permission), a figure a sample refuses (pydantic's
#: ValidationError is a ValueError). Each fails that sample, never the whole reanalysis.
SAMPLE_FAILURES = (CnibenchError, OSError, ValueError, TypeError, KeyError, AttributeError)


def _failed(sample: Sample, reason: str) -> Sample:
    """``sample`` failed with ``reason``: its run fields and settings (the model's required fields) kept, its
    figures dropped (they were the old parsers', not re-derived)."""
    model = type(sample)
    keep = {name for name, field in model.model_fields.items() if field.is_required()}
    keep |= {"round", "started_at", "ended_at", "artifact", "metrics_error"}
    data = {key: value for key, value in sample.model_dump().items() if key in keep}
    return model.model_validate({**data, "status": "failed", "error": f"reanalyze: {reason}"})


def _remade(sample: Sample, source: RunResults, run_dir: Path) -> Sample:
    """One sample re-derived from its raw artifact (copied into ``run_dir``) with today's parsers; a sample that
    cannot be (see :data:`SAMPLE_FAILURES`) is failed with the reason, and the others go on."""
    try:
        return _remake(sample, source, run_dir)
    except SAMPLE_FAILURES as exc:
        return _failed(sample, _reason(sample, exc))


def _reason(sample: Sample, exc: Exception) -> str:
    """One line: what went wrong re-deriving ``sample``."""
    if isinstance(exc, OSError):
        return f"{sample.artifact}: cannot read: {exc.strerror or exc}"
    if isinstance(exc, ValidationError):
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"{sample.artifact}: {where}: {first['msg']}" if where else f"{sample.artifact}: {first['msg']}"
    text = str(exc).splitlines()
    return f"{sample.artifact}: {text[0] if text else type(exc).__name__}"


def _remake(sample: Sample, source: RunResults, run_dir: Path) -> Sample:
    if sample.artifact is None:
        return sample  # the tool wrote nothing: what the run recorded is all there is
    artifact = run_dir / sample.artifact
    failure = None if artifact.exists() else (sample.error or "the raw artifact is missing")
    scenario = scenario_of(sample.scenario)
    settings = (source.spec.get("scenarios") or {}).get(scenario.name) or {}
    expect = scenario.recorded_expectation(sample, settings, artifact)
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
    """What re-deriving changed: the status and every figure of the scenario's own sample model (the fields it adds
    to :class:`~cnibench.results.sample.SampleBase` that hold one number, word or flag)."""
    label = f"{before.cni} {before.scenario} rep {before.repetition}"
    own = [name for name in type(after).model_fields if name not in SampleBase.model_fields]
    out = []
    for key in ("status", *own):
        old, new = getattr(before, key, None), getattr(after, key, None)
        if isinstance(old, list | dict) or isinstance(new, list | dict):
            continue
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
    ingested = sorted({s.scenario for s in source.samples if not scenario_of(s.scenario).runnable})
    if ingested:
        raise ResultsError(
            f"run {source.run_id} was ingested (trials {', '.join(ingested[:3])}): run `cnibench ingest` on its "
            "manifest again (raw/ holds a copy) to read its files with this cnibench"
        )
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
