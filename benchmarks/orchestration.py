"""Orchestration overhead of `cnibench run`: wall time minus iperf3's own time, per repetition.
Target: under 3 s per repetition.

Runs the real CLI (Ansible and all) and reads the timestamps it recorded:
  * per repetition: (end - start) - (duration + warm-up): iperf3's start-up and the server-output exchange;
  * between repetitions: the gap from one repetition's end to the next one's start (an Ansible loop item);
  * whole run: (wall time - repetitions x (duration + warm-up)) / repetitions, which also carries Ansible's
    start-up, cluster builds, server starts and teardowns.

    sudo .venv/bin/python benchmarks/orchestration.py [--repetitions 5] [--duration 2]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from pathlib import Path

from _common import cnibench_run, describe, save


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--duration", type=int, default=2)
    parser.add_argument("--omit", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        spec = {
            "name": "orchestration",
            "cnis": ["hostgw", "vxlan"],
            "scenarios": {"egress": {"duration": args.duration, "omit": args.omit, "repetitions": args.repetitions}},
        }
        results, wall = cnibench_run(spec, Path(tmp))
    tool_time = args.duration + args.omit
    samples = results.samples
    per_rep = [(s.ended_at - s.started_at) - tool_time for s in samples]
    gaps = [
        b.started_at - a.ended_at for a, b in itertools.pairwise(samples) if (a.cni, a.scenario) == (b.cni, b.scenario)
    ]
    whole = (wall - len(samples) * tool_time) / len(samples)
    report = {
        "target_s": 3.0,
        "repetitions": len(samples),
        "tool_seconds_each": tool_time,
        "wall_s": wall,
        "inside_repetition_s": describe(per_rep),
        "between_repetitions_s": describe(gaps),
        "whole_run_overhead_per_repetition_s": whole,
    }
    print(f"{len(samples)} repetitions of {tool_time} s iperf3 in {wall:.1f} s wall")
    print(
        f"inside a repetition (iperf3 start-up, server output): median {report['inside_repetition_s']['median']:.3f} s"
    )
    print(
        f"between repetitions (Ansible loop item, parsing): median {report['between_repetitions_s']['median']:.3f} s, "
        f"max {report['between_repetitions_s']['max']:.3f} s"
    )
    print(
        f"whole run, per repetition (incl. Ansible start, 2 cluster builds, servers, policies, teardowns): "
        f"{whole:.2f} s (target < 3 s)"
    )
    print("saved", save("orchestration", report))


if __name__ == "__main__":
    main()
