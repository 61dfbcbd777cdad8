"""Build + teardown time of the netns cluster (3 nodes: control plane + 2 workers, a client pod, the external
network), through the same library calls the Ansible module makes. Target: under 1 s together.

    sudo .venv/bin/python benchmarks/netns_cluster.py [--iterations 20]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from _common import describe, local_topology, save

from cnibench.platforms.netns import ops
from cnibench.platforms.netns.render import render_cluster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=20)
    args = parser.parse_args()
    report: dict[str, object] = {"target_s": 1.0, "datapaths": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for datapath in ("hostgw", "vxlan"):
            build, teardown = [], []
            for i in range(args.iterations):
                topo = local_topology(datapath, [("iperf3-client", "worker2")])
                bundle = render_cluster(topo).write(Path(tmp) / f"{datapath}-{i}")
                t0 = time.perf_counter()
                ops.apply_bundle(bundle, present=True)
                t1 = time.perf_counter()
                ops.apply_bundle(bundle, present=False)
                t2 = time.perf_counter()
                build.append(t1 - t0)
                teardown.append(t2 - t1)
            total = [b + t for b, t in zip(build, teardown, strict=True)]
            report["datapaths"][datapath] = {  # type: ignore[index]
                "namespaces": len(topo.namespaces),
                "build_s": describe(build),
                "teardown_s": describe(teardown),
                "total_s": describe(total),
            }
            print(
                f"{datapath}: {len(topo.namespaces)} namespaces; build median {statistics.median(build):.3f} s, "
                f"teardown median {statistics.median(teardown):.3f} s, together median "
                f"{statistics.median(total):.3f} s, max {max(total):.3f} s over {args.iterations} iterations "
                "(target < 1 s)"
            )
    print("saved", save("netns_cluster", report))


if __name__ == "__main__":
    main()
