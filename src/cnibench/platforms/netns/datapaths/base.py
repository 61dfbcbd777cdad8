"""What a netns datapath decides: how a node reaches the other nodes' pods (routes, and an overlay's devices and
forwarding entries), the pod MTU, and the way the egress policy reaches the gateway node. Everything else of the
cluster (namespaces, bridges, veths, masquerade) is the same for every datapath."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from cnibench.platforms.netns.nodes import Node


class Cluster(Protocol):
    """What a datapath reads of a cluster (a :class:`~cnibench.platforms.netns.topology.Topology`, which holds its
    datapath): its nodes, their pod MTU and the names of the devices in a node."""

    @property
    def nodes(self) -> tuple[Node, ...]: ...

    @property
    def pod_mtu(self) -> int: ...

    @property
    def eth(self) -> str:
        """The main interface of a node (its ``eth0``)."""
        ...

    @property
    def vxlan_dev(self) -> str:
        """An overlay's device in a node."""
        ...


class Datapath(ABC):
    name: ClassVar[str]
    #: One line for ``plan`` and the README.
    description: ClassVar[str]
    #: Bytes of encapsulation per packet the pod MTU leaves room for.
    overhead: ClassVar[int] = 0

    def pod_mtu(self, underlay_mtu: int) -> int:
        return underlay_mtu - self.overhead

    def node_links(self, topo: Cluster, node: Node) -> list[str]:
        """``ip`` lines creating the datapath's own devices in ``node`` (before addresses)."""
        return []

    @abstractmethod
    def node_routes(self, topo: Cluster, node: Node) -> list[str]:
        """``ip`` lines giving ``node`` its way to every other node's pod CIDR."""

    def node_fdb(self, topo: Cluster, node: Node) -> list[str]:
        """``bridge`` lines (forwarding entries of an overlay); none by default."""
        return []

    @abstractmethod
    def egress_via(self, topo: Cluster, gateway: Node) -> str:
        """How a node policy-routes the egress policy's traffic to the gateway node (``via ... dev ...``)."""

    def facts(self, topo: Cluster) -> dict[str, Any]:
        """What the run records about the datapath (environment.json)."""
        return {}
