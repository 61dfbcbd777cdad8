"""The netns platform: nodes and pods as network namespaces on this machine, a datapath per CNI (``hostgw``,
``vxlan``: kernel baselines), real servers. Compiles a plan into rendered bundles and the playbook's variables."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import yaml

from cnibench import doctor
from cnibench import runstate as run_state
from cnibench.datapath_config import CONFIG_KEY, WARNINGS_KEY, mtu_problem
from cnibench.estimate import Priors
from cnibench.metrics import prometheus as prom
from cnibench.metrics import queries
from cnibench.orchestration.collector import MetricsCollector
from cnibench.orchestration.stream import stop_path, stream_path
from cnibench.platforms import PLATFORMS
from cnibench.platforms.base import Compiled, Leftover, Platform, Renderable
from cnibench.platforms.files import Files
from cnibench.platforms.netns import ops
from cnibench.platforms.netns.addresses import DEFAULT_EXTERNAL_CIDR, AddressPlan
from cnibench.platforms.netns.datapaths import DATAPATHS
from cnibench.platforms.netns.datapaths.base import UNDERLAY_MTU
from cnibench.platforms.netns.effective import kernel_encryption, no_encryption, planned, planned_problems
from cnibench.platforms.netns.render import render_cluster, render_network
from cnibench.platforms.netns.scenarios import ADAPTERS
from cnibench.platforms.netns.scenarios.base import DAEMON_START_TIMEOUT, ClusterBuild, NetnsAdapter, resolved
from cnibench.platforms.netns.topology import Topology, build_topology, new_prefix, node_names
from cnibench.scenarios import SCENARIOS
from cnibench.spec.base import FieldError, collect_errors

if TYPE_CHECKING:
    from cnibench.doctor import Check
    from cnibench.knobs import Knob
    from cnibench.plan import Plan
    from cnibench.repetition import Repetition
    from cnibench.results.model import Sample
    from cnibench.spec.model import Spec

PLAYBOOK = "netns.yml"
METRICS_READY_TIMEOUT = 30.0
# Priors of the time estimate, measured on 2 shared CPUs (seconds; benchmarks/run_efficiency.py, 6 rounds x 1, the
# machine 100 % busy with other work; one netns_clusters call runs every cluster, so no Ansible task in between):
#: building a fresh cluster and starting every scenario's servers (0.2-0.4 s without waiting for metrics)
CLUSTER_BUILD_S = 0.3
#: a cluster's build waiting until Prometheus has scraped its nodes (0.1-0.9 s: up to a scrape interval, by when
#: each node's next scrape falls)
METRICS_READY_S = 0.45
#: the run's first cluster waits longer: Prometheus 2.42 hands its first targets to the scrapers after its discovery
#: manager's 5 s update throttle (measured: 4.5 s for the first cluster's build, 0.5-1.2 s for the others)
FIRST_SCRAPE_S = 3.8
#: the teardown after a cluster's last repetition (0.09-0.15 s)
TEARDOWN_S = 0.12
#: one module call runs a cluster's repetitions (measured with netns_measure, now part of netns_clusters): the next
#: one starts within 0.06 s of the last and a tool overruns its duration by 0.01-0.19 s (k6 the most); node metrics
#: are queried in the background, off the critical path (benchmarks/run_efficiency.py, run 20261203-163538-local)
REPETITION_OVERHEAD_S = 0.15
#: from one scenario's last repetition to the next one's first on the same cluster (the same module call)
TRIAL_GAP_S = 0.05


def adapter(scenario: str) -> NetnsAdapter[Any]:
    return ADAPTERS.get(scenario)


def address_plan(spec: Spec) -> AddressPlan:
    """The spec's one address plan (the external network is a scenario's, when one has it)."""
    external = ipaddress.IPv4Network(DEFAULT_EXTERNAL_CIDR)
    for name in reversed(spec.scenarios.enabled()):
        external = getattr(spec.scenarios.get(name), "external_cidr", None) or external
    return AddressPlan(spec.network.node_cidr, spec.network.pod_cidr, external, spec.nodes.workers)


def _variant(topo: Topology) -> str:
    """`` (a variant of vxlan: checksum_offload false)`` for a variant's cluster, else nothing."""
    settings = topo.datapath.settings
    if not settings:
        return ""
    return f" (a variant of {topo.datapath.name}: {', '.join(f'{k} {v}' for k, v in settings.items())})"


def topology_for(spec: Spec, cni: str, prefix: str, trials: set[str]) -> Topology:
    """The cluster one CNI's trials run on: nodes from the spec, pods from the scenarios that run."""
    names = node_names(spec.nodes.workers)
    workers, gateway = names[1:], names[1]
    pods: list[tuple[str, str]] = []
    client = spec.metrics.enabled  # the host in front of the cluster: Prometheus, and a load generator
    external = False
    for name in spec.scenarios.enabled():
        if not any(SCENARIOS.get(name).owns(t) for t in trials):
            continue
        settings = spec.scenarios.get(name)
        pods += adapter(name).pods(settings, workers, gateway)
        client = client or adapter(name).needs_client(settings)
        external = external or adapter(name).needs_external(settings)
    plan = address_plan(spec)
    return build_topology(
        prefix=prefix,
        datapath=spec.base_cni(cni),
        settings=spec.cni_settings(cni),
        workers=spec.nodes.workers,
        node_cidr=str(plan.node_cidr),
        pod_cidr=str(plan.pod_cidr),
        external_cidr=str(plan.external_cidr),
        pods=pods,
        client=client,
        external=external,
    )


class NetnsPlatform(Platform):
    name: ClassVar[str] = "netns"
    family: ClassVar[str] = "netns"
    description: ClassVar[str] = "nodes and pods as network namespaces on this machine (root; no Docker)"
    #: A fresh cluster costs about 2 s here: six rounds (ABBA), each CNI on six clusters, by default.
    default_rounds: ClassVar[int] = 6
    measured_notes: ClassVar[tuple[str, ...]] = (
        "every node is a network namespace of this machine: CPU figures are the whole machine's (k6, iperf3, nginx "
        "and the datapath's own work included); network figures are each node's own interfaces",
    )
    pairs_trials: ClassVar[bool] = True
    cpu_scope: ClassVar[str] = "machine"  # node_exporter in each node namespace sees this machine's CPUs

    @classmethod
    def cnis(cls) -> tuple[str, ...]:
        return DATAPATHS.names()

    @classmethod
    def knobs(cls, cni: str) -> tuple[Knob, ...]:
        return DATAPATHS.get(cni).knobs

    @classmethod
    def unavailable_knobs(cls, cni: str) -> dict[str, str]:
        """``encryption``: no netns datapath has it, and this kernel would not carry it (probed, not assumed)."""
        return {"encryption": no_encryption(kernel_encryption())}

    @classmethod
    def configuration_warnings(cls, spec: Spec) -> list[str]:
        """A variant whose pod MTU the underlay cannot carry after its encapsulation, per CNI of the spec."""
        out = []
        for name in spec.cni_names:
            datapath = DATAPATHS.get(spec.base_cni(name)).configured(spec.cni_settings(name))
            problem = mtu_problem(datapath.pod_mtu(UNDERLAY_MTU), UNDERLAY_MTU, datapath.overhead,
                                  f"{datapath.name} headers")  # fmt: skip
            if problem:
                out.append(f"{name}: {problem}")
        return out

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
        # each scenario's adapter on its own: their errors are reported together
        collect_errors(
            partial(adapter(name).check, spec.scenarios.get(name), spec, plan) for name in spec.scenarios.enabled()
        )

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
            repetition_overhead_s=REPETITION_OVERHEAD_S,
            setup_s=CLUSTER_BUILD_S + (METRICS_READY_S if metrics else 0.0),
            trial_s=TRIAL_GAP_S,
            teardown_s=TEARDOWN_S,
            first_setup_extra_s=FIRST_SCRAPE_S if metrics else 0.0,
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
        """The node network and the host in front of the cluster (with Prometheus) for the whole run; then a fresh
        cluster per block of the plan (round x CNI, in the plan's order), each with its node_exporters, servers and
        scenarios."""
        spec = plan.spec
        renders: dict[Path, Renderable] = {}
        network_topo = topology_for(spec, plan.blocks[0].cni, prefix, {t.scenario for t in plan.trials})
        network_dir = run_dir / "rendered" / "network"
        renders[network_dir] = render_network(network_topo)
        network_daemons, access = self._compile_metrics(spec, network_topo, run_dir, renders)
        steps = [
            f"build the node network {network_topo.node_cidr}"
            + (f" and the host in front of the cluster ({network_topo.client.ip})" if network_topo.client else "")
            + (f"; start Prometheus there (scrape every {spec.metrics.scrape_interval})" if access else "")
        ]
        repetitions: list[Repetition] = []
        facts: dict[str, dict[str, Any]] = {}
        clusters: list[dict[str, Any]] = []
        for block in plan.blocks:
            topo = topology_for(spec, block.cni, prefix, set(block.numbers))
            cluster = ClusterBuild(
                spec, block.cni, block.round, topo, run_dir, renders, order=block.order, metrics_access=access,
                scrape_interval_s=spec.metrics.interval_s,
            )  # fmt: skip
            renders[cluster.rendered / "cluster"] = render_cluster(topo, with_network=False)
            renders[cluster.rendered] = Files({"topology.json": json.dumps(topo.to_dict(), indent=2) + "\n"})
            cluster.steps.append(
                f"build the cluster: nodes {_nodes(topo)}; pods {_pods(topo)}; "
                f"{block.cni} datapath{_variant(topo)}, pod MTU {topo.pod_mtu}"
                + (f"; external network {topo.external.cidr}" if topo.external else "")
            )
            if access is not None:
                cluster.daemons += self._node_exporters(cluster)
            ran: list[Repetition] = []  # this cluster's, in run order
            for name in spec.scenarios.enabled():
                numbers = {t: n for t, n in block.numbers.items() if SCENARIOS.get(name).owns(t)}
                if numbers:
                    ran += adapter(name).compile(spec.scenarios.get(name), cluster, numbers)
            repetitions += ran
            # a fixed load's CPU cost brackets its window with CPU counters: the cluster's last repetition needs every
            # node scraped after it ended before the cluster goes (the others get theirs while the next one runs)
            scrape_after_last = access is not None and bool(ran) and ran[-1].command.idle_s > 0
            if scrape_after_last:
                cluster.steps.append("wait until Prometheus has scraped every node after the last repetition ended")
            cluster.steps.append("destroy the cluster (namespaces, links, rules, processes)")
            first = block.cni not in facts
            facts[block.cni] = {
                "datapath": topo.datapath.name,
                **({"settings": dict(topo.datapath.settings)} if topo.datapath.settings else {}),
                CONFIG_KEY: planned(topo),
                WARNINGS_KEY: planned_problems(topo),
                "pod_mtu": topo.pod_mtu,
                "node_mtu": topo.underlay_mtu,
                **topo.datapath.facts(topo),
                **({"egress_gateway_node": topo.external.gateway_node} if topo.external else {}),
                "ingress_gateway_node": topo.lb_node.name,
            }
            clusters.append(
                {
                    "cni": block.cni,
                    "round": block.round,
                    "bundles": [str(cluster.rendered / "cluster" / "bundle.json"), *cluster.bundles],
                    "daemons": cluster.daemons,
                    "metrics": None if access is None else {
                        **access, "targets": len(topo.nodes), "timeout": METRICS_READY_TIMEOUT,
                        "scrape_after_last": scrape_after_last,
                    },
                    "scenarios": cluster.scenarios,
                }
            )  # fmt: skip
            where = f"[round {block.round}, {block.cni}]"
            if first:
                steps += [f"{where} {step}" for step in cluster.steps]
            else:
                shown = ", ".join(
                    f"{t} {n.start}" + (f"-{n.stop - 1}" if len(n) > 1 else "") for t, n in block.numbers.items()
                )
                steps.append(f"{where} the same on a fresh cluster: repetitions {shown}")
        extravars = {
            "cnibench_state_file": str(run_state.state_file(prefix)),
            "cnibench_measure_stream": str(stream_path(run_dir)),
            "cnibench_stop_file": str(stop_path(run_dir)),
            "cnibench_network": {"bundle": str(network_dir / "bundle.json"), "daemons": network_daemons},
            "cnibench_clusters": clusters,
        }
        steps.append("remove the node network (after the last window's metrics are queried)")
        return Compiled(PLAYBOOK, extravars, repetitions, steps, facts=facts, renders=renders)

    @staticmethod
    def _compile_metrics(
        spec: Spec, topo: Topology, run_dir: Path, renders: dict[Path, Renderable]
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """Prometheus on the host in front of the cluster, for the whole run, scraping the node addresses every
        cluster of the run has: its daemon and how to reach it (None: metrics disabled)."""
        if not spec.metrics.enabled:
            return [], None
        assert topo.client is not None
        monitoring = run_dir / "rendered" / "monitoring"
        config = prom.config(
            scrape_interval=spec.metrics.scrape_interval,
            targets=[(n.name, f"{n.ip}:{prom.NODE_EXPORTER_PORT}") for n in topo.nodes],
        )
        renders[monitoring] = Files({"prometheus.yml": yaml.safe_dump(config, sort_keys=False)})
        data = run_dir / "prometheus"
        renders[data] = Files({})
        listen = f"{topo.client.ip}:{prom.PROMETHEUS_PORT}"
        argv = resolved(prom.prometheus_argv(monitoring / "prometheus.yml", data, listen))
        daemon = {
            "name": "prometheus",
            "netns": topo.client.netns,
            "argv": list(argv),
            "listen_port": prom.PROMETHEUS_PORT,
            "log": str(run_dir / "logs" / "prometheus.log"),
            "timeout": DAEMON_START_TIMEOUT,
        }
        return [daemon], {"netns": topo.client.netns, "url": f"http://{listen}"}

    @staticmethod
    def _node_exporters(cluster: ClusterBuild) -> list[dict[str, Any]]:
        """node_exporter in every node, on the node's own address only (its conntrack collector too with a
        request/response workload)."""
        from cnibench.tools.workload import watches_conntrack

        conntrack = watches_conntrack(cluster.spec.scenarios)
        cluster.steps.append(
            f"start node_exporter on every node (its own address, port {prom.NODE_EXPORTER_PORT}); wait until "
            "Prometheus has scraped every node of this cluster"
        )
        return [
            cluster.daemon(
                f"node-exporter-{node.name}",
                node.netns,
                prom.node_exporter_argv(f"{node.ip}:{prom.NODE_EXPORTER_PORT}", conntrack=conntrack),
                prom.NODE_EXPORTER_PORT,
            )
            for node in cluster.topo.nodes
        ]

    def metrics_collector(self, record: Callable[[Sample], None]) -> MetricsCollector | None:
        from cnibench.platforms.netns.metrics import NetnsMetricsCollector

        return NetnsMetricsCollector(record)

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
    gateway = topo.external.gateway_node if topo.external else None
    return ", ".join(n.name + (" (egress gateway)" if n.name == gateway else "") for n in topo.nodes)


def _pods(topo: Topology) -> str:
    return ", ".join(f"{p.name} on {p.node}" for p in topo.pods) or "none"


PLATFORMS.register(NetnsPlatform.name, NetnsPlatform)
__all__ = ["DAEMON_START_TIMEOUT", "NetnsPlatform", "resolved", "topology_for"]
