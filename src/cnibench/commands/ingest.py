"""``cnibench ingest``: a run from another campaign's iperf3 and k6 outputs (:mod:`cnibench.ingest`), stored and
reported like any run."""

from __future__ import annotations

from pathlib import Path

from cnibench.commands.run import store_and_report
from cnibench.report.summary import format_summary
from cnibench.results.store import locate_store
from cnibench.results.store import results_dir as default_results_dir


def ingest(
    manifest: Path,
    *,
    output: Path | None = None,
    name: str | None = None,
    reference: str | None = None,
    db: Path | None = None,
) -> int:
    """Ingest ``manifest`` into a new run under ``output`` (default: the results directory), add it to the store,
    write its report and print its summary. Exit code 0; a bad manifest raises
    :class:`~cnibench.ingest.manifest.ManifestError` (exit 2) before anything is written."""
    from cnibench.ingest import ingest as build

    results_dir = output or default_results_dir()
    store = locate_store(db, results=results_dir)
    done = build(manifest, results_dir, name=name, reference=reference)
    print(f"ingested {len(done.results.samples)} file(s) from {manifest} into {done.results.run_id}")
    print(format_summary(done.results, str(done.run_dir)))
    for line in store_and_report(done.run_dir, done.results, store):
        print(line)
    return 0
