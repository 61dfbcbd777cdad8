"""How much of a default run's wall time is measurement, and what a fresh netns cluster costs per round.

Runs the built-in default spec for real (`cnibench run`, the netns platform: 2 CNIs x 2 rounds, Prometheus and
node_exporter on), then reads the run's own records:
- measured/wall: the sum of every repetition's measurement (its tool running, ``started_at`` to ``ended_at`` of
  each sample, warm-up included) over the run's wall time (``results.json``: ``started_at`` to ``ended_at``, from
  before anything is created to after everything is removed). Target >= 0.90.
- per cluster: the playbook task that builds a fresh cluster, starts its servers and waits until Prometheus has
  scraped every node (Ansible's own task duration). Target <= 2 s.

    sudo .venv/bin/python benchmarks/run_efficiency.py [--spec FILE] [--keep RESULTS_DIR]

Numbers are CPU-bound: run it on a quiet machine (the run records the background load it saw before it began).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import describe, save

from cnibench.results.model import read_results

BUILD_TASK = "Build the netns cluster and start its servers"


def task_durations(run_dir: Path, task: str) -> list[float]:
    """Ansible's duration (s) of every successful ``task`` of the run, in order."""
    events = [json.loads(p.read_text()) for p in (run_dir / "ansible").glob("artifacts/*/job_events/*.json")]
    events.sort(key=lambda e: e["counter"])
    return [
        float(e["event_data"]["duration"])
        for e in events
        if e["event"] == "runner_on_ok" and e["event_data"].get("task") == task
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", type=Path, help="spec to run (default: the built-in default spec)")
    parser.add_argument("--keep", type=Path, help="keep the run in this results directory (default: removed)")
    args = parser.parse_args()
    with contextlib.nullcontext(str(args.keep)) if args.keep else tempfile.TemporaryDirectory() as tmp:
        argv = [sys.executable, "-m", "cnibench", "run", "--no-progress", "--wait", "--results-dir", tmp]
        done = subprocess.run(argv + ([str(args.spec)] if args.spec else []), check=False)
        run_dir = (Path(tmp) / "latest").resolve()
        results = read_results(run_dir / "results.json")
        builds = task_durations(run_dir, BUILD_TASK)
    assert results.ended_at is not None
    wall = results.ended_at - results.started_at
    measured = sum(s.ended_at - s.started_at for s in results.samples if s.started_at and s.ended_at)
    ratio = measured / wall
    load = results.environment.get("background_load", {})
    report = {
        "targets": {"measured_over_wall": 0.90, "cluster_build_s": 2.0},
        "exit_code": done.returncode,
        "repetitions": len(results.samples),
        "ok": sum(s.status == "ok" for s in results.samples),
        "wall_s": wall,
        "measured_s": measured,
        "measured_over_wall": ratio,
        "cluster_build_s": describe(builds),
        "background_load": load,
    }
    print(
        f"{len(results.samples)} repetitions ({report['ok']} ok) in {wall:.1f} s wall, {measured:.1f} s measured: "
        f"measured/wall {ratio:.3f} (target >= 0.90); fresh cluster with servers and metrics: median "
        f"{describe(builds)['median']:.2f} s, max {max(builds):.2f} s over {len(builds)} clusters (target <= 2 s); "
        f"background CPU load before the run {load.get('cpu_percent')} %"
    )
    print("saved", save("run_efficiency", report))


if __name__ == "__main__":
    main()
