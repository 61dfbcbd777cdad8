"""``cnibench run``: a benchmark, its summary, its place in the store and its report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from cnibench import lifecycle
from cnibench.errors import CnibenchError
from cnibench.plan import make_plan
from cnibench.platforms import get_platform
from cnibench.report import document
from cnibench.report.summary import format_summary
from cnibench.results.model import RunResults
from cnibench.results.store import Store, locate_store, record_store
from cnibench.results.store import results_dir as default_results_dir
from cnibench.spec import load_spec


def run(
    spec_path: Path | None,
    *,
    repeat: int | None = None,
    duration: int | None = None,
    rounds: int | None = None,
    results_dir: Path | None = None,
    progress: bool | None = None,
    only: list[str] | None = None,
    db: Path | None = None,
    keep: bool = False,
    wait: bool = False,
    yes: bool = False,
    stdin: Any = None,
) -> int:
    """Run a benchmark and print its summary; the exit code says how it went (:class:`lifecycle.Outcome`)."""
    spec, _source = load_spec(spec_path, repetitions=repeat, duration=duration, rounds=rounds)
    plan = make_plan(spec, only)
    results_dir = results_dir or default_results_dir()
    db = locate_store(db, results=results_dir)
    platform = get_platform(spec.platform, keep=keep)
    lifecycle.require(type(platform), spec)  # before asking anything
    if not platform.confirm(spec, plan, yes=yes, stdin=stdin if stdin is not None else sys.stdin, out=sys.stdout):
        print("not confirmed: nothing was created", file=sys.stderr)
        return 2
    for warning in plan.warnings():  # before minutes are spent on it
        print(f"warning: {warning}", file=sys.stderr)
    outcome = lifecycle.execute(
        spec,
        plan,
        results_dir=results_dir,
        progress=progress,
        keep=keep,
        wait=wait,
        on_wait=_waiting,
        after=lambda run_dir, results: store_and_report(run_dir, results, db),  # under the machine's run lock
    )
    print(format_summary(outcome.results, str(outcome.run_dir)))
    for line in outcome.after:
        print(line)
    for note in outcome.notes:
        print(note)
    return outcome.exit_code


def _waiting(holder: str) -> None:
    print(f"waiting: another cnibench run is measuring on this machine: {holder}", file=sys.stderr, flush=True)


def store_and_report(outcome_dir: Path, results: RunResults, db: Path) -> list[str]:
    """After a run: add it to the results store and write its report. Problems here are reported, not fatal:
    the run's own results are already safe on disk."""
    lines = []
    try:
        record_store(outcome_dir, db)  # later commands given this run directory find the store through it
        Store(db).add(results, outcome_dir)
        lines.append(f"stored in {db}")
    except CnibenchError as exc:
        lines.append(f"warning: not stored in {db}: {exc}")
    except OSError as exc:
        lines.append(f"warning: not stored in {db}: {exc.strerror or exc}")
    try:
        built = document.build([results], [outcome_dir])
        html_path, md_path = document.write(built, outcome_dir / "report.html")
        lines.append(f"report: {html_path} (and {md_path.name})")
    except (CnibenchError, OSError, ValueError) as exc:
        lines.append(f"warning: no report: {exc}")
    return lines
