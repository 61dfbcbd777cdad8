"""``cnibench parse`` and ``reanalyze``: samples from raw artifacts after the fact."""

from __future__ import annotations

import json
from pathlib import Path

from cnibench.commands.run import store_and_report
from cnibench.errors import ResultsError, UsageError
from cnibench.files import output_problem
from cnibench.report.summary import format_summary
from cnibench.results.store import Store, locate_store, resolve


def parse(
    tool: str,
    path: Path,
    *,
    protocol: str | None = None,
    expected_source_ip: str | None = None,
    backends: list[str] | None = None,
    max_failed_rate: float = 0.0,
) -> int:
    """Print the sample one raw file gives (JSON); exit 0 whether it is ok or failed."""
    from cnibench.reanalysis import parse_artifact
    from cnibench.scenarios.base import ParseOptions

    options = ParseOptions(protocol, expected_source_ip, backends, max_failed_rate)
    answer = parse_artifact(tool, path, options)
    print(json.dumps(answer, indent=2))
    return 0


def reanalyze(ref: str, output: Path, *, db: Path | None = None) -> int:
    """A stored run, re-derived from its raw artifacts into a new run under ``output``; prints what changed."""
    from cnibench.reanalysis import reanalyze as remake

    problem = output_problem(output, directory=True)
    if problem is not None:
        raise UsageError(f"-o {problem}")
    store = Store(locate_store(db, [ref]))
    source, source_dir = resolve(ref, store)
    if source_dir is None:
        raise ResultsError(f"{ref}: the store does not know this run's directory (its raw artifacts are needed)")
    done = remake(source, source_dir, output)
    print(f"reanalyzed {source.run_id} (cnibench {source.cnibench_version}) into {done.results.run_id}")
    for line in done.changes or ["no figure changed"]:
        print(f"  {line}")
    print(format_summary(done.results, str(done.run_dir)))
    for line in store_and_report(done.run_dir, done.results, locate_store(db, results=output)):
        print(line)
    return 0
