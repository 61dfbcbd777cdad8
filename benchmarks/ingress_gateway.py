"""The gateway path must not be cnibench's own bottleneck: k6 through the L7 gateway reaches at least half of k6
straight to a single echo backend at the same VUs. Also: parsing one repetition's k6 summary takes well under a
second.

Builds a hostgw cluster with the library (client outside the cluster, 3 nginx echo backends, the LoadBalancer IP
and the nginx gateway on the first worker), then alternates:
  * direct:  k6 in the client -> one backend pod (the client gets a route to that pod's node for this);
  * gateway: k6 in the client -> LoadBalancer IP -> nginx gateway -> 3 backends (the scenario's path).

    sudo .venv/bin/python benchmarks/ingress_gateway.py [--vus 20] [--duration 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from _common import local_topology, save

from cnibench import spawn
from cnibench.platforms.netns import ops
from cnibench.platforms.netns.render import render_cluster
from cnibench.platforms.netns.scenarios.ingress import render_loadbalancer
from cnibench.proc import tool_path
from cnibench.scenarios import _ingress_settings
from cnibench.tools import k6, nginx

VIP = "172.18.0.254"


def load(tmp: Path, netns: str, target: str, backends: list[str], vus: int, duration: int, tag: str) -> float:
    script = tmp / f"{tag}.js"
    script.write_text(
        k6.render_script(
            target=target, backends=backends, vus=vus, duration=duration, reuse_connections=True, max_failed_rate=0
        )
    )
    summary = tmp / f"{tag}.json"
    argv = k6.run_argv(script, summary)
    subprocess.run(["ip", "netns", "exec", netns, tool_path("k6") or "k6", *argv[1:]], check=True, capture_output=True)
    result = k6.parse_summary(summary.read_text(), backends)
    assert result.failed_rate == 0, f"{tag}: {result.failed_rate:.2%} failed"
    return result.requests_per_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vus", type=int, default=20)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    names = _ingress_settings.backend_names(3)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        topo = local_topology("hostgw", _ingress_settings.placement(3, ["worker", "worker2"]), client=True)
        refs = [nginx.BackendRef(n, topo.pod(n).ip, nginx.BACKEND_PORT) for n in names]
        cluster = render_cluster(topo).write(tmp / "cluster")
        lb = render_loadbalancer(
            topo, node="worker", vip=VIP, port=80, mode="l7", backends=[(r.ip, r.port) for r in refs]
        ).write(tmp / "lb")
        ops.apply_bundle(cluster, present=True)
        try:
            ops.apply_bundle(lb, present=True)

            def start(name: str, netns: str, port: int, conf: str) -> None:
                prefix = tmp / "nginx" / name
                (prefix / "tmp").mkdir(parents=True)
                (prefix / "nginx.conf").write_text(conf)
                spawn.start_daemon(
                    netns,
                    [
                        tool_path("nginx") or "nginx",
                        "-c",
                        str(prefix / "nginx.conf"),
                        "-p",
                        str(prefix),
                        "-e",
                        str(prefix / "error.log"),
                    ],
                    log=prefix / "out.log",
                    listen_port=port,
                )

            for ref in refs:
                prefix = tmp / "nginx" / ref.name
                start(
                    ref.name,
                    topo.pod(ref.name).netns,
                    ref.port,
                    nginx.echo_conf(ref.name, ref, prefix=prefix, error_log=prefix / "error.log"),
                )
            route = nginx.HTTPRoute(VIP, 80, "/echo", tuple(refs))
            gw_prefix = tmp / "nginx" / "gateway"
            start(
                "gateway",
                topo.node("worker").netns,
                80,
                nginx.gateway_conf(route, prefix=gw_prefix, error_log=gw_prefix / "error.log"),
            )
            direct_to = topo.pod("echo-2")  # on worker2: not the gateway node
            subprocess.run(
                [
                    "ip",
                    "-n",
                    topo.client.netns,
                    "route",
                    "add",
                    topo.node(direct_to.node).pod_cidr,  # type: ignore[union-attr]
                    "via",
                    topo.node(direct_to.node).ip,
                ],
                check=True,
            )
            direct, gateway = [], []
            for r in range(args.rounds):
                direct.append(
                    load(
                        tmp,
                        topo.client.netns,
                        f"http://{direct_to.ip}:8080/echo",
                        ["echo-2"],  # type: ignore[union-attr]
                        args.vus,
                        args.duration,
                        f"direct-{r}",
                    )
                )
                gateway.append(
                    load(
                        tmp,
                        topo.client.netns,
                        f"http://{VIP}/echo",
                        names,  # type: ignore[union-attr]
                        args.vus,
                        args.duration,
                        f"gateway-{r}",
                    )
                )
                print(f"round {r + 1}: direct {direct[-1]:.0f} req/s, gateway {gateway[-1]:.0f} req/s")
        finally:
            ops.apply_bundle(cluster, present=False)
        summary_text = (tmp / "gateway-0.json").read_text()
    runs = 1000
    t0 = time.perf_counter()
    for _ in range(runs):
        k6.parse_summary(summary_text, names)
    parse_s = (time.perf_counter() - t0) / runs
    d, g = statistics.median(direct), statistics.median(gateway)
    print(
        f"k6 {args.vus} VUs, {args.duration} s x {args.rounds}: direct to one backend {d:.0f} req/s, "
        f"through the gateway to 3 backends {g:.0f} req/s, ratio {g / d:.2f} (target >= 0.5)"
    )
    print(f"parsing one k6 summary: {parse_s * 1e6:.0f} us (target: well under 1 s)")
    print(
        "saved",
        save(
            "ingress_gateway",
            {
                "vus": args.vus,
                "duration": args.duration,
                "direct_rps": direct,
                "gateway_rps": gateway,
                "direct_median_rps": d,
                "gateway_median_rps": g,
                "ratio": g / d,
                "parse_summary_s": parse_s,
            },
        ),
    )


if __name__ == "__main__":
    main()
