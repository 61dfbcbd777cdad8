"""Render a topology into the files that build it: ``ip``/``bridge`` batch files, sysctl files and nft rulesets.

Everything a run applies to the system is rendered into the run directory first (a *bundle*: numbered files plus
``bundle.json`` saying in which namespace and with which tool each one is applied, and how the bundle is removed).
A person can read them and re-apply them by hand; tests check them without touching the system.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cnibench.platforms.netns.nodes import Node
from cnibench.platforms.netns.topology import Topology

StepKind = Literal["ip", "bridge", "sysctl", "nft", "ethtool", "destroy"]
BUNDLE_FILE = "bundle.json"


@dataclass(frozen=True)
class Step:
    """One file applied with one tool, in one namespace (``None``: the host's, only for ``ip netns add``)."""

    kind: StepKind
    netns: str | None
    file: str
    content: str
    tolerant: bool = False  # removal steps: what is already gone is not an error


@dataclass(frozen=True)
class Bundle:
    name: str
    prefix: str
    namespaces: tuple[str, ...]  # namespaces this bundle creates (registered for cleanup before creation)
    apply: tuple[Step, ...]
    remove: tuple[Step, ...]

    def write(self, directory: Path) -> Path:
        """Write every step's file and ``bundle.json`` into ``directory``; return the path of ``bundle.json``."""
        directory.mkdir(parents=True, exist_ok=True)
        for step in (*self.apply, *self.remove):
            (directory / step.file).write_text(step.content, encoding="utf-8")
        index = {
            "name": self.name,
            "prefix": self.prefix,
            "namespaces": list(self.namespaces),
            "apply": [_step_index(s) for s in self.apply],
            "remove": [_step_index(s) for s in self.remove],
        }
        path = directory / BUNDLE_FILE
        path.write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path) -> Bundle:
        """Read a bundle back from its ``bundle.json`` (the files are read as they are on disk now)."""
        index = json.loads(path.read_text(encoding="utf-8"))
        directory = path.parent

        def steps(items: list[dict[str, Any]]) -> tuple[Step, ...]:
            return tuple(
                Step(
                    kind=item["kind"],
                    netns=item["netns"],
                    file=item["file"],
                    content=(directory / item["file"]).read_text(encoding="utf-8"),
                    tolerant=bool(item.get("tolerant", False)),
                )
                for item in items
            )

        return cls(
            name=index["name"],
            prefix=index["prefix"],
            namespaces=tuple(index["namespaces"]),
            apply=steps(index["apply"]),
            remove=steps(index["remove"]),
        )


def _step_index(step: Step) -> dict[str, Any]:
    return {"kind": step.kind, "netns": step.netns, "file": step.file, "tolerant": step.tolerant}


def _lines(*lines: str) -> str:
    return "\n".join(lines) + "\n"


class Steps:
    """Collects numbered steps so file names sort in application order."""

    def __init__(self, start: int = 0) -> None:
        self.items: list[Step] = []
        self.counter = start

    def add(self, kind: StepKind, netns: str | None, label: str, lines: list[str], tolerant: bool = False) -> None:
        if not lines:
            return
        suffix = {
            "ip": "ip",
            "bridge": "bridge",
            "sysctl": "conf",
            "nft": "nft",
            "ethtool": "ethtool",
            "destroy": "list",
        }[kind]
        name = f"{self.counter:02d}-{label}.{suffix}"
        self.counter += 1
        self.items.append(Step(kind, netns, name, _lines(*lines), tolerant))


# --------------------------------------------------------------------------------------------- cluster


def render_cluster(topo: Topology, *, with_network: bool = True) -> Bundle:
    """Every step that builds ``topo``; removing it deletes its namespaces (and whatever runs inside them).

    ``with_network=False``: the nodes, pods and external network only, plugged into a node network that
    :func:`render_network` built (a run builds its clusters one after the other on one node network)."""
    steps = Steps()
    namespaces = topo.namespaces if with_network else topo.cluster_namespaces
    # 1. all namespaces first, so that veth peers can be created straight into their target namespace
    steps.add("ip", None, "namespaces", [f"netns add {ns}" for ns in namespaces])
    if with_network:
        _network_steps(topo, steps)
    _cluster_steps(topo, steps)
    remove = Steps(start=90)
    if not with_network:
        # the nodes' uplinks have their peers in the node network, which stays: the kernel dismantles a deleted
        # namespace later (cleanup_net), and until then the peers keep their names there and the next cluster's
        # `link add ... peer name` fails with "File exists". Deleting a peer removes both ends at once.
        remove.add(
            "ip", topo.underlay_netns, "unplug-nodes", [f"link del {topo.uplink_peer(n)}" for n in topo.nodes],
            tolerant=True,
        )  # fmt: skip
    remove.add("destroy", None, "destroy-namespaces", list(reversed(namespaces)))
    return Bundle(
        name="cluster", prefix=topo.prefix, namespaces=tuple(namespaces), apply=tuple(steps.items),
        remove=tuple(remove.items),
    )  # fmt: skip


def render_network(topo: Topology) -> Bundle:
    """The node network (its bridge) and the host in front of the cluster, without any node."""
    steps = Steps()
    steps.add("ip", None, "namespaces", [f"netns add {ns}" for ns in topo.network_namespaces])
    _network_steps(topo, steps)
    remove = Steps(start=90)
    remove.add("destroy", None, "destroy-namespaces", list(reversed(topo.network_namespaces)))
    return Bundle(
        name="network", prefix=topo.prefix, namespaces=tuple(topo.network_namespaces), apply=tuple(steps.items),
        remove=tuple(remove.items),
    )  # fmt: skip


def _network_steps(topo: Topology, steps: Steps) -> None:
    p = topo
    # the node network ("docker network"): one bridge in its own namespace
    steps.add(
        "ip",
        topo.underlay_netns,
        "node-network",
        ["link set lo up", f"link add name {p.bridge} mtu {p.underlay_mtu} type bridge", f"link set {p.bridge} up"],
    )
    if topo.client is not None:
        steps.add(
            "ip",
            topo.client.netns,
            "client-links",
            [
                "link set lo up",
                f"link add name {p.eth} mtu {p.underlay_mtu} type veth "
                f"peer name {p.client_peer} mtu {p.underlay_mtu} netns {p.underlay_netns}",
            ],
        )
        steps.add("ip", topo.underlay_netns, "client-port", [f"link set {p.client_peer} master {p.bridge} up"])
        steps.add(
            "ip",
            topo.client.netns,
            "client",
            [
                f"addr add {topo.client.ip}/{topo.node_cidr.split('/')[1]} dev {p.eth}",
                f"link set {p.eth} up",
                # outside the cluster: it knows the node network, and nothing about pods
            ],
        )


def _cluster_steps(topo: Topology, steps: Steps) -> None:
    p = topo
    # node sysctls before any interface exists: new interfaces take their settings from "default"
    for node in topo.nodes:
        steps.add(
            "sysctl",
            node.netns,
            f"{node.name}-sysctl",
            [
                "net.ipv4.ip_forward = 1",
                # routing is symmetric by construction (replies take the way requests came), so reverse-path
                # filtering has nothing to catch; off, as Cilium sets it, so host defaults cannot interfere
                "net.ipv4.conf.all.rp_filter = 0",
                "net.ipv4.conf.default.rp_filter = 0",
            ],
        )
    # per node: links (uplink veth into the node network, pod bridge, pod veths, vxlan, external)
    for node in topo.nodes:
        steps.add("ip", node.netns, f"{node.name}-links", _node_links(topo, node))
    # plug the nodes into the node network
    steps.add(
        "ip",
        topo.underlay_netns,
        "node-network-ports",
        [f"link set {p.uplink_peer(n)} master {p.bridge} up" for n in topo.nodes],
    )
    # per node: addresses and routes, FDB (vxlan), the CNI's masquerade rules
    for node in topo.nodes:
        steps.add("ip", node.netns, f"{node.name}-addresses", _node_addresses(topo, node))
        fdb = topo.datapath.node_fdb(topo, node)
        if fdb:
            steps.add("bridge", node.netns, f"{node.name}-fdb", fdb)
        steps.add("nft", node.netns, f"{node.name}-masquerade", _node_nat(topo))
        # a variant's offloads (none by default: the kernel's), once the devices exist
        steps.add("ethtool", node.netns, f"{node.name}-offloads", topo.datapath.node_offloads(topo, node))
    # pods and the external server's namespace
    for pod in topo.pods:
        node = topo.node(pod.node)
        steps.add(
            "ip",
            pod.netns,
            f"pod-{pod.name}",
            [
                "link set lo up",
                f"addr add {pod.ip}/24 dev {p.eth}",
                f"link set {p.eth} up",
                f"route add default via {node.pod_gateway} dev {p.eth}",
            ],
        )
    ext = topo.external
    if ext is None:
        return
    ext_prefix = ext.cidr.split("/")[1]
    steps.add(
        "ip",
        ext.netns,
        "external",
        [
            "link set lo up",
            f"addr add {ext.server_ip}/{ext_prefix} dev {p.eth}",
            f"link set {p.eth} up",
            # the outside world answers everything through the gateway node (it is the cluster's router)
            f"route add default via {ext.gateway_ip} dev {p.eth}",
        ],
    )


def _node_links(topo: Topology, node: Node) -> list[str]:
    p = topo
    lines = [
        "link set lo up",
        f"link add name {p.eth} address {node.mac} mtu {p.underlay_mtu} type veth "
        f"peer name {p.uplink_peer(node)} mtu {p.underlay_mtu} netns {p.underlay_netns}",
        f"link add name {p.pod_bridge} mtu {p.pod_mtu} type bridge",
    ]
    for pod in topo.pods_on(node):
        lines += [
            f"link add name {pod.host_ifname} mtu {p.pod_mtu} type veth "
            f"peer name {p.eth} mtu {p.pod_mtu} netns {pod.netns}",
            f"link set {pod.host_ifname} master {p.pod_bridge} up",
        ]
    lines += topo.datapath.node_links(topo, node)
    if topo.external is not None and node.name == topo.external.gateway_node:
        lines.append(
            f"link add name {p.external_dev} mtu {p.underlay_mtu} type veth "
            f"peer name {p.eth} mtu {p.underlay_mtu} netns {topo.external.netns}"
        )
    return lines


def _node_addresses(topo: Topology, node: Node) -> list[str]:
    p = topo
    node_prefix = topo.node_cidr.split("/")[1]
    lines = [
        f"addr add {node.ip}/{node_prefix} dev {p.eth}",
        f"link set {p.eth} up",
        f"addr add {node.pod_gateway}/24 dev {p.pod_bridge}",
        f"link set {p.pod_bridge} up",
    ]
    lines += topo.datapath.node_routes(topo, node)
    ext = topo.external
    if ext is None:
        return lines
    if node.name == ext.gateway_node:
        lines += [
            f"addr add {ext.gateway_ip}/{ext.cidr.split('/')[1]} dev {p.external_dev}",
            f"link set {p.external_dev} up",
        ]
    else:
        gateway = topo.gateway
        lines.append(f"route add {ext.cidr} via {gateway.ip} dev {p.eth}")
    return lines


def _node_nat(topo: Topology) -> list[str]:
    """What every CNI does on every node: masquerade pod traffic that leaves the pod network.

    The two sets are the egress policy's hook: traffic of selected pods to selected destinations is left
    alone here (it keeps the pod's IP to the gateway node, which SNATs it to the egress IP).
    """
    return [
        f"table ip {topo.nat_table} {{",
        "  set egress_src {",
        "    type ipv4_addr",
        "  }",
        "  set egress_dst {",
        "    type ipv4_addr",
        "    flags interval",
        "  }",
        "  chain postrouting {",
        "    type nat hook postrouting priority srcnat; policy accept;",
        "    ip saddr @egress_src ip daddr @egress_dst counter return",
        f"    ip saddr {topo.pod_cidr} ip daddr != {topo.pod_cidr} counter masquerade",
        "  }",
        "}",
    ]
