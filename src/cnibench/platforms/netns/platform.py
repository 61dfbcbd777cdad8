"""The netns platform: compile a plan into rendered bundles and the playbook's extra vars; run bookkeeping."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from cnibench.doctor import Check, netns_checks, tool_path
from cnibench.metrics import prometheus as prom
from cnibench.plan import Plan
from cnibench.platforms.base import Compiled, Renderable
from cnibench.platforms.netns import ops
from cnibench.platforms.netns import state as run_state
from cnibench.platforms.netns.render import render_cluster, render_egress_policy, render_loadbalancer
from cnibench.platforms.netns.topology import VXLAN_PORT, Topology, build_topology, new_prefix, node_names
from cnibench.scenarios import egress, ingress
from cnibench.scenarios.base import PlannedRun
from cnibench.spec import DEFAULT_EXTERNAL_CIDR, Spec
from cnibench.tools import iperf3, nginx

PLAYBOOK = "netns.yml"
DAEMON_START_TIMEOUT = 10.0
METRICS_READY_TIMEOUT = 30.0


def topology_for(spec: Spec, cni: str, prefix: str, scenarios: set[str]) -> Topology:
    """The cluster one CNI's trials run on: nodes from the spec, pods from the scenarios that run."""
    names = node_names(spec.nodes.workers)
    workers, gateway = names[1:], names[1]
    pods: list[tuple[str, str]] = []
    eg = spec.scenarios.egress
    if eg is not None and scenarios & set(egress.TRIALS):
        pods.append((egress.CLIENT_POD, egress.client_node(workers, gateway)))
    ing = spec.scenarios.ingress
    with_ingress = ing is not None and ingress.NAME in scenarios
    if ing is not None and with_ingress:
        pods += ingress.placement(ing.backends, workers)
    return build_topology(
        prefix=prefix,
        datapath=cni,
        workers=spec.nodes.workers,
        node_cidr=str(spec.network.node_cidr),
        pod_cidr=str(spec.network.pod_cidr),
        external_cidr=str(eg.external_cidr) if eg is not None else DEFAULT_EXTERNAL_CIDR,
        pods=pods,
        client=with_ingress or spec.metrics.enabled,  # the host in front of the cluster: k6 and Prometheus
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
    metrics: dict[str, Any] | None = None

    def finish(self, runs: list[PlannedRun], spec: Spec) -> list[PlannedRun]:
        """The runs as they will execute: tools by absolute path, the metrics query after each one."""
        out = [replace(run, command={**run.command, "argv": _resolved(run.command["argv"])}) for run in runs]
        if self.metrics is not None:
            out = [_with_metrics(run, self.metrics, spec) for run in out]
        return out


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
            renders[rendered] = _Files({"topology.json": json.dumps(topo.to_dict(), indent=2) + "\n"})
            cluster = _Cluster(cni, topo, rendered, [], [], [])
            cluster.steps.append(
                f"build the cluster: nodes {_nodes(topo)}; pods {_pods(topo)}; "
                f"{cni} datapath, pod MTU {topo.pod_mtu}; external network {topo.external.cidr}"
            )
            metrics = cluster.metrics = self._compile_metrics(spec, cluster, run_dir=run_dir, renders=renders)
            eg = spec.scenarios.egress
            if eg is not None and set(trials) & set(egress.TRIALS):
                runs += self._compile_egress(
                    spec,
                    cluster,
                    trials={s: t.repetitions for s, t in trials.items()},
                    run_dir=run_dir,
                    renders=renders,
                )
            ing = spec.scenarios.ingress
            if ing is not None and ingress.NAME in trials:
                runs += self._compile_ingress(
                    spec, cluster, repetitions=trials[ingress.NAME].repetitions, run_dir=run_dir, renders=renders
                )
            cluster.steps.append("destroy the cluster (namespaces, links, rules, processes)")
            facts[cni] = {
                "datapath": cni,
                "pod_mtu": topo.pod_mtu,
                "node_mtu": topo.underlay_mtu,
                "vxlan_port": VXLAN_PORT if cni == "vxlan" else None,
                "egress_gateway_node": topo.external.gateway_node,
                "ingress_gateway_node": topo.lb_node.name,
            }
            clusters.append(
                {
                    "cni": cni,
                    "bundle": str(rendered / "cluster" / "bundle.json"),
                    "daemons": cluster.daemons,
                    "metrics": metrics,
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
        runs = cluster.finish(runs, spec)
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
                f"{scenario}: {len(trial_runs)} x `{shlex.join([Path(argv[0]).name, *argv[1:]])}` "
                f"in {client.name} on {client.node}" + ("; the client's node masquerades" if not policy else "")
            )
            if policy:
                cluster.steps.append("remove the egress policy")
            cluster.trials.append(_trial_vars(cluster.cni, scenario, [policy] if policy else [], [], trial_runs))
        return runs

    def _compile_ingress(
        self,
        spec: Spec,
        cluster: _Cluster,
        *,
        repetitions: int,
        run_dir: Path,
        renders: dict[Path, Renderable],
    ) -> list[PlannedRun]:
        ing = spec.scenarios.ingress
        assert ing is not None and ing.lb_ip is not None
        topo = cluster.topo
        assert topo.client is not None
        names = ingress.backend_names(ing.backends)
        refs = [nginx.BackendRef(name, topo.pod(name).ip, nginx.BACKEND_PORT) for name in names]
        route = ingress.route(ing, refs)
        lb_node = topo.lb_node.name
        daemons: list[dict[str, Any]] = []
        for ref in refs:
            daemons.append(
                self._nginx(
                    cluster,
                    ref.name,
                    topo.pod(ref.name).netns,
                    ref.port,
                    run_dir,
                    renders,
                    lambda prefix, log, ref=ref: nginx.echo_conf(ref.name, ref, prefix=prefix, error_log=log),
                )
            )
        bundles: list[str] = []
        lb_dir = cluster.rendered / "ingress" / "loadbalancer"
        renders[lb_dir] = render_loadbalancer(
            topo,
            node=lb_node,
            vip=str(ing.lb_ip),
            port=ing.port,
            mode=ing.gateway,
            backends=[(r.ip, r.port) for r in refs],
        )
        bundles.append(str(lb_dir / "bundle.json"))
        if ing.gateway == "l7":
            daemons.append(
                self._nginx(
                    cluster,
                    ingress.GATEWAY_NAME,
                    topo.node(lb_node).netns,
                    ing.port,
                    run_dir,
                    renders,
                    lambda prefix, log: nginx.gateway_conf(route, prefix=prefix, error_log=log),
                )
            )
        script, runs = ingress.plan_runs(
            ing,
            cni=cluster.cni,
            repetitions=repetitions,
            run_dir=run_dir,
            client_netns=topo.client.netns,
            backends=names,
        )
        renders[cluster.rendered / "ingress"] = _Files({"load.js": script})
        runs = cluster.finish(runs, spec)
        spread = ", ".join(f"{r.name} on {topo.pod(r.name).node}" for r in refs)
        cluster.steps.append(f"start {len(refs)} echo backends (nginx, port {nginx.BACKEND_PORT}): {spread}")
        cluster.steps.append(f"give {lb_node} the LoadBalancer IP {ing.lb_ip} (as MetalLB's L2 mode does)")
        if ing.gateway == "l7":
            cluster.steps.append(
                f"start the L7 gateway (nginx) on {lb_node}: {ing.lb_ip}:{ing.port} {ing.path} -> the backends, "
                "round-robin per request"
            )
        else:
            cluster.steps.append(
                f"L4 gateway on {lb_node}: nftables DNAT {ing.lb_ip}:{ing.port} -> the backends, a new backend "
                "per connection"
            )
        argv = runs[0].command["argv"] if runs else []
        cluster.steps.append(
            f"ingress: {len(runs)} x `{shlex.join([Path(argv[0]).name, *argv[1:]])}` from {topo.client.netns} "
            f"({ing.vus} VUs, {ing.duration} s, GET {ingress.target_url(ing)})"
        )
        cluster.trials.append(_trial_vars(cluster.cni, ingress.NAME, bundles, daemons, runs))
        return runs

    def _compile_metrics(
        self, spec: Spec, cluster: _Cluster, *, run_dir: Path, renders: dict[Path, Renderable]
    ) -> dict[str, Any] | None:
        """node_exporter in every node (on the node's own address only) and Prometheus on the host in front of the
        cluster; started with the cluster, before any trial."""
        if not spec.metrics.enabled:
            return None
        topo = cluster.topo
        assert topo.client is not None
        logs = run_dir / "logs" / cluster.cni
        for node in topo.nodes:
            listen = f"{node.ip}:{prom.NODE_EXPORTER_PORT}"
            cluster.daemons.append(
                {
                    "name": f"node-exporter-{node.name}",
                    "netns": node.netns,
                    "argv": _resolved(prom.node_exporter_argv(listen)),
                    "listen_port": prom.NODE_EXPORTER_PORT,
                    "log": str(logs / f"node-exporter-{node.name}.log"),
                    "timeout": DAEMON_START_TIMEOUT,
                }
            )
        monitoring = cluster.rendered / "monitoring"
        config = prom.config(
            scrape_interval=spec.metrics.scrape_interval,
            targets=[(n.name, f"{n.ip}:{prom.NODE_EXPORTER_PORT}") for n in topo.nodes],
        )
        renders[monitoring] = _Files({"prometheus.yml": yaml.safe_dump(config, sort_keys=False)})
        data = run_dir / "prometheus" / cluster.cni
        renders[data] = _Files({})
        listen = f"{topo.client.ip}:{prom.PROMETHEUS_PORT}"
        cluster.daemons.append(
            {
                "name": "prometheus",
                "netns": topo.client.netns,
                "argv": _resolved(prom.prometheus_argv(monitoring / "prometheus.yml", data, listen)),
                "listen_port": prom.PROMETHEUS_PORT,
                "log": str(logs / "prometheus.log"),
                "timeout": DAEMON_START_TIMEOUT,
            }
        )
        cluster.steps.append(
            f"start node_exporter on every node (its own address, port {prom.NODE_EXPORTER_PORT}) and Prometheus "
            f"on {topo.client.netns} (scrape every {spec.metrics.scrape_interval}); wait until every node is up"
        )
        return {
            "netns": topo.client.netns,
            "url": f"http://{listen}",
            "targets": len(topo.nodes),
            "timeout": METRICS_READY_TIMEOUT,
            "scrape_interval_s": spec.metrics.interval_s,
        }

    @staticmethod
    def _nginx(
        cluster: _Cluster,
        name: str,
        netns: str,
        port: int,
        run_dir: Path,
        renders: dict[Path, Renderable],
        conf: Any,
    ) -> dict[str, Any]:
        prefix = run_dir / "nginx" / cluster.cni / name
        log = run_dir / "logs" / cluster.cni / f"{name}.log"
        renders[prefix] = _Files({"nginx.conf": conf(prefix, log)}, dirs=["tmp"])
        return {
            "name": name,
            "netns": netns,
            "argv": _resolved(nginx.argv(prefix / "nginx.conf", prefix, log)),
            "listen_port": port,
            "log": str(log),
            "timeout": DAEMON_START_TIMEOUT,
        }

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
class _Files:
    """Plain rendered files (and empty directories) to put into a directory."""

    files: dict[str, str]
    dirs: list[str] = field(default_factory=list)

    def write(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        for name in self.dirs:
            (directory / name).mkdir(parents=True, exist_ok=True)
        for name, text in self.files.items():
            (directory / name).write_text(text, encoding="utf-8")
        return directory


def _resolved(argv: list[str]) -> list[str]:
    """Tools by absolute path: ``ip netns exec`` searches the PATH of a shell the user may not have."""
    return [tool_path(argv[0]) or argv[0], *argv[1:]]


def _nodes(topo: Topology) -> str:
    return ", ".join(n.name + (" (egress gateway)" if n.name == topo.external.gateway_node else "") for n in topo.nodes)


def _pods(topo: Topology) -> str:
    return ", ".join(f"{p.name} on {p.node}" for p in topo.pods) or "none"


def _with_metrics(run: PlannedRun, metrics: dict[str, Any], spec: Spec) -> PlannedRun:
    """After its tool, a repetition queries Prometheus over its measurement window (the warm-up left out)."""
    out = Path(run.artifact).parent / f"rep-{run.repetition:02d}.metrics"
    return replace(
        run,
        command={
            **run.command,
            "metrics": {
                "netns": metrics["netns"],
                "url": metrics["url"],
                "offset": run.warmup_s,
                "scrape_interval_s": metrics["scrape_interval_s"],
                "out": str(out),
            },
        },
    )


def _trial_vars(
    cni: str, scenario: str, bundles: list[str], daemons: list[dict[str, Any]], runs: list[PlannedRun]
) -> dict[str, Any]:
    """One trial for the playbook: bundles applied for the trial only, servers it starts, its repetitions."""
    return {
        "cni": cni,
        "scenario": scenario,
        "bundles": bundles,
        "bundles_reversed": list(reversed(bundles)),
        "daemons": daemons,
        "runs": [
            {
                "label": f"{run.cni} {run.scenario} {run.repetition}",
                "netns": run.command["netns"],
                "argv": run.command["argv"],
                "timeout": run.command["timeout"],
                "stdout": run.command["stdout"],
                "metrics": run.command.get("metrics"),
                "unset_env": run.command.get("unset_env", []),
            }
            for run in runs
        ],
    }
