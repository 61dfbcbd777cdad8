"""The results store's commands: ``runs``, ``status``, ``import``, ``export``, ``report`` and ``compare``."""

from __future__ import annotations

import errno
import json
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from cnibench import runstate
from cnibench.errors import CnibenchError, ResultsError, UsageError
from cnibench.files import output_problem
from cnibench.plan import format_duration
from cnibench.progress import read_progress
from cnibench.report import document, scoreboard
from cnibench.report.document import when as _when
from cnibench.results import compare as comparison
from cnibench.results.analysis import ALPHA, environment_differences, spec_differences
from cnibench.results.compare import contest_metrics
from cnibench.results.export import export_csv, summary_csv, summary_json
from cnibench.results.model import RESULTS_FILE, RunResults, read_results
from cnibench.results.store import Store, locate_store, resolve


def observed(results: RunResults) -> RunResults:
    """A run that says "running" while its cnibench process is gone is abandoned: say so, and how to clean up."""
    seen = runstate.observed(results)
    if seen is not results:
        print(f"warning: run {results.run_id} is abandoned: {seen.error}", file=sys.stderr)
    return seen


def run_facts(results: RunResults, stored: bool) -> dict[str, Any]:
    """One run for ``runs --json``: ``run``, ``name``, ``platform``, ``status``, ``started`` (ISO 8601, UTC),
    ``duration_s``, ``cnis``, ``scenarios`` (the trials' scenarios), ``ok``/``samples``, ``outcomes`` (how many
    primary comparisons came out different, equivalent, inconclusive), ``stored``."""
    from cnibench.results.verdicts import analyse
    from cnibench.scenarios import scenario_of

    outcomes = {"different": 0, "equivalent": 0, "inconclusive": 0}
    for v in analyse(results).verdicts:
        if v.metric.primary:
            for j in v.judgements.values():
                outcomes[j.outcome] += 1
    trials = dict.fromkeys(s.scenario for s in results.samples)
    return {
        "run": results.run_id,
        "name": results.name,
        "platform": results.platform,
        "status": results.status,
        "started": iso_time(results.started_at),
        "duration_s": (results.ended_at - results.started_at) if results.ended_at else None,
        "cnis": list(dict.fromkeys(s.cni for s in results.samples)),
        "scenarios": list(dict.fromkeys(scenario_of(t).name for t in trials)),
        "ok": sum(1 for s in results.samples if s.status == "ok"),
        "samples": len(results.samples),
        "outcomes": outcomes,
        "stored": stored,
    }


def iso_time(ts: float | None) -> str | None:
    """A Unix time as ISO 8601 in UTC (``2026-12-07T11:16:25Z``); None stays None."""
    if ts is None:
        return None
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def runs(db: Path | None = None, *, as_json: bool = False) -> int:
    """The stored runs, then the run directories beside the store that are not in it (running, or killed:
    those are shown abandoned): run, name, platform, scenarios, CNIs, status, start, duration, successful
    repetitions and the primary outcomes (``2≠ 1≈ 1?``); ``as_json``: the same as JSON (:func:`run_facts`)."""
    db = locate_store(db)
    store = Store(db) if db.exists() else None
    rows = store.runs() if store is not None else []
    unstored = unstored_runs(db.parent, {r.run_id for r in rows})
    if as_json or rows or unstored:
        found = [(store.get(r.run_id)[0], True) for r in rows] if store is not None else []
        found += [(results, False) for results, _path in unstored]
        facts = [run_facts(results, stored) for results, stored in found]
        if as_json:
            print(json.dumps(facts, indent=2))
            return 0
    if not rows and not unstored:
        print(
            f"no runs stored in {db} (a run made with --results-dir DIR is stored in DIR/cnibench.db: "
            "use --db PATH or set CNIBENCH_RESULTS=DIR)"
        )
        return 0
    header = ("run", "name", "platform", "scenarios", "cnis", "status", "started", "took", "ok", "outcomes")
    body = [
        (f["run"] + ("" if f["stored"] else " *"), f["name"], f["platform"], ",".join(f["scenarios"]),
         ",".join(f["cnis"]), f["status"], _when(results.started_at),
         format_duration(f["duration_s"]) if f["duration_s"] is not None else "-", f"{f['ok']}/{f['samples']}",
         " ".join(f"{n}{sym}" for key, sym in (("different", "≠"), ("equivalent", "≈"), ("inconclusive", "?"))
                  if (n := f["outcomes"][key])) or "-")
        for f, (results, _) in zip(facts, found, strict=True)
    ]  # fmt: skip
    widths = [max(len(x) for x in col) for col in zip(header, *body, strict=True)]
    for row in (header, *body):
        print("  ".join(x.ljust(w) for x, w in zip(row, widths, strict=True)).rstrip())
    if unstored:
        print(f"* not in {db}: a run directory in {db.parent} (`cnibench status RUN_DIR` shows its progress)")
    return 0


def unstored_runs(results_dir: Path, stored: set[str]) -> list[tuple[RunResults, Path]]:
    """Run directories in ``results_dir`` whose run is not in ``stored``, as they are now (see :func:`observed`)."""
    found = []
    for path in sorted(results_dir.glob(f"*/{RESULTS_FILE}")):
        if path.parent.is_symlink() or path.parent.name in stored:  # results/latest points at a run
            continue
        try:
            results = read_results(path)
        except ResultsError:
            continue
        if results.run_id not in stored:
            found.append((observed(results), path.parent))
    return found


def status(ref: str = "latest", *, follow: bool = False, db: Path | None = None, interval: float = 1.0) -> int:
    """Where a run is, from any shell: its status (running, or abandoned when its process is gone) and, while it
    runs, the progress line it wrote last (``progress.json`` in the run directory, rewritten every second).
    ``follow`` redraws the line until the run ends."""
    results, run_dir = resolve(ref, Store(locate_store(db, [ref])))
    results = runstate.observed(results)  # the status line says what an abandoned run needs
    print(_status_line(results))
    if run_dir is None or results.status != "running":
        return 0
    tty = sys.stdout.isatty()
    shown: tuple[object, object] | None = None
    while True:
        progress = read_progress(run_dir)
        line, key = "no progress yet (the run is preparing its playbook)", None
        if progress is not None:
            age = max(time.time() - float(progress.get("updated_at", 0)), 0.0)
            line = str(progress["line"]) + (f" (as of {format_duration(age)} ago)" if age >= 3 else "")
            key = (progress.get("done"), progress.get("task"))
        if not follow:
            print(line)
            return 0
        if tty:
            sys.stdout.write("\r\033[K" + line)
            sys.stdout.flush()
        elif key != shown or progress is None:  # a pipe or a file gets a line when the run moves on, not a tick
            print(line, flush=True)
            shown = key
        time.sleep(interval)  # polls the run's own files: ends when the run does (or on Ctrl-C)
        results = runstate.observed(read_results(run_dir))
        if results.status != "running":
            if tty:
                sys.stdout.write("\r\033[K")
            print(_status_line(results))
            return 0


def _status_line(results: RunResults) -> str:
    line = f"run {results.run_id} ({results.name}, {results.platform}): {results.status}"
    if results.status == "running":
        owner = f"PID {results.owner.pid}, " if results.owner else ""
        since = format_duration(time.time() - results.started_at)
        line += f", {owner}started {_when(results.started_at)} ({since} ago)"
    else:
        ok = sum(1 for s in results.samples if s.status == "ok")
        line += f", {ok}/{max(results.planned_repetitions, len(results.samples))} repetitions ok"
        if results.ended_at and results.status != "abandoned":  # an abandoned run's end is when it was cleaned up
            line += f", took {format_duration(results.ended_at - results.started_at)}"
    return line + (f": {results.error}" if results.error else "")


def import_runs(paths: list[Path], db: Path | None = None) -> int:
    """Add run directories to the store. Every run is read and validated before the database is touched."""
    # a run's results.json names its run directory, as for every other command
    paths = [path.parent if path.name == RESULTS_FILE and path.is_file() else path for path in paths]
    loaded = [(path, read_results(path)) for path in paths]
    for path, _ in loaded:
        if not path.is_dir():
            raise ResultsError(f"{path}: not a run directory")
    db = locate_store(db, paths)
    store = Store(db)
    for path, results in loaded:
        added = store.add(results, path)
        print(f"{'added' if added else 'already stored'}: {results.run_id} ({path}) in {db}")
    return 0


def write_output(path: Path, text: str) -> None:
    """Write a file a command was asked for; a failure is one line naming the file. Raises UsageError (exit 2)
    for a path that cannot be a file here (checked first), CnibenchError for a failed write."""
    problem = output_problem(path, directory=False)
    if problem is not None:
        raise UsageError(f"-o {problem}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise write_error(exc, f"cannot write {path}: {exc.strerror or exc} (choose another file with -o)") from None


#: errno values that mean the path itself cannot be written (bad input: exit 2), not that writing failed (a full
#: disk, an I/O error: exit 1): ``-o /proc/nope/x`` (ENOENT), a read-only file system, no permission.
PATH_ERRNOS = (errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EACCES, errno.EPERM, errno.EROFS, errno.EEXIST)


def write_error(exc: OSError, message: str) -> CnibenchError:
    """The error of a failed ``-o`` write: :class:`UsageError` (exit 2) when the path cannot be written at all
    (:data:`PATH_ERRNOS`), :class:`CnibenchError` (exit 1) when the write itself failed."""
    return UsageError(message) if exc.errno in PATH_ERRNOS else CnibenchError(message)


def export(
    refs: str | list[str], *, fmt: str, output: Path | None = None, db: Path | None = None, summary: bool = False
) -> int:
    """Samples (one row per repetition) or, with ``summary``, statistics per run x CNI x scenario x metric, of
    one or several runs, as CSV or JSON."""
    refs = [refs] if isinstance(refs, str) else refs
    store = Store(locate_store(db, refs))
    runs_ = [resolve(ref, store)[0] for ref in refs]
    if summary:
        text = summary_csv(runs_) if fmt == "csv" else summary_json(runs_)
    elif fmt == "csv":
        text = export_csv(runs_)
    elif len(runs_) == 1:
        text = runs_[0].model_dump_json(indent=2) + "\n"
    else:
        text = json.dumps([r.model_dump(mode="json") for r in runs_], indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        write_output(output, text)
        print(f"wrote {output}", file=sys.stderr)
    return 0


def report(refs: list[str], *, output: Path | None = None, db: Path | None = None) -> int:
    refs = refs or ["latest"]
    store = Store(locate_store(db, refs))
    resolved = [resolve(ref, store) for ref in refs]
    first: dict[str, str] = {}
    for ref, (run, _) in zip(refs, resolved, strict=True):
        if run.run_id in first:
            raise UsageError(
                f"{first[run.run_id]} and {ref} are the same run ({run.run_id}): a report over several runs shows "
                "each CNI's change from run to run; name each run once"
            )
        first[run.run_id] = ref
    runs_ = [observed(r) for r, _ in resolved]
    given = output is not None
    if output is None:
        only_dir = resolved[0][1] if len(resolved) == 1 else None
        output = only_dir / "report.html" if only_dir is not None else Path("report.html")
    problem = output_problem(output, directory=False)
    if problem is not None:
        raise UsageError(f"-o {problem}" if given else problem)
    built = document.build(runs_, [d for _, d in resolved])
    try:
        html_path, md_path = document.write(built, output)
    except OSError as exc:
        raise write_error(
            exc, f"cannot write {output}: {exc.strerror or exc} (write the report elsewhere with -o FILE)"
        ) from None
    print(f"report: {html_path} and {md_path} ({built.seconds:.2f} s)")
    return 0


def parse_threshold(text: str) -> float:
    """``--threshold``: ``5%`` or ``0.05`` (a fraction), never a bare ``5``, which could mean either. Raises
    UsageError."""
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise UsageError(f"--threshold {text!r}: not a number; write a percentage (5%) or a fraction (0.05)") from None
    if not text.endswith("%") and value >= 1:
        raise UsageError(
            f"--threshold {text}: ambiguous; write {text}% for a percentage or a fraction below 1 (0.05 = 5%)"
        )
    if value < 0:
        raise UsageError(
            f"--threshold {text}: a threshold is the size of a change, never negative; write "
            f"{text.lstrip('-')} (compare judges each metric in its own direction: lower throughput, higher latency)"
        )
    if not 0 < value < 10:
        raise UsageError(f"--threshold {text}: must be more than 0 (and below 1000%)")
    return value


def compare(
    a: str,
    b: str | None,
    *,
    threshold: str = "5%",
    metrics: list[str] | None = None,
    all_metrics: bool = False,
    as_json: bool = False,
    db: Path | None = None,
    history: int | None = None,
    only_changed: bool = False,
) -> int:
    """Run B judged against run A as a CI gate (see :mod:`cnibench.results.compare`), or with ``history`` run A
    against the store's last ``history`` earlier runs of its name and platform: exit code 1 with one line per
    regression, 0 without; ``metrics`` (names) or ``all_metrics`` choose the gated metrics (default: each
    scenario's primary ones); ``as_json`` prints the comparison as JSON instead; ``only_changed``: the table shows
    only what changed (outcome different, or a regression). Raises UsageError."""
    fraction = parse_threshold(threshold)
    if metrics and all_metrics:
        raise UsageError("--metric and --all-metrics exclude each other: name the gated metrics or gate on all")
    if history is not None and b is not None:
        raise UsageError("--history judges one run: give RUN alone (compare RUN --history N)")
    if history is None and b is None:
        raise UsageError("compare needs two runs (compare A B), or one with --history N")
    if history is not None and not 2 <= history <= 1000:
        raise UsageError(f"--history {history}: must be 2 to 1000 earlier runs")
    known = contest_metrics()
    unknown = [name for name in metrics or () if name not in known]
    if unknown:
        raise UsageError(f"--metric {unknown[0]}: no such metric; valid: {', '.join(known)}")
    gated = tuple(known) if all_metrics else tuple(dict.fromkeys(metrics)) if metrics else None
    store = Store(locate_store(db, [a] + ([b] if b else [])))
    if history is not None:
        run_b = observed(resolve(a, store)[0])
        rows = [
            r for r in store.runs()
            if r.name == run_b.name and r.platform == run_b.platform and r.status == "complete"
            and r.started_at < run_b.started_at and r.run_id != run_b.run_id
        ]  # fmt: skip
        if len(rows) < 2:
            raise UsageError(
                f"--history {history}: the store {store.path} has {len(rows)} earlier complete run(s) of "
                f"{run_b.name} on {run_b.platform}; at least 2 are needed"
            )
        earlier = [store.get(r.run_id)[0] for r in rows[-history:]]
        result = comparison.compare_history(earlier, run_b, fraction, gated)
        run_a = earlier[-1]
    else:
        assert b is not None
        (run_a, _), (run_b, _) = resolve(a, store), resolve(b, store)
        run_a, run_b = observed(run_a), observed(run_b)
        result = comparison.compare(run_a, run_b, fraction, gated)
    notes = [f"environments differ: {d}" for d in environment_differences(run_a, run_b)]
    notes += [f"scenario settings differ: {d}" for d in spec_differences(run_a, run_b)]
    result = replace(result, notes=notes + result.notes)
    if as_json:
        print(json.dumps(result.to_json(), indent=2))
        return result.exit_code
    unit = "earlier runs' prediction interval" if history else "clusters of A against clusters of B"
    heading = (
        f"compare {result.a} (A) -> {result.b} (B): gated {', '.join(result.gated)}; the unit: {unit}; a "
        f"regression is a gated metric shown different (simultaneous {1 - ALPHA:.0%} interval, Bonferroni over "
        f"the gated tests) and worse by at least {fraction:.1%}; failures, missing repetitions and broken checks "
        "are regressions"
    )
    print("\n".join(textwrap.wrap(heading, scoreboard.width(), subsequent_indent="  ")))
    for note in dict.fromkeys(result.notes):  # each once
        print("\n".join(textwrap.wrap(f"note: {note}", scoreboard.width(), subsequent_indent="  ")))
    columns = scoreboard.width()
    for line in scoreboard.compare_table(result.changes, columns, only_changed=only_changed):
        print(line)
    for regression in result.regressions:
        print("\n".join(textwrap.wrap(f"REGRESSION: {regression.line()}", columns, subsequent_indent="  ")))
    if not result.changes and not result.regressions:
        print("nothing to compare: the runs share no CNI x scenario with results")
    print(f"{len(result.regressions)} regression(s)" if result.regressions else "no regression")
    return result.exit_code


def summary(ref: str, *, as_json: bool = False, db: Path | None = None) -> int:
    """A finished run's terminal summary again (:func:`cnibench.report.summary.format_summary`), or with
    ``as_json`` its verdicts (:meth:`cnibench.results.verdicts.RunAnalysis.objects`), one object per scenario,
    trial, contest metric and CNI compared with the reference."""
    from cnibench.report.summary import format_summary
    from cnibench.results.verdicts import analyse

    store = Store(locate_store(db, [ref]))
    results, run_dir = resolve(ref, store)
    results = observed(results)
    if as_json:
        analysis = analyse(results)
        print(json.dumps({"run": results.run_id, "reference": analysis.reference, "margin": analysis.margin,
                          "verdicts": analysis.objects()}, indent=2))  # fmt: skip
        return 0
    print(format_summary(results, str(run_dir) if run_dir else ref))
    return 0
