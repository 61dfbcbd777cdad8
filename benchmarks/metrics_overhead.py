"""What node metrics cost a run.

1. Start-up: node_exporter on 3 nodes + Prometheus until every target is up (the library calls the playbook's
   modules make), repeated; it must not add more than a few seconds to a run.
2. Throughput: `cnibench run` (hostgw, egress-baseline and egress, N x D s) with metrics enabled (1 s scrape) and
   disabled, alternated; the medians must agree within noise.

    sudo .venv/bin/python benchmarks/metrics_overhead.py [--startups 5] [--rounds 2] [--repetitions 3] [--duration 10]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import yaml
from _common import cnibench_run, describe, local_topology, save

from cnibench import spawn
from cnibench.metrics import prometheus as prom
from cnibench.platforms.netns import metrics as netns_metrics
from cnibench.platforms.netns import ops
from cnibench.platforms.netns.render import render_cluster
from cnibench.proc import tool_path


def startup(tmp: Path) -> float:
    topo = local_topology("hostgw", [], client=True)
    assert topo.client is not None
    cluster = render_cluster(topo).write(tmp / "cluster")
    ops.apply_bundle(cluster, present=True)
    try:
        config = tmp / "prometheus.yml"
        config.write_text(
            yaml.safe_dump(
                prom.config(
                    scrape_interval="1s", targets=[(n.name, f"{n.ip}:{prom.NODE_EXPORTER_PORT}") for n in topo.nodes]
                )
            )
        )
        t0 = time.perf_counter()
        for node in topo.nodes:
            argv = prom.node_exporter_argv(f"{node.ip}:{prom.NODE_EXPORTER_PORT}")
            spawn.start_daemon(
                node.netns,
                [tool_path(argv[0]) or argv[0], *argv[1:]],
                log=tmp / f"{node.name}.log",
                listen_port=prom.NODE_EXPORTER_PORT,
            )
        listen = f"{topo.client.ip}:{prom.PROMETHEUS_PORT}"
        argv = prom.prometheus_argv(config, tmp / "data", listen)
        spawn.start_daemon(
            topo.client.netns,
            [tool_path(argv[0]) or argv[0], *argv[1:]],
            log=tmp / "prometheus.log",
            listen_port=prom.PROMETHEUS_PORT,
        )
        answer = netns_metrics.metrics_in_netns(
            topo.client.netns, ["wait", "--url", f"http://{listen}", "--targets", "3", "--timeout", "30"], timeout=45
        )
        assert "error" not in answer, answer
        return time.perf_counter() - t0
    finally:
        ops.apply_bundle(cluster, present=False)


def throughput(tmp: Path, metrics: bool, repetitions: int, duration: int) -> list[float]:
    spec = {
        "name": "metrics-overhead",
        "cnis": ["hostgw"],
        "metrics": {"enabled": metrics, "scrape_interval": "1s"},
        "scenarios": {"egress": {"duration": duration, "omit": 2, "repetitions": repetitions}},
    }
    results, _ = cnibench_run(spec, tmp)
    return [s.throughput_bps for s in results.samples]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--startups", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()
    times = []
    for i in range(args.startups):
        with tempfile.TemporaryDirectory() as tmp:
            times.append(startup(Path(tmp)))
        print(f"start-up {i + 1}: {times[-1]:.2f} s until 3 targets up")
    with_m: list[float] = []
    without: list[float] = []
    for r in range(args.rounds):
        for enabled, bucket in ((True, with_m), (False, without)):
            with tempfile.TemporaryDirectory() as tmp:
                bucket += throughput(Path(tmp), enabled, args.repetitions, args.duration)
        print(
            f"round {r + 1}: with metrics {statistics.median(with_m) / 1e9:.2f}, without "
            f"{statistics.median(without) / 1e9:.2f} Gbit/s so far"
        )
    w, wo = statistics.median(with_m), statistics.median(without)
    cv = statistics.stdev(without) / statistics.fmean(without)
    print(f"start-up until all targets up: median {statistics.median(times):.2f} s, max {max(times):.2f} s")
    print(
        f"hostgw egress throughput (n={len(with_m)} each): with 1 s scraping {w / 1e9:.2f} Gbit/s, without "
        f"{wo / 1e9:.2f} Gbit/s, ratio {w / wo:.3f} (run-to-run cv without metrics {cv:.1%})"
    )
    print(
        "saved",
        save(
            "metrics_overhead",
            {
                "startup_s": describe(times),
                "with_metrics_bps": with_m,
                "without_metrics_bps": without,
                "with_median_bps": w,
                "without_median_bps": wo,
                "ratio": w / wo,
                "without_cv": cv,
            },
        ),
    )


if __name__ == "__main__":
    main()
