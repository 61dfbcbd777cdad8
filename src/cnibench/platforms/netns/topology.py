"""The netns cluster as data: which namespaces, links and addresses exist. Pure; nothing here touches the system.

The model mirrors a kind cluster on one docker network:

* ``<prefix>-net`` holds the node network's bridge (the "docker network"); every node namespace has a veth on it;
* node ``i`` (``control-plane``, ``worker``, ``worker2`` ...) owns pod CIDR ``pod_cidr``'s ``i``-th /24 behind a
  pod bridge; pods are namespaces with a veth on their node's pod bridge;
* the first worker is the egress gateway node; it alone is attached to the external network, where the
  ``<prefix>-ext`` namespace hosts the external server. The other nodes route external traffic to it.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from cnibench.platforms.netns.addresses import AddressPlan
from cnibench.platforms.netns.datapaths import DATAPATHS
from cnibench.platforms.netns.datapaths.base import UNDERLAY_MTU
from cnibench.platforms.netns.nodes import Client, External, Node, Pod

if TYPE_CHECKING:
    from cnibench.platforms.netns.datapaths.base import Datapath

#: Every object cnibench creates carries a prefix matching this: ``cnib`` plus four hex digits.
PREFIX_RE = re.compile(r"^cnib[0-9a-f]{4}$")
#: Interface names are limited to 15 characters by the kernel.
IFNAMSIZ = 15
EGRESS_ROUTE_TABLE = 100
EGRESS_RULE_PREF = 100


def new_prefix(existing: Iterable[str] = ()) -> str:
    """A fresh per-run prefix (``cnib`` + 4 hex digits) not used by any name in ``existing``."""
    taken = {name.split("-", 1)[0].split("_", 1)[0] for name in existing}
    for _ in range(64):
        prefix = f"cnib{secrets.token_hex(2)}"
        if prefix not in taken:
            return prefix
    for number in range(1 << 16):  # a crowded machine: take the first free one
        prefix = f"cnib{number:04x}"
        if prefix not in taken:
            return prefix
    raise RuntimeError("all 65536 cnibench prefixes are in use: run `cnibench clean`")


@dataclass(frozen=True)
class Topology:
    prefix: str
    #: how a node reaches the other nodes' pods (routes, overlay devices, the egress policy's way to the gateway)
    datapath: Datapath
    node_cidr: str
    pod_cidr: str
    underlay_mtu: int
    pod_mtu: int
    nodes: tuple[Node, ...]
    pods: tuple[Pod, ...]
    #: the external network behind the gateway node: only when a scenario of the run needs it (egress)
    external: External | None
    client: Client | None = None
    labels: dict[str, str] = field(default_factory=dict)

    # ---- names -------------------------------------------------------------------------------
    @property
    def underlay_netns(self) -> str:
        return f"{self.prefix}-net"

    @property
    def bridge(self) -> str:
        return f"{self.prefix}-br"

    @property
    def eth(self) -> str:
        """Name of the main interface inside a node, pod or the external namespace (their ``eth0``)."""
        return f"{self.prefix}-eth"

    @property
    def pod_bridge(self) -> str:
        return f"{self.prefix}-cni"

    @property
    def vxlan_dev(self) -> str:
        return f"{self.prefix}-vx"

    @property
    def external_dev(self) -> str:
        return f"{self.prefix}-ext"

    @property
    def nat_table(self) -> str:
        return f"{self.prefix}_nat"

    @property
    def egress_table(self) -> str:
        return f"{self.prefix}_egress"

    def uplink_peer(self, node: Node) -> str:
        return f"{self.prefix}-n{node.index}"

    @property
    def client_peer(self) -> str:
        return f"{self.prefix}-host"

    @property
    def lb_table(self) -> str:
        return f"{self.prefix}_lb"

    @property
    def network_namespaces(self) -> list[str]:
        """The node network's bridge and the host in front of the cluster: what outlives a cluster (a run's clusters
        are built on one node network, one after the other, and Prometheus on the host keeps scraping them)."""
        return [self.underlay_netns, *([self.client.netns] if self.client else [])]

    @property
    def cluster_namespaces(self) -> list[str]:
        """The nodes, pods and the external network: what a fresh cluster creates and its teardown removes."""
        external = [self.external.netns] if self.external else []
        return [*(n.netns for n in self.nodes), *(p.netns for p in self.pods), *external]

    @property
    def namespaces(self) -> list[str]:
        """Every namespace, in creation order."""
        return [*self.network_namespaces, *self.cluster_namespaces]

    # ---- lookups -----------------------------------------------------------------------------
    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(f"no node {name!r}")

    def pod(self, name: str) -> Pod:
        for pod in self.pods:
            if pod.name == name:
                return pod
        raise KeyError(f"no pod {name!r}")

    @property
    def workers(self) -> list[Node]:
        return [n for n in self.nodes if n.role == "worker"]

    @property
    def gateway(self) -> Node:
        """The egress gateway node (the one attached to the external network). Raises KeyError without one."""
        if self.external is None:
            raise KeyError("this cluster has no external network (no scenario of the run needs one)")
        return self.node(self.external.gateway_node)

    @property
    def lb_node(self) -> Node:
        """The node that owns the LoadBalancer IP (and runs the L7 gateway): the first worker."""
        return self.workers[0]

    def pods_on(self, node: Node) -> list[Pod]:
        return [p for p in self.pods if p.node == node.name]

    # ---- (de)serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The topology as JSON-ready data, the datapath by its name."""
        data = asdict(self)
        data["datapath"] = self.datapath.name
        if self.datapath.settings:  # a variant's (a plain datapath's topology stays as it was)
            data["datapath_settings"] = dict(self.datapath.settings)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Topology:
        return cls(
            prefix=data["prefix"],
            datapath=DATAPATHS.get(data["datapath"]).configured(data.get("datapath_settings") or {}),
            node_cidr=data["node_cidr"],
            pod_cidr=data["pod_cidr"],
            underlay_mtu=data["underlay_mtu"],
            pod_mtu=data["pod_mtu"],
            nodes=tuple(Node(**n) for n in data["nodes"]),
            pods=tuple(Pod(**p) for p in data["pods"]),
            external=External(**data["external"]) if data.get("external") else None,
            client=Client(**data["client"]) if data.get("client") else None,
            labels=dict(data.get("labels", {})),
        )


def node_names(workers: int) -> list[str]:
    """kind's node names: ``control-plane``, ``worker``, ``worker2``, ..."""
    return ["control-plane"] + ["worker" if i == 1 else f"worker{i}" for i in range(1, workers + 1)]


def build_topology(
    *,
    prefix: str,
    datapath: str,
    workers: int,
    node_cidr: str,
    pod_cidr: str,
    external_cidr: str,
    pods: Iterable[tuple[str, str]],
    client: bool = False,
    external: bool = True,
    settings: Mapping[str, Any] | None = None,
) -> Topology:
    """Assign every name and address of a cluster. ``pods`` are ``(pod name, node name)`` pairs; ``client`` adds
    a namespace outside the cluster on the node network (its first address, like docker's host gateway);
    ``external`` the external network behind the first worker (what the egress scenario needs). ``datapath`` is
    looked up once (:data:`~cnibench.platforms.netns.datapaths.DATAPATHS`; an unknown one raises UnknownName listing
    the valid ones); ``settings`` are a variant's (checked by the spec)."""
    if not PREFIX_RE.match(prefix):
        raise ValueError(f"bad prefix {prefix!r}")
    addresses = AddressPlan(
        ipaddress.IPv4Network(node_cidr), ipaddress.IPv4Network(pod_cidr), ipaddress.IPv4Network(external_cidr), workers
    )
    pod_subnets = addresses.pod_subnets()
    impl = DATAPATHS.get(datapath).configured(settings or {})
    pod_mtu = impl.pod_mtu(UNDERLAY_MTU)

    nodes: list[Node] = []
    for index, name in enumerate(node_names(workers)):
        subnet = next(pod_subnets)
        nodes.append(
            Node(
                name=name,
                index=index,
                netns=f"{prefix}-{name}",
                ip=str(addresses.node_ip(index)),  # .1 is left for the "host", like docker's bridge
                pod_cidr=str(subnet),
                pod_gateway=str(subnet.network_address + 1),
                vtep_ip=str(subnet.network_address),  # flannel's convention: the VTEP owns the subnet's .0
                vtep_mac=f"0e:c1:b0:00:{index // 256:02x}:{index % 256:02x}",
                role="control-plane" if index == 0 else "worker",
            )
        )
    by_name = {n.name: n for n in nodes}
    next_host: dict[str, int] = {n.name: 2 for n in nodes}
    pod_list: list[Pod] = []
    for index, (pod_name, node_name) in enumerate(pods):
        if node_name not in by_name:
            raise ValueError(f"pod {pod_name!r}: no node {node_name!r}")
        node = by_name[node_name]
        host = next_host[node_name]
        next_host[node_name] += 1
        if host > 254:
            raise ValueError(f"node {node_name} has no room for pod {pod_name!r}")
        pod_list.append(
            Pod(
                name=pod_name,
                node=node_name,
                netns=f"{prefix}-pod-{pod_name}",
                ip=str(ipaddress.IPv4Network(node.pod_cidr).network_address + host),
                index=index,
                host_ifname=f"{prefix}-p{index}",
            )
        )
    topo = Topology(
        prefix=prefix,
        datapath=impl,
        node_cidr=str(addresses.node_cidr),
        pod_cidr=str(addresses.pod_cidr),
        underlay_mtu=UNDERLAY_MTU,
        pod_mtu=pod_mtu,
        nodes=tuple(nodes),
        pods=tuple(pod_list),
        external=External(
            cidr=str(addresses.external_cidr),
            netns=f"{prefix}-ext",
            gateway_node=nodes[1].name,
            gateway_ip=str(addresses.external_gateway_ip),
            server_ip=str(addresses.external_server_ip),
        )
        if external
        else None,
        client=Client(netns=f"{prefix}-client", ip=str(addresses.client_ip)) if client else None,
    )
    too_long = [
        name
        for name in (
            topo.bridge,
            topo.eth,
            topo.pod_bridge,
            topo.vxlan_dev,
            topo.external_dev,
            *(p.host_ifname for p in pod_list),
            *(topo.uplink_peer(n) for n in nodes),
            topo.client_peer,
        )
        if len(name) > IFNAMSIZ
    ]
    if too_long:
        raise ValueError(f"interface names too long: {too_long}")
    return topo
