"""The network-policy scenario's programming-latency trials on netns (:mod:`cnibench.scenarios._policy_latency` says
what they measure): renders and repetitions, compiled by the scenario's adapter
(:mod:`cnibench.platforms.netns.scenarios.network_policy`) for its event trials; each repetition is driven by
:mod:`cnibench.platforms.netns.scenarios._policy_latency_run` (the measured command: it writes the pcap).

The policy is the rule model's (:func:`~cnibench.scenarios._policy_rules.ingress_rules`, the events' size, one
matching rule for the probe's UDP port) rendered by :func:`~cnibench.platforms.netns.policy_nft.render_policy` in
the cluster's representation, into a table of its own in the server node's forward hook. A change is applied the way
iptables-mode agents apply theirs (``iptables-restore``) and nftables-mode ones (one ``nft -f`` transaction): the
whole table replaced in one transaction (``add table``, ``delete table``, the new table), so no packet ever sees a
half-applied policy.

* allow: before (an around-bundle of each repetition) the policy without the matching rule; the event applies it with;
* deny: the reverse;
* new pod: before, the policy whose client selector holds the existing client only; the event creates the pod on
  the client's node (its namespace, link and address), starts its probe, then applies the policy whose selector
  also holds the pod's address (the agent's update, as it follows a pod it learns about).
"""

from __future__ import annotations

import functools
import ipaddress
import json
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from cnibench.platforms.files import Files
from cnibench.platforms.netns.policy_nft import Representation, netns_members, remove_lines, render_policy
from cnibench.platforms.netns.render import Bundle, Steps
from cnibench.platforms.netns.scenarios.base import resolved
from cnibench.repetition import MeasureCommand, Repetition
from cnibench.scenarios._policy_latency import (
    ALLOW,
    DENY,
    EVENT_TRIALS,
    NEW_POD,
    PROBE_PORT,
    TIMEOUT_MARGIN,
    PolicyLatencyExpectation,
    PolicyLatencySettings,
)
from cnibench.scenarios._policy_rules import ingress_rules

if TYPE_CHECKING:
    from cnibench.platforms.netns.nodes import Node, Pod
    from cnibench.platforms.netns.scenarios.base import ClusterBuild
    from cnibench.platforms.netns.topology import Topology

NEW_POD_NAME = "np-new"
#: The new pod's host part in its node's pod /24 (far from the pods the topology places from .2 up).
NEW_POD_HOST = 249


def event_table(topo: Topology) -> str:
    return f"{topo.prefix}_netpol_event"


def new_pod_ip(node: Node) -> str:
    return str(ipaddress.IPv4Network(node.pod_cidr).network_address + NEW_POD_HOST)


def policy_lines(topo: Topology, *, size: int, server: Pod, clients: Sequence[str], matching: bool,
                 representation: Representation) -> list[str]:  # fmt: skip
    """The events' policy as one nft transaction replacing the table: ``size`` non-matching rules, then (``matching``)
    the rule admitting ``clients`` to the probe's UDP port."""
    rules = ingress_rules(size, [("UDP", PROBE_PORT)])
    if not matching:
        rules = tuple(r for r in rules if not r.matches)
    members = functools.partial(netns_members, clients=clients)
    table = event_table(topo)
    policy = render_policy(rules, table=table, protected=[server.ip], members=members, representation=representation)
    return [*remove_lines(table), *policy]


def _bundle(topo: Topology, name: str, node: Node, lines: list[str]) -> Bundle:
    apply, remove = Steps(), Steps(start=50)
    apply.add("nft", node.netns, name, lines)
    remove.add("nft", node.netns, f"{name}-remove", remove_lines(event_table(topo)))
    return Bundle(name, topo.prefix, (), tuple(apply.items), tuple(remove.items))


def render_new_pod(topo: Topology, node: Node) -> Bundle:
    """The new pod: its namespace and link on ``node`` (its pod bridge), its address and default route. Removing it
    deletes the namespace."""
    netns = f"{topo.prefix}-pod-{NEW_POD_NAME}"
    host_if = f"{topo.prefix}-pnp"
    apply, remove = Steps(), Steps(start=50)
    apply.add("ip", None, "np-new-pod-namespace", [f"netns add {netns}"])
    apply.add("ip", node.netns, "np-new-pod-link", [
        f"link add name {host_if} mtu {topo.pod_mtu} type veth peer name {topo.eth} mtu {topo.pod_mtu} netns {netns}",
        f"link set {host_if} master {topo.pod_bridge} up",
    ])  # fmt: skip
    apply.add("ip", netns, "np-new-pod", [
        "link set lo up", f"addr add {new_pod_ip(node)}/24 dev {topo.eth}", f"link set {topo.eth} up",
        f"route add default via {node.pod_gateway}",
    ])  # fmt: skip
    remove.add("ip", node.netns, "np-new-pod-remove", [f"link del {host_if}"], tolerant=True)
    remove.add("destroy", None, "np-new-pod-destroy", [netns])
    return Bundle("network-policy-new-pod", topo.prefix, (netns,), tuple(apply.items), tuple(remove.items))


def compile_events(
    settings: PolicyLatencySettings,
    cluster: ClusterBuild,
    numbers: Mapping[str, range],
    *,
    sizes: Sequence[int],
    server: Pod,
    client: Pod,
    representation: Representation,
) -> tuple[list[Repetition], dict[str, list[str]]]:
    """The event trials' repetitions (``numbers``: the event trials' repetition numbers) and their around-bundles
    (the policy before each event), rendered into ``cluster``: ``server`` is the protected pod, ``client`` the
    probe's source for allow and deny (the new pod starts on its node)."""
    topo = cluster.topo
    size = settings.event_policy_size(sizes)
    server_node, client_node = topo.node(server.node), topo.node(client.node)
    base = cluster.rendered / "network-policy" / "events"
    pod_ip = new_pod_ip(client_node)

    def lines(clients: list[str], matching: bool) -> list[str]:
        return policy_lines(topo, size=size, server=server, clients=clients, matching=matching,
                            representation=representation)  # fmt: skip

    states: dict[str, tuple[list[str], list[str]]] = {  # (before, after) per event
        ALLOW: (lines([client.ip], False), lines([client.ip], True)),
        DENY: (lines([client.ip], True), lines([client.ip], False)),
        NEW_POD: (lines([client.ip], True), lines([client.ip, pod_ip], True)),
    }
    cluster.renders[base / "new-pod"] = render_new_pod(topo, client_node)
    server_pod_if = next(p.host_ifname for p in topo.pods if p.name == server.name)
    common = {
        "node_netns": server_node.netns, "delivered_if": server_pod_if, "server_ip": server.ip,
        "probe_port": PROBE_PORT, "lead": settings.event_lead, "window": settings.event_window,
        "interval_us": settings.probe_interval_us, "size": size, "representation": representation,
        "hping3": resolved(["hping3"])[0], "tcpdump": resolved(["tcpdump"])[0], "python": sys.executable,
    }  # fmt: skip
    repetitions: list[Repetition] = []
    around: dict[str, list[str]] = {}
    for trial in (t for t in EVENT_TRIALS if t in numbers):
        before, after = states[trial]
        cluster.renders[base / f"{trial}-before"] = _bundle(topo, f"{trial}-before", server_node, before)
        cluster.renders[base / f"{trial}-after"] = _bundle(topo, f"{trial}-after", server_node, after)
        around[trial] = [str(base / f"{trial}-before" / "bundle.json")]
        config = {**common, "event": trial, "after": str(base / f"{trial}-after" / "bundle.json"),
                  "client_netns": client.netns, "client_ip": client.ip}  # fmt: skip
        if trial == NEW_POD:
            config |= {"pod_bundle": str(base / "new-pod" / "bundle.json"), "client_ip": pod_ip,
                       "client_netns": f"{topo.prefix}-pod-{NEW_POD_NAME}"}  # fmt: skip
        config_dir = base / "driver"
        files = cluster.renders.setdefault(config_dir, Files({}))
        assert isinstance(files, Files)
        files.documents[f"{trial}.json"] = json.dumps(config, indent=2)
        argv = (sys.executable, "-m", "cnibench.platforms.netns.scenarios._policy_latency_run",
                str(config_dir / f"{trial}.json"))  # fmt: skip
        expect = PolicyLatencyExpectation.model_validate(
            {"event": trial, "policy_size": size, "representation": representation}
        )
        seconds = settings.event_lead + settings.event_window
        for number in numbers[trial]:
            artifact = cluster.run_dir / "raw" / cluster.cni / trial / f"rep-{number:02d}.pcap"
            command = MeasureCommand(argv=argv, stdout=artifact, timeout_s=seconds + TIMEOUT_MARGIN)
            repetitions.append(Repetition(cluster.cni, trial, number, artifact, command, seconds, 0.0, expect))
    cluster.steps.append(
        f"network-policy events ({representation}, {size} non-matching rules): per repetition tcpdump on every "
        f"interface of {server_node.name}, hping3 UDP from {client.name} (new pod: {NEW_POD_NAME} at {pod_ip} on "
        f"{client_node.name}) to {server.name}:{PROBE_PORT}, then the policy changed in one nft transaction"
    )
    return repetitions, around
