"""The netns platform: compile a plan into rendered bundles and the playbook's extra vars."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cnibench.doctor import Check, netns_checks
from cnibench.plan import Plan
from cnibench.platforms.base import Compiled
from cnibench.platforms.netns import ops
from cnibench.platforms.netns.render import render_cluster, render_egress_policy
from cnibench.platforms.netns.topology import Topology, build_topology, node_names
from cnibench.scenarios import egress
from cnibench.scenarios.base import PlannedRun
from cnibench.spec import Spec
from cnibench.tools import iperf3

PLAYBOOK = "netns.yml"
DAEMON_START_TIMEOUT = 10.0


def topology_for(spec: Spec, cni: str, prefix: str) -> Topology:
    """The cluster one CNI's trials run on: nodes from the spec, pods from the scenarios."""
    names = node_names(spec.nodes.workers)
    workers, gateway = names[1:], names[1]
    pods: list[tuple[str, str]] = []
    eg = spec.scenarios.egress
    if eg is not None:
        pods.append((egress.CLIENT_POD, egress.client_node(workers, gateway)))
    external_cidr = str(eg.external_cidr) if eg is not None else "203.0.113.0/24"
    return build_topology(
        prefix=prefix,
        datapath=cni,
        workers=spec.nodes.workers,
        node_cidr=str(spec.network.node_cidr),
        pod_cidr=str(spec.network.pod_cidr),
        external_cidr=external_cidr,
        pods=pods,
    )


class NetnsPlatform:
    name = "netns"

    def checks(self) -> list[Check]:
        return netns_checks()

    def steps(self, plan: Plan) -> list[str]:
        spec = plan.spec
        out: list[str] = []
        for cni in spec.cnis:
            topo = topology_for(spec, cni, "cnib0000")
            nodes = ", ".join(
                n.name + (" (egress gateway)" if n.name == topo.external.gateway_node else "") for n in topo.nodes
            )
            pods = ", ".join(f"{p.name} on {p.node}" for p in topo.pods)
            out.append(
                f"[{cni}] build the cluster: namespaces for nodes {nodes}; pods {pods}; "
                f"{cni} datapath, pod MTU {topo.pod_mtu}; external network {topo.external.cidr}"
            )
            for trial in (t for t in plan.trials if t.cni == cni):
                if trial.scenario == egress.BASELINE:
                    out.append(f"[{cni}] start the iperf3 server at {topo.external.server_ip} (external network)")
                    out.append(
                        f"[{cni}] {trial.scenario}: {trial.repetitions} x iperf3 ({trial.settings}); "
                        "the client's node masquerades"
                    )
                elif trial.scenario == egress.NAME:
                    eg = spec.scenarios.egress
                    assert eg is not None
                    out.append(
                        f"[{cni}] apply the egress policy: {topo.external.gateway_node} owns {eg.egress_ip} "
                        f"and SNATs {egress.CLIENT_POD}'s traffic to {topo.external.cidr}"
                    )
                    out.append(f"[{cni}] {trial.scenario}: {trial.repetitions} x iperf3 ({trial.settings})")
                    out.append(f"[{cni}] remove the egress policy")
            out.append(f"[{cni}] destroy the cluster (namespaces, links, rules, processes)")
        return out

    def compile(self, plan: Plan, *, run_dir: Path, prefix: str, state_file: Path) -> Compiled:
        spec = plan.spec
        clusters: list[dict[str, Any]] = []
        runs: list[PlannedRun] = []
        facts: dict[str, Any] = {}
        scenarios = {t.scenario for t in plan.trials}
        for cni in spec.cnis:
            topo = topology_for(spec, cni, prefix)
            rendered = run_dir / "rendered" / cni
            rendered.mkdir(parents=True, exist_ok=True)
            (rendered / "topology.json").write_text(_json(topo.to_dict()), encoding="utf-8")
            cluster_bundle = render_cluster(topo).write(rendered / "cluster")
            facts[cni] = {
                "datapath": cni,
                "pod_mtu": topo.pod_mtu,
                "node_mtu": topo.underlay_mtu,
                "vxlan_port": 8472 if cni == "vxlan" else None,
                "egress_gateway_node": topo.external.gateway_node,
            }
            daemons: list[dict[str, Any]] = []
            trials: list[dict[str, Any]] = []
            eg = spec.scenarios.egress
            if eg is not None and scenarios & set(egress.TRIALS):
                client = topo.pod(egress.CLIENT_POD)
                daemons.append(
                    {
                        "name": egress.SERVER_NAME,
                        "netns": topo.external.netns,
                        "argv": iperf3.server_argv(topo.external.server_ip),
                        "listen_port": iperf3.DEFAULT_PORT,
                        "log": str(run_dir / "logs" / cni / f"{egress.SERVER_NAME}.log"),
                        "timeout": DAEMON_START_TIMEOUT,
                    }
                )
                policy = render_egress_policy(
                    topo,
                    pods=[client.name],
                    egress_ip=str(eg.egress_ip),
                    destinations=[topo.external.cidr],
                ).write(rendered / "egress-policy")
                cni_runs = egress.plan_runs(
                    eg,
                    cni=cni,
                    run_dir=run_dir,
                    client_netns=client.netns,
                    server_ip=topo.external.server_ip,
                    client_node_ip=topo.node(client.node).ip,
                )
                for scenario in egress.TRIALS:
                    if scenario not in scenarios:
                        continue
                    trial_runs = [r for r in cni_runs if r.scenario == scenario]
                    runs.extend(trial_runs)
                    trials.append(
                        {
                            "cni": cni,
                            "scenario": scenario,
                            "policy": str(policy) if scenario == egress.NAME else None,
                            "runs": [_run_vars(r) for r in trial_runs],
                        }
                    )
            clusters.append({"cni": cni, "bundle": str(cluster_bundle), "daemons": daemons, "trials": trials})
        extravars = {"cnibench_state_file": str(state_file), "cnibench_clusters": clusters}
        return Compiled(playbook=PLAYBOOK, extravars=extravars, runs=runs, facts=facts)

    def cleanup(self, prefix: str, state_file: Path) -> list[str]:
        report = ops.destroy_prefix(prefix, state_file)
        return report.namespaces


def _run_vars(run: PlannedRun) -> dict[str, Any]:
    return {
        "label": f"{run.cni} {run.scenario} {run.repetition}",
        "netns": run.command["netns"],
        "argv": run.command["argv"],
        "timeout": run.command["timeout"],
        "output": run.artifact,
    }


def _json(data: Any) -> str:
    import json

    return json.dumps(data, indent=2) + "\n"
