"""``vxlan``: a flannel-style overlay (flannel's vxlan backend): one VXLAN device per node (VNI 1, port 8472, no
learning), static forwarding and neighbour entries for every peer, ``onlink`` routes via each peer's VTEP address
(the ``.0`` of its pod CIDR, flannel's convention). Pod MTU 1450, set explicitly (a path MTU learnt otherwise stays
cached in the pod's namespace)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from cnibench.platforms.netns.datapaths import DATAPATHS
from cnibench.platforms.netns.datapaths.base import Datapath

if TYPE_CHECKING:
    from cnibench.platforms.netns.datapaths.base import Cluster
    from cnibench.platforms.netns.nodes import Node

VXLAN_VNI = 1
VXLAN_PORT = 8472  # flannel's and the Linux kernel's historic VXLAN port
#: Outer Ethernet (14), IPv4 (20), UDP (8) and VXLAN (8) headers.
VXLAN_OVERHEAD = 50


class Vxlan(Datapath):
    name: ClassVar[str] = "vxlan"
    description: ClassVar[str] = "a flannel-style VXLAN overlay (VNI 1, port 8472, static FDB, pod MTU 1450)"
    overhead: ClassVar[int] = VXLAN_OVERHEAD

    def node_links(self, topo: Cluster, node: Node) -> list[str]:
        return [
            f"link add name {topo.vxlan_dev} address {node.vtep_mac} mtu {topo.pod_mtu} type vxlan "
            f"id {VXLAN_VNI} local {node.ip} dev {topo.eth} dstport {VXLAN_PORT} nolearning"
        ]

    def node_routes(self, topo: Cluster, node: Node) -> list[str]:
        lines = [f"addr add {node.vtep_ip}/32 dev {topo.vxlan_dev}", f"link set {topo.vxlan_dev} up"]
        for o in topo.nodes:
            if o is not node:
                lines += [
                    f"neigh add {o.vtep_ip} lladdr {o.vtep_mac} dev {topo.vxlan_dev} nud permanent",
                    f"route add {o.pod_cidr} via {o.vtep_ip} dev {topo.vxlan_dev} onlink",
                ]
        return lines

    def node_fdb(self, topo: Cluster, node: Node) -> list[str]:
        return [f"fdb append {o.vtep_mac} dev {topo.vxlan_dev} dst {o.ip}" for o in topo.nodes if o is not node]

    def egress_via(self, topo: Cluster, gateway: Node) -> str:
        return f"via {gateway.vtep_ip} dev {topo.vxlan_dev} onlink"

    def facts(self, topo: Cluster) -> dict[str, Any]:
        return {"vxlan_port": VXLAN_PORT}


DATAPATHS.register(Vxlan.name, Vxlan())
