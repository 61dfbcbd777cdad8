"""``hostgw``: flannel's host-gw backend. Every node routes each other node's pod CIDR via that node's address on the
node network; no encapsulation (pod MTU 1500)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from cnibench.platforms.netns.datapaths import DATAPATHS
from cnibench.platforms.netns.datapaths.base import POLICY_REPRESENTATION, UNDERLAY_MTU, Datapath, mtu_knob

if TYPE_CHECKING:
    from cnibench.knobs import Knob
    from cnibench.platforms.netns.datapaths.base import Cluster
    from cnibench.platforms.netns.nodes import Node


class HostGw(Datapath):
    name: ClassVar[str] = "hostgw"
    description: ClassVar[str] = "routes to other nodes' pod CIDRs via their node IPs (flannel host-gw)"
    knobs: ClassVar[tuple[Knob, ...]] = (mtu_knob(UNDERLAY_MTU), POLICY_REPRESENTATION)

    def node_routes(self, topo: Cluster, node: Node) -> list[str]:
        return [f"route add {o.pod_cidr} via {o.ip} dev {topo.eth}" for o in topo.nodes if o is not node]

    def egress_via(self, topo: Cluster, gateway: Node) -> str:
        return f"via {gateway.ip} dev {topo.eth}"


DATAPATHS.register(HostGw.name, HostGw())
