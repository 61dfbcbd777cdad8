"""How much of a default run's wall time is measurement, and what a fresh netns cluster costs per round.

Runs the built-in default spec for real (`cnibench run`, the netns platform: 2 CNIs x the rounds, Prometheus and
node_exporter on; ``--rounds``/``--repeat`` choose the design, e.g. 6 x 1), then reads the run's own records:
- measured/wall: the sum of every repetition's measurement (its tool running, ``started_at`` to ``ended_at`` of
  each sample, warm-up included) over the run's wall time (``results.json``: ``started_at`` to ``ended_at``, from
  before anything is created to after everything is removed). Target >= 0.85 for many rounds of few repetitions.
- cluster ready: building a fresh cluster, starting its servers and waiting until Prometheus has scraped every node
  (the build step's duration: the task's as cnibench's measurement stream reports it, or, for runs before one
  module call ran every cluster, Ansible's duration of the build task). Target <= 1 s (median).
- change of cluster: from the end of the last measurement on one cluster to the start of the first on the next
  (teardown of the old one, build of the new one, metrics ready, everything in between), from the samples' own
  times. Target <= 1.5 s (median).

    sudo .venv/bin/python benchmarks/run_efficiency.py [--spec FILE] [--rounds N] [--repeat N] [--keep RESULTS_DIR]
    sudo .venv/bin/python benchmarks/run_efficiency.py --analyse RUN_DIR   # the figures of a run kept earlier

``--save-as NAME`` writes ``results/NAME.json`` instead of ``results/run_efficiency.json``.

Numbers are CPU-bound: run it on a quiet machine (the run records the background load it saw before it began).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import describe, save

from cnibench.results.model import RunResults, read_results

BUILD_TASK = "Build the netns cluster and start its servers"


def task_durations(run_dir: Path, task: str) -> list[float]:
    """The duration (s) of every successful ``task`` of the run, in order: from the measurement stream when a module
    reported the task there, else Ansible's own task durations."""
    stream = run_dir / "ansible" / "measurements.jsonl"
    records = [json.loads(line) for line in stream.read_text().splitlines()] if stream.exists() else []
    reported = [
        float(r["duration"])
        for r in records
        if r.get("event") == "task_result" and r.get("task") == task and not r.get("failed")
    ]
    if reported:
        return reported
    events = [json.loads(p.read_text()) for p in (run_dir / "ansible").glob("artifacts/*/job_events/*.json")]
    events.sort(key=lambda e: e["counter"])
    return [
        float(e["event_data"]["duration"])
        for e in events
        if e["event"] == "runner_on_ok" and e["event_data"].get("task") == task
    ]


def cluster_changes(results: RunResults) -> list[float]:
    """Seconds from the last measurement's end on one cluster to the first measurement's start on the next, for
    every change of cluster of the run (a cluster is a round's CNI; clusters in the order they ran)."""
    spans: dict[tuple[int, str], list[float]] = {}
    for s in results.samples:
        if s.started_at and s.ended_at:
            span = spans.setdefault((s.round, s.cni), [s.started_at, s.ended_at])
            span[0], span[1] = min(span[0], s.started_at), max(span[1], s.ended_at)
    ordered = sorted(spans.values())
    return [after[0] - before[1] for before, after in itertools.pairwise(ordered)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", type=Path, help="spec to run (default: the built-in default spec)")
    parser.add_argument("--rounds", type=int, help="rounds (default: the spec's or the platform's)")
    parser.add_argument("--repeat", type=int, help="repetitions of every scenario per round (default: the spec's)")
    parser.add_argument("--keep", type=Path, help="keep the run in this results directory (default: removed)")
    parser.add_argument("--analyse", type=Path, metavar="RUN_DIR", help="no run: the figures of this run's records")
    parser.add_argument("--save-as", default="run_efficiency", help="results/<NAME>.json (default: run_efficiency)")
    args = parser.parse_args()
    exit_code = None
    if args.analyse:
        run_dir = args.analyse.resolve()
        results, builds = read_results(run_dir / "results.json"), task_durations(run_dir, BUILD_TASK)
    else:
        with contextlib.nullcontext(str(args.keep)) if args.keep else tempfile.TemporaryDirectory() as tmp:
            argv = [sys.executable, "-m", "cnibench", "run", "--no-progress", "--wait", "--results-dir", tmp]
            argv += ["--rounds", str(args.rounds)] if args.rounds else []
            argv += ["--repeat", str(args.repeat)] if args.repeat else []
            exit_code = subprocess.run(argv + ([str(args.spec)] if args.spec else []), check=False).returncode
            run_dir = (Path(tmp) / "latest").resolve()
            results, builds = read_results(run_dir / "results.json"), task_durations(run_dir, BUILD_TASK)
    assert results.ended_at is not None
    wall = results.ended_at - results.started_at
    measured = sum(s.ended_at - s.started_at for s in results.samples if s.started_at and s.ended_at)
    ratio = measured / wall
    changes = cluster_changes(results)
    load = results.environment.get("background_load", {})
    report = {
        "targets": {"measured_over_wall": 0.85, "cluster_ready_median_s": 1.0, "cluster_change_median_s": 1.5},
        "run": run_dir.name,
        "design": {"rounds": max(s.round for s in results.samples), "cnis": len({s.cni for s in results.samples})},
        "exit_code": exit_code,
        "repetitions": len(results.samples),
        "ok": sum(s.status == "ok" for s in results.samples),
        "wall_s": wall,
        "measured_s": measured,
        "measured_over_wall": ratio,
        "cluster_build_s": describe(builds),
        "cluster_change_s": describe(changes),
        "background_load": load,
    }
    print(
        f"{len(results.samples)} repetitions ({report['ok']} ok) in {wall:.1f} s wall, {measured:.1f} s measured: "
        f"measured/wall {ratio:.3f} (target >= 0.85); fresh cluster with servers and metrics ready: median "
        f"{describe(builds)['median']:.2f} s, max {max(builds):.2f} s over {len(builds)} clusters (target <= 1 s); "
        f"change of cluster: median {describe(changes)['median']:.2f} s, max {max(changes):.2f} s over "
        f"{len(changes)} changes (target <= 1.5 s); background CPU load before the run {load.get('cpu_percent')} %"
    )
    print("saved", save(args.save_as, report))


if __name__ == "__main__":
    main()
