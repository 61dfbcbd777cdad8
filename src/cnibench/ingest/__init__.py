"""``cnibench ingest``: a run built from raw iperf3 and k6 outputs that cnibench did not run, listed in a manifest
(:mod:`cnibench.ingest.manifest`), so that cnibench's parsers, statistics, report and store judge them as they judge
its own runs.

The run is an ordinary one: ``results.json`` (platform ``ingest``), ``raw/`` holding a copy of every input file (and
the manifest), ``report.html`` and ``report.md``, a row in the store; ``summary``, ``report``, ``compare`` and
``export`` read it unchanged. Verdicts are :mod:`cnibench.results.verdicts`' own: the round (the manifest's
``round``, a fresh cluster) is the experimental unit, the reference is ``--reference`` or the first CNI of the
manifest.

Everything is read and checked before anything is written: a bad manifest or file is one line and exit code 2, with
no run directory and no row in the store. What the files cannot give stays unknown and says so (the run's
``environment["measured"]`` lines, shown by ``summary`` and the report): no node metrics, so no CPU cost; the
environment is only what iperf3 wrote into its files (``system_info``, version, start times), marked as from the
files; a source address is verified only where a row gives ``expected_source``.
"""

from __future__ import annotations

import re
import shutil
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cnibench import __version__
from cnibench.ingest.manifest import ManifestError, Row, read_manifest
from cnibench.ingest.samples import Ingested, sample_of
from cnibench.lifecycle import new_run_dir, point_latest
from cnibench.results.model import RESULTS_FILE, RunResults, write_results
from cnibench.scenarios.ingested import tool_of

PLATFORM = "ingest"
#: What an ingested run cannot know, shown with its numbers (``environment["measured"]``).
UNKNOWNS = (
    "ingested: measurements cnibench did not run, read from the files a manifest lists; the clusters, their "
    "order and what ran beside them are the campaign's, not cnibench's",
    "no node metrics in the files: CPU use and CPU cost per unit of work are unknown",
    "environment: only what the tools wrote into their files (iperf3's system_info, version and start time), "
    "marked 'from the files'; kernel, CPU, MTU and CNI versions are otherwise unknown",
    "source addresses verified only where the manifest gives expected_source (and the server's JSON is there)",
)
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class IngestOutcome:
    run_dir: Path
    results: RunResults


def safe_name(text: str) -> str:
    """A file name made of ``text`` (letters, digits, ``.``, ``_``, ``-``; the rest as ``_``)."""
    return _SAFE.sub("_", text).strip("._") or "_"


def run_name(name: str | None, manifest: Path) -> str:
    """``--name`` (a DNS-1123 label, as a spec's name) or one made of the manifest's directory name. Raises
    :class:`ManifestError`."""
    from cnibench.spec.base import dns_label

    if name is None:
        stem = manifest.resolve().parent.name or manifest.stem
        name = ("ingest-" + re.sub(r"[^a-z0-9-]+", "-", stem.lower())).strip("-")[:63].rstrip("-")
    try:
        return dns_label(name)
    except ValueError as exc:
        raise ManifestError(f"--name {name!r}: {exc}") from None


def _numbered(made: list[Ingested]) -> list[Ingested]:
    """Repetition numbers per CNI x trial across rounds (1..n by round, then the row's repetition or order), as a
    cnibench run numbers them; two rows that name the same cluster's same repetition are refused."""
    seen: dict[tuple[str, str, int, int], int] = {}
    for item in made:
        if item.row.repetition is not None:
            key = (item.sample.cni, item.sample.scenario, item.row.round, item.row.repetition)
            if key in seen:
                raise ManifestError(
                    f"line {item.row.line}, column trial: {item.row.trial} is the same trial as line {seen[key]} "
                    f"({item.sample.scenario}) with the same cni, round and repetition"
                )
            seen[key] = item.row.line
    order = sorted(made, key=lambda i: (i.row.round, i.row.repetition or 0, i.row.line))
    counter: Counter[tuple[str, str]] = Counter()
    numbers: dict[int, int] = {}
    for item in order:
        counter[(item.sample.cni, item.sample.scenario)] += 1
        numbers[item.row.line] = counter[(item.sample.cni, item.sample.scenario)]
    return [replace(i, sample=i.sample.model_copy(update={"repetition": numbers[i.row.line]})) for i in made]


def _environment(made: list[Ingested]) -> dict[str, Any]:
    versions = sorted({i.facts.version for i in made if i.facts.version})
    systems = sorted({i.facts.system_info for i in made if i.facts.system_info})
    tools: dict[str, str] = {}
    if versions:
        tools["iperf3"] = ", ".join(versions) + " (from the files)"
    if any(i.row.tool == "k6" for i in made):
        tools["k6"] = "unknown (a k6 summary does not say)"
    kernels = sorted({" ".join(s.split()[:3]) for s in systems})
    return {
        "source": "ingest",
        "kernel": (", ".join(kernels) + " (from the files)") if kernels else "unknown",
        "cpu_model": "unknown",
        "cpu_count": "unknown",
        "memory_bytes": "unknown",
        "cnibench": __version__,
        "tools": tools,
        "from_files": {"iperf3_system_info": systems, "iperf3_versions": versions},
        "clusters": {},
        "measured": list(UNKNOWNS),
    }


def _copy(item: Ingested, run_dir: Path, base: Path) -> Ingested:
    row: Row = item.row
    sample = item.sample
    trial_dir = run_dir / "raw" / safe_name(sample.cni) / safe_name(sample.scenario)
    trial_dir.mkdir(parents=True, exist_ok=True)
    stem = f"r{row.round:02d}-rep-{sample.repetition:02d}"
    target = trial_dir / f"{stem}.{row.tool}.json"
    shutil.copyfile(row.file, target)
    notes = list(sample.notes)
    shown = row.file.relative_to(base) if row.file.is_relative_to(base) else row.file
    notes.insert(0, f"ingested from {shown} (manifest line {row.line}, round {row.round})")
    if row.server_file is not None:
        server_copy = trial_dir / f"{stem}.iperf3-server.json"
        shutil.copyfile(row.server_file, server_copy)
        notes.insert(1, f"server JSON from {row.server_file.name} (copied to {server_copy.relative_to(run_dir)})")
    update = {"artifact": str(target.relative_to(run_dir)), "notes": notes}
    return replace(item, sample=sample.model_copy(update=update))


def ingest(
    manifest: Path, results_dir: Path, *, name: str | None = None, reference: str | None = None
) -> IngestOutcome:
    """Read ``manifest`` and the files it lists, then write the run under ``results_dir`` (a new run directory,
    ``latest`` pointed at it). Raises :class:`ManifestError` (exit 2, nothing written) for a bad manifest, a file
    that is not its tool's output, an unknown ``--reference`` or a bad ``--name``; ``OSError`` if writing fails."""
    rows = read_manifest(manifest)
    run_label = run_name(name, manifest)
    cnis = list(dict.fromkeys(r.cni for r in rows))
    if reference is not None and reference not in cnis:
        raise ManifestError(f"--reference {reference!r}: no row has this cni; the manifest's: {', '.join(cnis)}")
    made = _numbered([sample_of(row) for row in rows])  # every file read and judged before anything is written
    started = [i.facts.started_at for i in made if i.facts.started_at is not None]
    ended = [i.facts.ended_at for i in made if i.facts.ended_at is not None]
    now = time.time()
    run_id, run_dir = new_run_dir(results_dir.resolve(), run_label)
    base = manifest.resolve().parent
    (run_dir / "raw").mkdir()
    shutil.copyfile(manifest, run_dir / "raw" / "manifest.csv")
    copied = [_copy(item, run_dir, base) for item in made]
    trials = sorted({i.sample.scenario for i in copied})
    results = RunResults(
        run_id=run_id,
        name=run_label,
        platform=PLATFORM,
        status="complete",
        started_at=min(started) if started else now,
        ended_at=max(ended) if ended else now,
        cnibench_version=__version__,
        planned_repetitions=len(copied),
        spec={
            "version": 1,
            "name": run_label,
            "platform": PLATFORM,
            "cnis": cnis,
            "reference": reference or cnis[0],
            "rounds": max(r.round for r in rows),
            "scenarios": {},
            "ingested": {"manifest": str(manifest), "rows": len(rows), "trials": trials},
        },
        environment=_environment(made),
        samples=[i.sample for i in copied],
        provenance={
            "kind": "ingest",
            "manifest": str(manifest.resolve()),
            "ingested_at": now,
            "cnibench_version": __version__,
            "tools": sorted({tool_of(t) or "iperf3" for t in trials}),
        },
    )
    write_results(run_dir / RESULTS_FILE, results)
    point_latest(results_dir.resolve(), run_id)
    return IngestOutcome(run_dir, results)
