"""``vxlan``: a flannel-style overlay (flannel's vxlan backend): one VXLAN device per node (VNI 1, port 8472, no
learning), static forwarding and neighbour entries for every peer, ``onlink`` routes via each peer's VTEP address
(the ``.0`` of its pod CIDR, flannel's convention). Pod MTU 1450, set explicitly (a path MTU learnt otherwise stays
cached in the pod's namespace)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from cnibench.knobs import Knob
from cnibench.platforms.netns.datapaths import DATAPATHS
from cnibench.platforms.netns.datapaths.base import POLICY_REPRESENTATION, UNDERLAY_MTU, Datapath, mtu_knob

if TYPE_CHECKING:
    from cnibench.platforms.netns.datapaths.base import Cluster
    from cnibench.platforms.netns.nodes import Node

VXLAN_VNI = 1
VXLAN_PORT = 8472  # flannel's and the Linux kernel's historic VXLAN port
#: Outer Ethernet (14), IPv4 (20), UDP (8) and VXLAN (8) headers.
VXLAN_OVERHEAD = 50
#: The ethtool feature the ``checksum_offload`` knob turns (``ethtool -K <dev> tx off`` turns it and, with it, the
#: segmentation offloads that need it: TSO).
TX_CHECKSUM = "tx-checksumming"
CHECKSUM_OFFLOAD = Knob(
    "checksum_offload",
    bool,
    "TX checksum offload on the VXLAN device (ethtool -K <dev> tx on|off); off, the kernel checksums every packet "
    "and TSO goes with it (a published egress benchmark: 2.5 Gbit/s off versus 8.9 on)",
    True,
    "ethtool(8) -K tx; the VXLAN workaround Calico documents (ethtool --offload vxlan.calico rx off tx off, "
    "https://docs.tigera.io/calico/latest/operations/troubleshoot/troubleshooting) and Antrea's kind script's "
    "ethtool -K eth0 tx off (ci/kind/kind-setup.sh)",
)


class Vxlan(Datapath):
    name: ClassVar[str] = "vxlan"
    description: ClassVar[str] = "a flannel-style VXLAN overlay (VNI 1, port 8472, static FDB, pod MTU 1450)"
    overhead: ClassVar[int] = VXLAN_OVERHEAD
    knobs: ClassVar[tuple[Knob, ...]] = (
        mtu_knob(UNDERLAY_MTU - VXLAN_OVERHEAD),
        CHECKSUM_OFFLOAD,
        POLICY_REPRESENTATION,
    )

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

    def node_offloads(self, topo: Cluster, node: Node) -> list[str]:
        """``-K <vxlan dev> tx off`` when the variant turns checksum offload off (on is the kernel's default)."""
        if self.settings.get(CHECKSUM_OFFLOAD.name, CHECKSUM_OFFLOAD.default):
            return []
        return [f"-K {topo.vxlan_dev} tx off"]

    def expected_offloads(self) -> dict[str, bool]:
        return {TX_CHECKSUM: bool(self.settings.get(CHECKSUM_OFFLOAD.name, CHECKSUM_OFFLOAD.default))}

    def egress_via(self, topo: Cluster, gateway: Node) -> str:
        return f"via {gateway.vtep_ip} dev {topo.vxlan_dev} onlink"

    def facts(self, topo: Cluster) -> dict[str, Any]:
        return {"vxlan_port": VXLAN_PORT}


DATAPATHS.register(Vxlan.name, Vxlan())
