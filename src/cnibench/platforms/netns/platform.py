"""The netns platform: compile a plan into rendered bundles and the playbook's extra vars; run bookkeeping."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cnibench.doctor import Check, netns_checks, tool_path
from cnibench.plan import Plan
from cnibench.platforms.base import Compiled, Renderable
from cnibench.platforms.netns import ops
from cnibench.platforms.netns import state as run_state
from cnibench.platforms.netns.render import render_cluster, render_egress_policy
from cnibench.platforms.netns.topology import VXLAN_PORT, Topology, build_topology, new_prefix, node_names
from cnibench.scenarios import egress
from cnibench.scenarios.base import PlannedRun
from cnibench.spec import DEFAULT_EXTERNAL_CIDR, Spec
from cnibench.tools import iperf3

PLAYBOOK = "netns.yml"
DAEMON_START_TIMEOUT = 10.0


def topology_for(spec: Spec, cni: str, prefix: str, scenarios: set[str]) -> Topology:
    """The cluster one CNI's trials run on: nodes from the spec, pods from the scenarios that run."""
    names = node_names(spec.nodes.workers)
    workers, gateway = names[1:], names[1]
    pods: list[tuple[str, str]] = []
    eg = spec.scenarios.egress
    if eg is not None and scenarios & set(egress.TRIALS):
        pods.append((egress.CLIENT_POD, egress.client_node(workers, gateway)))
    return build_topology(
        prefix=prefix,
        datapath=cni,
        workers=spec.nodes.workers,
        node_cidr=str(spec.network.node_cidr),
        pod_cidr=str(spec.network.pod_cidr),
        external_cidr=str(eg.external_cidr) if eg is not None else DEFAULT_EXTERNAL_CIDR,
        pods=pods,
    )


@dataclass
class _Cluster:
    """One CNI's part of the compiled run, collected while compiling."""

    cni: str
    topo: Topology
    rendered: Path
    daemons: list[dict[str, Any]]
    trials: list[dict[str, Any]]
    steps: list[str]


class NetnsPlatform:
    name = "netns"

    def checks(self) -> list[Check]:
        return netns_checks()

    # ---- compile (pure) ------------------------------------------------------------------------
    def compile(self, plan: Plan, *, run_dir: Path, prefix: str) -> Compiled:
        spec = plan.spec
        runs: list[PlannedRun] = []
        renders: dict[Path, Renderable] = {}
        facts: dict[str, dict[str, Any]] = {}
        clusters: list[dict[str, Any]] = []
        steps: list[str] = []
        for cni in spec.cnis:
            trials = {t.scenario: t for t in plan.trials if t.cni == cni}
            if not trials:
                continue
            topo = topology_for(spec, cni, prefix, set(trials))
            rendered = run_dir / "rendered" / cni
            renders[rendered / "cluster"] = render_cluster(topo)
            renders[rendered] = _TopologyFile(topo)
            cluster = _Cluster(cni, topo, rendered, [], [], [])
            cluster.steps.append(
                f"build the cluster: nodes {_nodes(topo)}; pods {_pods(topo)}; "
                f"{cni} datapath, pod MTU {topo.pod_mtu}; external network {topo.external.cidr}"
            )
            eg = spec.scenarios.egress
            if eg is not None and set(trials) & set(egress.TRIALS):
                runs += self._compile_egress(
                    spec,
                    cluster,
                    trials={s: t.repetitions for s, t in trials.items()},
                    run_dir=run_dir,
                    renders=renders,
                )
            cluster.steps.append("destroy the cluster (namespaces, links, rules, processes)")
            facts[cni] = {
                "datapath": cni,
                "pod_mtu": topo.pod_mtu,
                "node_mtu": topo.underlay_mtu,
                "vxlan_port": VXLAN_PORT if cni == "vxlan" else None,
                "egress_gateway_node": topo.external.gateway_node,
            }
            clusters.append(
                {
                    "cni": cni,
                    "bundle": str(rendered / "cluster" / "bundle.json"),
                    "daemons": cluster.daemons,
                    "trials": cluster.trials,
                }
            )
            steps += [f"[{cni}] {step}" for step in cluster.steps]
        extravars = {"cnibench_state_file": str(run_state.state_file(prefix)), "cnibench_clusters": clusters}
        return Compiled(playbook=PLAYBOOK, extravars=extravars, runs=runs, steps=steps, facts=facts, renders=renders)

    def _compile_egress(
        self,
        spec: Spec,
        cluster: _Cluster,
        *,
        trials: dict[str, int],
        run_dir: Path,
        renders: dict[Path, Renderable],
    ) -> list[PlannedRun]:
        eg = spec.scenarios.egress
        assert eg is not None
        topo = cluster.topo
        client = topo.pod(egress.CLIENT_POD)
        server = {
            "name": egress.SERVER_NAME,
            "netns": topo.external.netns,
            "argv": _resolved(iperf3.server_argv(topo.external.server_ip)),
            "listen_port": iperf3.DEFAULT_PORT,
            "log": str(run_dir / "logs" / cluster.cni / f"{egress.SERVER_NAME}.log"),
            "timeout": DAEMON_START_TIMEOUT,
        }
        cluster.daemons.append(server)
        cluster.steps.append(f"start the iperf3 server at {topo.external.server_ip} in the external network")
        policy_dir = cluster.rendered / "egress-policy"
        renders[policy_dir] = render_egress_policy(
            topo, pods=[client.name], egress_ip=str(eg.egress_ip), destinations=[topo.external.cidr]
        )
        runs = egress.plan_runs(
            eg,
            cni=cluster.cni,
            trials=trials,
            run_dir=run_dir,
            client_netns=client.netns,
            server_ip=topo.external.server_ip,
            client_node_ip=topo.node(client.node).ip,
        )
        runs = [replace(run, command={**run.command, "argv": _resolved(run.command["argv"])}) for run in runs]
        for scenario in (s for s in egress.TRIALS if s in trials):
            trial_runs = [r for r in runs if r.scenario == scenario]
            policy = str(policy_dir / "bundle.json") if scenario == egress.NAME else None
            argv = trial_runs[0].command["argv"]
            if policy:
                cluster.steps.append(
                    f"apply the egress policy: {topo.external.gateway_node} owns {eg.egress_ip} and SNATs "
                    f"{client.name}'s traffic to {topo.external.cidr}"
                )
            cluster.steps.append(
                f"{scenario}: {len(trial_runs)} x `{' '.join([Path(argv[0]).name, *argv[1:]])}` "
                f"in {client.name} on {client.node}" + ("; the client's node masquerades" if not policy else "")
            )
            if policy:
                cluster.steps.append("remove the egress policy")
            cluster.trials.append(
                {
                    "cni": cluster.cni,
                    "scenario": scenario,
                    "policy": policy,
                    "runs": [_run_vars(r) for r in trial_runs],
                }
            )
        return runs

    # ---- run bookkeeping ------------------------------------------------------------------------
    def reserve(self, run_dir: Path, owner_pid: int) -> str:
        taken = ops.list_namespaces() + [p.stem for p in run_state.STATE_DIR.glob("cnib*.json")]
        prefix = new_prefix(taken)
        run_state.init_state(run_state.state_file(prefix), prefix=prefix, owner_pid=owner_pid, run_dir=str(run_dir))
        return prefix

    def note_playbook(self, prefix: str, pid: int) -> None:
        run_state.set_playbook(run_state.state_file(prefix), pid)

    def cleanup(self, prefix: str) -> list[str]:
        return ops.destroy_prefix(prefix, run_state.state_file(prefix)).namespaces


@dataclass(frozen=True)
class _TopologyFile:
    topo: Topology

    def write(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "topology.json"
        path.write_text(json.dumps(self.topo.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path


def _resolved(argv: list[str]) -> list[str]:
    """Tools by absolute path: ``ip netns exec`` searches the PATH of a shell the user may not have."""
    return [tool_path(argv[0]) or argv[0], *argv[1:]]


def _nodes(topo: Topology) -> str:
    return ", ".join(n.name + (" (egress gateway)" if n.name == topo.external.gateway_node else "") for n in topo.nodes)


def _pods(topo: Topology) -> str:
    return ", ".join(f"{p.name} on {p.node}" for p in topo.pods) or "none"


def _run_vars(run: PlannedRun) -> dict[str, Any]:
    return {
        "label": f"{run.cni} {run.scenario} {run.repetition}",
        "netns": run.command["netns"],
        "argv": run.command["argv"],
        "timeout": run.command["timeout"],
        "output": run.artifact,
    }
