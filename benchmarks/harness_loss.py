"""No harness loss: the hostgw throughput `cnibench run` reports equals, within noise, what iperf3 run by hand
between the same two namespaces reports.

1. `cnibench run` (hostgw, egress-baseline and egress, N x D s) -> median receiver throughput per scenario;
2. the same topology built with the library; iperf3 server in the external namespace, client run by hand
   (`ip netns exec <client pod> iperf3 -c ...`, no Ansible, no module) -> median, without and with the egress
   policy. Interleaved in that order to share the machine's drift.

    sudo .venv/bin/python benchmarks/harness_loss.py [--repetitions 5] [--duration 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
from pathlib import Path

from _common import cnibench_run, local_topology, save

from cnibench import spawn
from cnibench.platforms.netns import ops
from cnibench.platforms.netns.render import render_cluster
from cnibench.platforms.netns.scenarios.egress import render_egress_policy


def by_hand(duration: int, omit: int, repetitions: int, tmp: Path) -> dict[str, list[float]]:
    topo = local_topology("hostgw", [("iperf3-client", "worker2")])
    cluster = render_cluster(topo).write(tmp / "cluster")
    policy = render_egress_policy(
        topo, pods=["iperf3-client"], egress_ip="203.0.113.254", destinations=[topo.external.cidr]
    ).write(tmp / "policy")
    out: dict[str, list[float]] = {"egress-baseline": [], "egress": []}
    ops.apply_bundle(cluster, present=True)
    try:
        spawn.start_daemon(
            topo.external.netns,
            ["iperf3", "-s", "-B", topo.external.server_ip],
            log=tmp / "server.log",
            listen_port=5201,
        )
        for scenario in ("egress-baseline", "egress"):
            if scenario == "egress":
                ops.apply_bundle(policy, present=True)
            for _ in range(repetitions):
                argv = [
                    "ip",
                    "netns",
                    "exec",
                    topo.pod("iperf3-client").netns,
                    "iperf3",
                    "-c",
                    topo.external.server_ip,
                    "-t",
                    str(duration),
                    "-O",
                    str(omit),
                    "-J",
                ]
                doc = json.loads(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)
                out[scenario].append(doc["end"]["sum_received"]["bits_per_second"])
    finally:
        ops.apply_bundle(cluster, present=False)
    return out


def with_cnibench(duration: int, omit: int, repetitions: int, tmp: Path) -> dict[str, list[float]]:
    spec = {
        "name": "harness-loss",
        "cnis": ["hostgw"],
        "scenarios": {"egress": {"duration": duration, "omit": omit, "repetitions": repetitions}},
    }
    results, _ = cnibench_run(spec, tmp)
    return {
        scenario: [s.throughput_bps for s in results.samples if s.scenario == scenario]
        for scenario in ("egress-baseline", "egress")
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--omit", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="alternate cnibench and by-hand this many times")
    args = parser.parse_args()
    tool: dict[str, list[float]] = {"egress-baseline": [], "egress": []}
    hand: dict[str, list[float]] = {"egress-baseline": [], "egress": []}
    for round_ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            for scenario, values in with_cnibench(args.duration, args.omit, args.repetitions, Path(tmp)).items():
                tool[scenario] += values
        with tempfile.TemporaryDirectory() as tmp:
            for scenario, values in by_hand(args.duration, args.omit, args.repetitions, Path(tmp)).items():
                hand[scenario] += values
        print(f"round {round_ + 1}/{args.rounds} done")
    report: dict[str, object] = {"duration": args.duration, "omit": args.omit, "scenarios": {}}
    for scenario in ("egress-baseline", "egress"):
        t, h = statistics.median(tool[scenario]), statistics.median(hand[scenario])
        spread = statistics.stdev(hand[scenario]) / statistics.fmean(hand[scenario])
        report["scenarios"][scenario] = {  # type: ignore[index]
            "cnibench_bps": tool[scenario],
            "by_hand_bps": hand[scenario],
            "cnibench_median_bps": t,
            "by_hand_median_bps": h,
            "ratio": t / h,
            "by_hand_cv": spread,
        }
        print(
            f"hostgw {scenario}: cnibench median {t / 1e9:.2f} Gbit/s, by hand {h / 1e9:.2f} Gbit/s, "
            f"ratio {t / h:.3f} (by-hand cv {spread:.1%}; n={len(tool[scenario])} each)"
        )
    print("saved", save("harness_loss", report))


if __name__ == "__main__":
    main()
