"""The netns platform: nodes and pods as network namespaces on this machine, a datapath per CNI (``hostgw``,
``vxlan``: kernel baselines), real servers. Compiles a plan into rendered bundles and the playbook's variables."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import yaml

from cnibench import doctor
from cnibench import runstate as run_state
from cnibench.estimate import Priors
from cnibench.metrics import prometheus as prom
from cnibench.metrics import queries
from cnibench.plan import repetition_overhead_s
from cnibench.platforms import PLATFORMS
from cnibench.platforms.base import Compiled, Leftover, Platform, Renderable
from cnibench.platforms.files import Files
from cnibench.platforms.netns import ops
from cnibench.platforms.netns.addresses import DEFAULT_EXTERNAL_CIDR, AddressPlan
from cnibench.platforms.netns.datapaths import DATAPATHS
from cnibench.platforms.netns.render import render_cluster
from cnibench.platforms.netns.scenarios import ADAPTERS
from cnibench.platforms.netns.scenarios.base import DAEMON_START_TIMEOUT, ClusterBuild, NetnsAdapter, resolved
from cnibench.platforms.netns.topology import Topology, build_topology, new_prefix, node_names
from cnibench.scenarios import SCENARIOS
from cnibench.spec.base import FieldError

if TYPE_CHECKING:
    from cnibench.doctor import Check
    from cnibench.plan import Plan
    from cnibench.repetition import Repetition
    from cnibench.spec import Spec

PLAYBOOK = "netns.yml"
METRICS_READY_TIMEOUT = 30.0
#: Building a cluster, starting its servers and tearing it down, per CNI (s).
OVERHEAD_PER_CLUSTER_S = 3.0
#: Of that, the teardown after a cluster's last repetition (measured: 1.8 s with node metrics, 2 CPUs).
TEARDOWN_S = 1.5
#: Removing one trial's objects and applying the next one's (measured: 0.9 s before egress, 4.0 s before ingress
#: with its proxy and three backends).
TRIAL_SETUP_S = 1.5
#: node_exporters + Prometheus until every target is up (Prometheus 2.42 throttles its first scrapes by ~5 s).
METRICS_STARTUP_S = 6.0


def adapter(scenario: str) -> NetnsAdapter[Any]:
    return ADAPTERS.get(scenario)


def address_plan(spec: Spec) -> AddressPlan:
    """The spec's one address plan (the external network is a scenario's, when one has it)."""
    external = ipaddress.IPv4Network(DEFAULT_EXTERNAL_CIDR)
    for name in reversed(spec.scenarios.enabled()):
        external = getattr(spec.scenarios.get(name), "external_cidr", None) or external
    return AddressPlan(spec.network.node_cidr, spec.network.pod_cidr, external, spec.nodes.workers)


def topology_for(spec: Spec, cni: str, prefix: str, trials: set[str]) -> Topology:
    """The cluster one CNI's trials run on: nodes from the spec, pods from the scenarios that run."""
    names = node_names(spec.nodes.workers)
    workers, gateway = names[1:], names[1]
    pods: list[tuple[str, str]] = []
    client = spec.metrics.enabled  # the host in front of the cluster: Prometheus, and a load generator
    for name in spec.scenarios.enabled():
        if not trials & set(SCENARIOS.get(name).trials):
            continue
        settings = spec.scenarios.get(name)
        pods += adapter(name).pods(settings, workers, gateway)
        client = client or adapter(name).needs_client(settings)
    plan = address_plan(spec)
    return build_topology(
        prefix=prefix,
        datapath=cni,
        workers=spec.nodes.workers,
        node_cidr=str(plan.node_cidr),
        pod_cidr=str(plan.pod_cidr),
        external_cidr=str(plan.external_cidr),
        pods=pods,
        client=client,
    )


class NetnsPlatform(Platform):
    name: ClassVar[str] = "netns"
    family: ClassVar[str] = "netns"
    description: ClassVar[str] = "nodes and pods as network namespaces on this machine (root; no Docker)"

    @classmethod
    def cnis(cls) -> tuple[str, ...]:
        return DATAPATHS.names()

    @classmethod
    def resolve(cls, spec: Spec) -> Spec:
        plan = address_plan(spec)
        updates = {}
        for name in spec.scenarios.enabled():
            if name in ADAPTERS:
                updates[name] = adapter(name).resolve(spec.scenarios.get(name), plan)
        scenarios = spec.scenarios.model_copy(update=updates)
        return super().resolve(spec.model_copy(update={"scenarios": scenarios}))

    @classmethod
    def check(cls, spec: Spec) -> None:
        super().check(spec)
        plan = address_plan(spec)
        plan.check()
        for name in spec.scenarios.enabled():
            if name not in ADAPTERS:
                raise FieldError(("scenarios", name), f"not on {cls.name}: no adapter deploys it there")
            adapter(name).check(spec.scenarios.get(name), spec, plan)

    @classmethod
    def prerequisites(cls, spec: Spec | None) -> list[Check]:
        apt, pip = doctor.APT, doctor.PIP
        checks = [
            doctor.check_privileges(),
            doctor.check_tool("ip", f"{apt} iproute2", what="ip (iproute2)"),
            doctor.check_tool("bridge", f"{apt} iproute2", what="bridge (iproute2)"),
            doctor.check_tool("nft", f"{apt} nftables"),
            doctor.check_tool("sysctl", f"{apt} procps"),
            doctor.check_tool("ansible-playbook", f"{pip} ansible-core (in cnibench's venv)"),
            doctor.check_module("ansible_runner", f"{pip} ansible-runner (in cnibench's venv)"),
        ]
        names = spec.scenarios.enabled() if spec is not None else list(SCENARIOS.names())
        for name in names:
            checks += SCENARIOS.get(name).local_checks(spec.scenarios.get(name) if spec is not None else None)
        if spec is None or spec.metrics.enabled:
            checks += doctor.metrics_checks()
        return doctor.unique(checks)

    @classmethod
    def priors(cls, spec: Spec) -> Priors:
        metrics = spec.metrics.enabled
        return Priors(
            repetition_overhead_s=repetition_overhead_s(spec),
            setup_s=OVERHEAD_PER_CLUSTER_S + (METRICS_STARTUP_S if metrics else 0.0) - TEARDOWN_S,
            trial_s=TRIAL_SETUP_S,
            teardown_s=TEARDOWN_S,
        )

    def environment(self, spec: Spec) -> dict[str, Any]:
        if not spec.metrics.enabled:
            return {}
        return {
            "metrics": {
                "scrape_interval": spec.metrics.scrape_interval,
                "queries": queries.expressions(spec.metrics.interval_s, queries.NETNS_UPLINKS),
                "scope": queries.NETNS_SCOPE,
            }
        }

    # ---- compile (pure) ---------------------------------------------------------------------------------------
    def compile(self, plan: Plan, *, run_dir: Path, prefix: str) -> Compiled:
        spec = plan.spec
        repetitions: list[Repetition] = []
        renders: dict[Path, Renderable] = {}
        facts: dict[str, dict[str, Any]] = {}
        clusters: list[dict[str, Any]] = []
        steps: list[str] = []
        for cni in spec.cnis:
            trials = {t.scenario: t.repetitions for t in plan.trials if t.cni == cni}
            if not trials:
                continue
            topo = topology_for(spec, cni, prefix, set(trials))
            cluster = ClusterBuild(spec, cni, topo, run_dir, renders, scrape_interval_s=spec.metrics.interval_s)
            renders[cluster.rendered / "cluster"] = render_cluster(topo)
            renders[cluster.rendered] = Files({"topology.json": json.dumps(topo.to_dict(), indent=2) + "\n"})
            cluster.steps.append(
                f"build the cluster: nodes {_nodes(topo)}; pods {_pods(topo)}; "
                f"{cni} datapath, pod MTU {topo.pod_mtu}; external network {topo.external.cidr}"
            )
            metrics = self._compile_metrics(spec, cluster)
            for name in spec.scenarios.enabled():
                scenario_trials = {t: n for t, n in trials.items() if t in SCENARIOS.get(name).trials}
                if scenario_trials:
                    repetitions += adapter(name).compile(spec.scenarios.get(name), cluster, scenario_trials)
            cluster.steps.append("destroy the cluster (namespaces, links, rules, processes)")
            facts[cni] = {
                "datapath": cni,
                "pod_mtu": topo.pod_mtu,
                "node_mtu": topo.underlay_mtu,
                **topo.datapath_impl.facts(topo),
                "egress_gateway_node": topo.external.gateway_node,
                "ingress_gateway_node": topo.lb_node.name,
            }
            clusters.append(
                {
                    "cni": cni,
                    "bundle": str(cluster.rendered / "cluster" / "bundle.json"),
                    "daemons": cluster.daemons,
                    "metrics": metrics,
                    "trials": cluster.trials,
                }
            )
            steps += [f"[{cni}] {step}" for step in cluster.steps]
        extravars = {"cnibench_state_file": str(run_state.state_file(prefix)), "cnibench_clusters": clusters}
        return Compiled(PLAYBOOK, extravars, repetitions, steps, facts=facts, renders=renders)

    @staticmethod
    def _compile_metrics(spec: Spec, cluster: ClusterBuild) -> dict[str, Any] | None:
        """node_exporter in every node (on the node's own address only) and Prometheus on the host in front of the
        cluster; started with the cluster, before any trial."""
        if not spec.metrics.enabled:
            return None
        topo = cluster.topo
        assert topo.client is not None
        for node in topo.nodes:
            argv = prom.node_exporter_argv(f"{node.ip}:{prom.NODE_EXPORTER_PORT}")
            cluster.daemons.append(
                cluster.daemon(f"node-exporter-{node.name}", node.netns, argv, prom.NODE_EXPORTER_PORT)
            )
        monitoring = cluster.rendered / "monitoring"
        config = prom.config(
            scrape_interval=spec.metrics.scrape_interval,
            targets=[(n.name, f"{n.ip}:{prom.NODE_EXPORTER_PORT}") for n in topo.nodes],
        )
        cluster.renders[monitoring] = Files({"prometheus.yml": yaml.safe_dump(config, sort_keys=False)})
        data = cluster.run_dir / "prometheus" / cluster.cni
        cluster.renders[data] = Files({})
        listen = f"{topo.client.ip}:{prom.PROMETHEUS_PORT}"
        argv = prom.prometheus_argv(monitoring / "prometheus.yml", data, listen)
        cluster.daemons.append(cluster.daemon("prometheus", topo.client.netns, argv, prom.PROMETHEUS_PORT))
        cluster.steps.append(
            f"start node_exporter on every node (its own address, port {prom.NODE_EXPORTER_PORT}) and Prometheus "
            f"on {topo.client.netns} (scrape every {spec.metrics.scrape_interval}); wait until every node is up"
        )
        cluster.metrics_access = {"netns": topo.client.netns, "url": f"http://{listen}"}
        return {
            "netns": topo.client.netns,
            "url": f"http://{listen}",
            "targets": len(topo.nodes),
            "timeout": METRICS_READY_TIMEOUT,
            "scrape_interval_s": spec.metrics.interval_s,
        }

    # ---- run bookkeeping ----------------------------------------------------------------------------------------
    def reserve(self, run_dir: Path, owner_pid: int) -> str:
        taken = ops.list_namespaces() + [p.stem for p in run_state.STATE_DIR.glob("cnib*.json")]
        prefix = new_prefix(taken)
        run_state.init_state(run_state.state_file(prefix), prefix=prefix, owner_pid=owner_pid, run_dir=str(run_dir))
        return prefix

    def note_playbook(self, prefix: str, pid: int) -> None:
        run_state.set_playbook(run_state.state_file(prefix), pid)

    def cleanup(self, prefix: str, compiled: Compiled | None) -> list[str]:
        return ops.destroy_prefix(prefix, run_state.state_file(prefix)).namespaces

    @classmethod
    def leftovers(cls) -> list[Leftover]:
        doctor.require_privileges()
        return [
            Leftover(
                cls.name,
                item.prefix,
                f"{len(item.namespaces)} namespace(s)",
                item.owner_alive,
                item.run_dir,
                {"namespaces": item.namespaces, "state_file": str(item.state_file) if item.state_file else None},
            )
            for item in ops.find_leftovers()
        ]

    @classmethod
    def remove(cls, leftover: Leftover) -> list[str]:
        state_file = leftover.data.get("state_file")
        report = ops.destroy_prefix(leftover.prefix, Path(state_file) if state_file else None)
        return [*report.namespaces, *(f"process {pid}" for pid in report.pids)]


def _nodes(topo: Topology) -> str:
    return ", ".join(n.name + (" (egress gateway)" if n.name == topo.external.gateway_node else "") for n in topo.nodes)


def _pods(topo: Topology) -> str:
    return ", ".join(f"{p.name} on {p.node}" for p in topo.pods) or "none"


PLATFORMS.register(NetnsPlatform.name, NetnsPlatform)
__all__ = ["DAEMON_START_TIMEOUT", "NetnsPlatform", "resolved", "topology_for"]
