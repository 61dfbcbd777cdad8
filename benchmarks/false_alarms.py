"""How often ``compare`` cries wolf, measured on whole real runs (the run is the unit), not on split repetitions.

Runs one small spec N times on netns, one after the other (nothing changes between the runs, so every alarm is
false), then:

* ``compare A B`` for every ordered pair of different runs: the share of pairs it fails (exit 1: a gated
  regression), and of pairs with any gated outcome "different", better or worse (clusters of A against B's);
* ``compare RUN --history K``, leave one out: each run judged against K of the others (the K before it in time,
  wrapping around), the same two shares.

Usage (as root; about 70 s per run on 2 cores)::

    .venv/bin/python benchmarks/false_alarms.py --runs 8 [--keep DIR]

The result goes to ``benchmarks/results/false_alarms.json``; the README quotes it.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from pathlib import Path

from _common import cnibench_run, save

from cnibench.results.compare import compare, compare_history
from cnibench.results.model import read_results

SPEC = {
    "version": 1,
    "name": "alarms",
    "platform": "netns",
    "cnis": ["hostgw", "vxlan"],
    "rounds": 3,
    "metrics": {"enabled": False},
    "scenarios": {
        "egress": {"protocol": "tcp", "duration": 3, "omit": 1, "repetitions": 1},
        "ingress": {"gateway": "l7", "backends": 3, "vus": 10, "duration": 3, "repetitions": 1},
    },
}


def _different(result) -> bool:
    """Any gated metric shown different, better or worse."""
    return any(c.gated and c.judgement is not None and c.judgement.outcome == "different" for c in result.changes)


def _background(run) -> float | None:
    load = run.environment.get("background_load")
    return load.get("cpu_percent") if isinstance(load, dict) else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--history", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="keep the runs in this directory (complete runs found there count)")
    args = parser.parse_args()
    directory = args.keep or Path(tempfile.mkdtemp(prefix="cnibench-alarms-"))
    directory.mkdir(parents=True, exist_ok=True)
    runs, walls = [], []
    for earlier in sorted(directory.glob("*/results.json")):  # runs kept from an earlier, interrupted call
        found = read_results(earlier)
        if found.status == "complete" and found.name == SPEC["name"] and len(runs) < args.runs:
            runs.append(found)
            walls.append(float("nan"))
    for i in range(len(runs), args.runs):
        run, wall = cnibench_run(SPEC, directory, wait=True)
        runs.append(run)
        walls.append(wall)
        print(f"run {i + 1}/{args.runs}: {run.run_id} ({wall:.0f} s)", flush=True)
    pairs = [(a, b) for a, b in itertools.permutations(runs, 2)]
    results = [compare(a, b) for a, b in pairs]
    pair_alarms = sum(bool(r.regressions) for r in results)  # compare's exit code 1
    pair_different = sum(_different(r) for r in results)
    history_alarms = history_different = 0
    for i, run in enumerate(runs):
        others = [runs[(i - k) % len(runs)] for k in range(args.history, 0, -1)]
        judged = compare_history(others, run)
        history_alarms += bool(judged.regressions)
        history_different += _different(judged)
    path = save(
        "false_alarms",
        {
            "spec": SPEC,
            "runs": [r.run_id for r in runs],
            "wall_s": walls,
            "background_load_percent": [_background(r) for r in runs],
            "pairs": len(pairs),
            "pair_alarms": pair_alarms,
            "pair_alarm_rate": pair_alarms / len(pairs),
            "pair_any_different": pair_different,
            "history": args.history,
            "history_runs": len(runs),
            "history_alarms": history_alarms,
            "history_alarm_rate": history_alarms / len(runs),
            "history_any_different": history_different,
        },
    )
    print(f"compare A B: exit 1 for {pair_alarms} of {len(pairs)} ordered pairs (a gated metric different either "
          f"way: {pair_different}); compare --history {args.history}: exit 1 for {history_alarms} of {len(runs)} "
          f"runs (different: {history_different}) -> {path}")  # fmt: skip


if __name__ == "__main__":
    main()
