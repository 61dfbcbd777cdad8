"""What a netns datapath decides: how a node reaches the other nodes' pods (routes, and an overlay's devices and
forwarding entries), the pod MTU, and the way the egress policy reaches the gateway node. Everything else of the
cluster (namespaces, bridges, veths, masquerade) is the same for every datapath."""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from cnibench.knobs import Knob, effective

#: The MTU of the node network (the "docker network" every node's uplink is on), bytes.
UNDERLAY_MTU = 1500
#: The pod MTU a variant may set (bytes): IPv4's minimum datagram every host must accept (RFC 791: 576) to a jumbo
#: frame (9000).
MTU_RANGE = (576, 9000)

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


def mtu_knob(default: int) -> Knob:
    """The ``mtu`` knob: the pod interfaces' MTU (and the overlay device's), ``default`` the datapath's own."""
    return Knob(
        "mtu",
        int,
        "the MTU of the pod interfaces (and of the overlay device); default: the underlay's minus the encapsulation",
        default,
        "ip-link(8) mtu; a CNI's own MTU setting (Cilium chart value MTU, Antrea defaultMTU, flannel's backend MTU)",
        minimum=MTU_RANGE[0],
        maximum=MTU_RANGE[1],
    )


#: How a node's NetworkPolicy rules are written (the network-policy scenario: ``platforms.netns.policy_nft``).
POLICY_REPRESENTATION = Knob(
    "policy_representation",
    str,
    "how the network-policy scenario's rules are written in the server node's forward hook: chain (one nft rule per "
    "NetworkPolicy rule, selectors as sets: iptables-style, as Calico's and kube-router's iptables modes) or set "
    "(one verdict-map lookup: as nftables-mode and eBPF-map implementations)",
    "chain",
    "Calico felix iptables rules with ipsets (rules/policy.go); kube-router docs/design.md; kube-proxy nftables "
    "verdict maps (pkg/proxy/nftables/README.md); Cilium's policy map (bpf/lib/policy.h)",
    choices=("chain", "set"),
)


class Datapath(ABC):
    """A datapath of the netns platform. The registered instance has no settings; :meth:`configured` gives a copy
    with a variant's (checked against :attr:`knobs` first, by the spec)."""

    name: ClassVar[str]
    #: One line for ``plan`` and the README.
    description: ClassVar[str]
    #: Bytes of encapsulation per packet the pod MTU leaves room for.
    overhead: ClassVar[int] = 0
    #: What a variant may set (:mod:`cnibench.knobs`).
    knobs: ClassVar[tuple[Knob, ...]] = ()
    #: A variant's settings (checked); empty: the datapath's defaults.
    settings: Mapping[str, Any] = MappingProxyType({})

    def configured(self, settings: Mapping[str, Any]) -> Datapath:
        """A copy with ``settings`` (a variant's, already checked); this one when there are none."""
        if not settings:
            return self
        out = copy.copy(self)
        out.settings = MappingProxyType(dict(settings))
        return out

    def __deepcopy__(self, memo: dict[int, Any]) -> Datapath:
        """Itself: a datapath is never changed once configured (a topology's deep copies share it)."""
        return self

    @property
    def effective_settings(self) -> dict[str, Any]:
        """Every knob's value in effect: the variant's, the others at their defaults."""
        return effective(self.knobs, self.settings)

    def pod_mtu(self, underlay_mtu: int) -> int:
        """The pod MTU: a variant's ``mtu``, else the underlay's minus the encapsulation overhead (bytes)."""
        mtu = self.settings.get("mtu")
        return int(mtu) if mtu is not None else underlay_mtu - self.overhead

    def node_offloads(self, topo: Cluster, node: Node) -> list[str]:
        """``ethtool`` argument lines (``-K <dev> tx off``) changing the offloads of ``node``'s devices; none by
        default (the kernel's defaults)."""
        return []

    def expected_offloads(self) -> dict[str, bool]:
        """The offloads (ethtool feature names) the datapath's overlay device must have after the build; none."""
        return {}

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
