"""The network-policy scenario on netns: east-west's servers and clients (its own pods, so both scenarios can run in
one spec), a ClusterIP Service as east-west's (kube-proxy-like nftables DNAT on every node, in a table of its own),
one pod per placement that the policy does not admit (the denied probe's source), and per policy size an nft table
in the server node's forward hook (:mod:`cnibench.platforms.netns.policy_nft`), in the cluster's
``policy_representation`` (a datapath knob: ``chain`` or ``set``), applied before and removed after every repetition
of that size (the around-bundles every scenario has), so that a size's repetitions alternate with no policy's on
the same cluster.

Each repetition under a policy runs in the launcher :mod:`cnibench.platforms.netns.policy_probe`: after the idle
window, the intruder pod on the client's node connects to the server's iperf3 port at the trial's target (the pod
IP, or the ClusterIP: DNATed at the intruder's node as the client's connection is), the server node's table is
listed (``nft -j``), then the tool runs."""

from __future__ import annotations

import functools
import ipaddress
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from cnibench.platforms.netns import conntrack_watch, policy_probe
from cnibench.platforms.netns.policy_nft import Representation, expected, netns_members, remove_lines, render_policy
from cnibench.platforms.netns.render import Bundle, Steps
from cnibench.platforms.netns.scenarios import ADAPTERS
from cnibench.platforms.netns.scenarios._policy_latency import compile_events
from cnibench.platforms.netns.scenarios.base import ClusterBuild, NetnsAdapter
from cnibench.platforms.netns.scenarios.east_west import check_endpoints, render_service, rr_ports, start_rr_servers
from cnibench.repetition import Repetition
from cnibench.scenarios._east_west_matrix import pick_nodes
from cnibench.scenarios._network_policy_trials import (
    EVENT_TRIALS,
    NAME,
    NetworkPolicySettings,
    is_size_trial,
    server_ports,
    split,
)
from cnibench.scenarios._policy_rules import Protocol, ingress_rules
from cnibench.scenarios.network_policy import NETWORK_POLICY
from cnibench.tools import iperf3

if TYPE_CHECKING:
    from cnibench.platforms.netns.addresses import AddressPlan
    from cnibench.platforms.netns.topology import Topology
    from cnibench.spec.model import Spec

SERVER_POD = "np-server"
CLIENT_POD = {"same-node": "np-client-same", "cross-node": "np-client-cross"}
#: Pods without the clients' label: the denied probe's sources, one on each client's node.
INTRUDER_POD = {"same-node": "np-intruder-same", "cross-node": "np-intruder-cross"}
SERVICE = "np-server"
#: Next to east-west's 10.96.0.100 in kind's service subnet.
DEFAULT_CLUSTER_IP = ipaddress.IPv4Address("10.96.0.101")
#: The port the denied probe knocks on: the server's iperf3 (running for every workload).
PROBE_PORT = iperf3.DEFAULT_PORT


def policy_table(topo: Topology) -> str:
    return f"{topo.prefix}_netpol"


def service_table(topo: Topology) -> str:
    return f"{topo.prefix}_np_proxy"


def render_network_policy(topo: Topology, *, size: int, ports: Sequence[tuple[Protocol, int]], node: str,
                          protected: Sequence[str], clients: Sequence[str],
                          representation: Representation) -> tuple[Bundle, dict[str, Any]]:  # fmt: skip
    """The policy of ``size`` non-matching rules in front of the matching ones as a bundle applied in ``node``'s
    namespace, and the expectation's policy fields (what the table must hold when read back)."""
    rules = ingress_rules(size, ports)
    members = functools.partial(netns_members, clients=clients)
    table = policy_table(topo)
    netns = topo.node(node).netns
    apply, remove = Steps(), Steps(start=50)
    lines = render_policy(rules, table=table, protected=protected, members=members, representation=representation)
    apply.add("nft", netns, f"{node}-policy-{size}", lines)
    remove.add("nft", netns, f"{node}-policy-{size}-remove", remove_lines(table))
    want = expected(rules, members, representation)
    fields = {"representation": representation, "policy_rules": len(rules), "table": table,
              "expected_nft_rules": want.rules, "expected_nft_sets": want.sets,
              "expected_nft_elements": want.elements}  # fmt: skip
    bundle = Bundle(name=f"network-policy-{size}", prefix=topo.prefix, namespaces=(), apply=tuple(apply.items),
                    remove=tuple(remove.items))  # fmt: skip
    return bundle, fields


class NetnsNetworkPolicy(NetnsAdapter[NetworkPolicySettings]):
    scenario: ClassVar[str] = NAME

    def pods(self, settings: NetworkPolicySettings, workers: list[str], gateway: str) -> list[tuple[str, str]]:
        server, client = pick_nodes(settings, workers, NAME)
        nodes = {"same-node": server, "cross-node": client}
        return [(SERVER_POD, server), *((CLIENT_POD[p], nodes[p]) for p in settings.placements),
                *((INTRUDER_POD[p], nodes[p]) for p in settings.placements)]  # fmt: skip

    def resolve(self, settings: NetworkPolicySettings, addresses: AddressPlan) -> NetworkPolicySettings:
        if settings.cluster_ip is not None:
            return settings
        return settings.model_copy(update={"cluster_ip": DEFAULT_CLUSTER_IP})

    def check(self, settings: NetworkPolicySettings, spec: Spec, addresses: AddressPlan) -> None:
        check_endpoints(settings, spec, addresses, NAME)

    def compile(
        self, settings: NetworkPolicySettings, cluster: ClusterBuild, numbers: Mapping[str, range]
    ) -> list[Repetition]:
        topo = cluster.topo
        server_name, client_name = pick_nodes(settings, [n.name for n in topo.workers], NAME)
        server_node = topo.node(server_name)
        nodes = {"same-node": server_node, "cross-node": topo.node(client_name)}
        ordered_trials = [t for t in NETWORK_POLICY.ordered(list(numbers)) if t in numbers]
        trials = [t for t in ordered_trials if is_size_trial(t)]
        events = {t: numbers[t] for t in ordered_trials if t in EVENT_TRIALS}
        points = {split(t)[0] for t in trials}
        workloads = {p.workload for p in points}
        server = topo.pod(SERVER_POD)
        daemons = [cluster.daemon(SERVER_POD, server.netns, iperf3.server_argv(server.ip), iperf3.DEFAULT_PORT)]
        daemons += start_rr_servers(cluster, workloads, [(SERVER_POD, server.netns, server.ip)])
        cluster.steps.append(f"start the iperf3 server in pod {server.name} on {server.node} ({server.ip})")
        bundles = []
        cluster_ip = str(settings.cluster_ip)
        if any(p.path == "pod-to-service" for p in points):
            service_dir = cluster.rendered / NAME / "service"
            more = rr_ports(workloads)
            cluster.renders[service_dir] = render_service(
                topo, name=SERVICE, cluster_ip=cluster_ip, port=iperf3.DEFAULT_PORT, endpoint=server.ip, more=more,
                table=service_table(topo),
            )  # fmt: skip
            bundles.append(str(service_dir / "bundle.json"))
            cluster.steps.append(f"Service {SERVICE}: ClusterIP {cluster_ip} -> {server.ip} (kube-proxy-like DNAT)")
        representation: Representation = topo.datapath.effective_settings.get("policy_representation", "chain")
        clients = [topo.pod(CLIENT_POD[p]).ip for p in settings.placements]
        ports = server_ports(workloads)
        policies: dict[int, tuple[str, dict[str, Any]]] = {}
        sizes_used = {split(t)[1] for t in trials}
        for size in sorted(s for s in sizes_used if s is not None):
            directory = cluster.rendered / NAME / f"policy-{size}"
            bundle, fields = render_network_policy(topo, size=size, ports=ports, node=server_node.name,
                                                   protected=[server.ip], clients=clients,
                                                   representation=representation)  # fmt: skip
            cluster.renders[directory] = bundle
            policies[size] = (str(directory / "bundle.json"), fields)
        repetitions: list[Repetition] = []
        around: dict[str, list[str]] = {}
        for trial in trials:
            point, trial_size = split(trial)
            client_node = nodes[point.placement]
            client = topo.pod(CLIENT_POD[point.placement])
            intruder = topo.pod(INTRUDER_POD[point.placement])
            target = cluster_ip if point.path == "pod-to-service" else server.ip
            expect = {"client_node": client_node.name, "server_node": server_node.name, "client_ip": client.ip,
                      "backend_ip": server.ip}  # fmt: skip
            watched = {n.name: n.netns for n in (server_node, client_node)}
            wrap = functools.partial(conntrack_watch.argv, watched, python=sys.executable)
            probe = functools.partial(_probe, intruder.netns, target, server_node.netns, policy_table(topo))
            policy: dict[str, Any] = {}
            if trial_size is not None:
                path, fields = policies[trial_size]
                around[trial] = [path]
                policy = {**fields, "probe_source": intruder.ip, "probe_target": target, "probe_port": PROBE_PORT}
            repetitions += NETWORK_POLICY.repetitions(
                settings, cni=cluster.cni, trial=trial, numbers=numbers[trial], run_dir=cluster.run_dir,
                target_ip=target, expect=expect, policy=policy, netns=client.netns, wrap=wrap, probe=probe,
            )  # fmt: skip
        if events:  # the programming-latency trials: their own table, probe port and capture
            placement = "cross-node" if "cross-node" in settings.placements else settings.placements[0]
            event_reps, event_around = compile_events(
                settings, cluster, events, sizes=settings.sizes, server=server,
                client=topo.pod(CLIENT_POD[placement]), representation=representation,
            )  # fmt: skip
            repetitions += event_reps
            around |= event_around
        ordered = cluster.add_scenario(NAME, cluster.finish(repetitions), bundles=bundles, daemons=daemons,
                                       around=around)  # fmt: skip
        sizes = ", ".join(str(s) for s in policies)
        sized = sum(1 for r in ordered if r.scenario not in EVENT_TRIALS)
        cluster.steps.append(
            f"network-policy ({representation} representation): {sized} repetitions over {len(trials)} size "
            f"trial(s); around each repetition of a size ({sizes} non-matching rules + {len(ports)} matching) its "
            f"nft table in {server_node.name}'s forward hook is applied and removed; before each such repetition's "
            f"tool, a pod the policy does not admit connects to the server's port {PROBE_PORT} (must be dropped)"
        )
        return ordered


def _probe(probe_netns: str, target: str, table_netns: str, table: str, tool: list[str]) -> list[str]:
    return policy_probe.argv(probe_netns=probe_netns, target=target, port=PROBE_PORT, table_netns=table_netns,
                             table=table, tool=tool, python=sys.executable)  # fmt: skip


ADAPTERS.register(NAME, NetnsNetworkPolicy())
