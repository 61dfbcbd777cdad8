"""The netns platform's address plan, worked out once: the spec's checks and defaults and the topology both read it.

Like a kind cluster on one docker network: the node network's first address is the host in front of the cluster
(the client, like docker's bridge gateway), the nodes follow (control plane, then the workers); node ``i`` owns the
``i``-th /24 of the pod CIDR; the external network's first two hosts are the gateway node's and the external
server's; defaults for the egress IP and the LoadBalancer IP are the last hosts of their networks.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass

from cnibench.spec.base import FieldError

IPv4 = ipaddress.IPv4Address
Net = ipaddress.IPv4Network
DEFAULT_EXTERNAL_CIDR = "203.0.113.0/24"  # TEST-NET-3 (RFC 5737): never a real network
#: Addresses of the node network kept free beyond the nodes (room for the host and what a scenario adds).
SPARE_ADDRESSES = 8


@dataclass(frozen=True)
class AddressPlan:
    """Where everything is, for ``workers`` workers plus a control plane."""

    node_cidr: Net
    pod_cidr: Net
    external_cidr: Net
    workers: int

    @property
    def nodes(self) -> int:
        return 1 + self.workers

    @property
    def client_ip(self) -> IPv4:
        """The host in front of the cluster (k6 and Prometheus run there)."""
        return self.node_cidr.network_address + 1

    def node_ip(self, index: int) -> IPv4:
        return self.node_cidr.network_address + 2 + index

    def pod_subnets(self) -> Iterator[Net]:
        return self.pod_cidr.subnets(new_prefix=24)

    @property
    def external_gateway_ip(self) -> IPv4:
        """The gateway node's address on the external network."""
        return self.external_cidr.network_address + 1

    @property
    def external_server_ip(self) -> IPv4:
        return self.external_cidr.network_address + 2

    @property
    def default_egress_ip(self) -> IPv4:
        return self.external_cidr.broadcast_address - 1

    @property
    def default_lb_ip(self) -> IPv4:
        return self.node_cidr.broadcast_address - 1

    def node_network_taken(self) -> set[IPv4]:
        """The client's and the nodes' addresses, the network's and its broadcast address."""
        taken = {self.client_ip, *(self.node_ip(i) for i in range(self.nodes))}
        return taken | {self.node_cidr.network_address, self.node_cidr.broadcast_address}

    def check(self) -> None:
        """The node network and the pod CIDR have room for the cluster; raises :class:`FieldError`."""
        if self.nodes + SPARE_ADDRESSES > self.node_cidr.num_addresses:
            raise FieldError(("network", "node_cidr"), f"too small for {self.nodes} nodes")
        room = 2 ** (24 - self.pod_cidr.prefixlen)
        if room < self.nodes:
            raise FieldError(
                ("network", "pod_cidr"),
                f"{self.pod_cidr} has room for {room} node /24s, the cluster has {self.nodes} nodes",
            )

    def check_free_on_node_network(self, loc: tuple[str | int, ...], ip: IPv4) -> None:
        """``ip`` is an address of the node network nobody else has (a LoadBalancer IP); raises FieldError."""
        if ip not in self.node_cidr or ip in self.node_network_taken():
            raise FieldError(
                loc,
                f"{ip} must be a free address of network.node_cidr {self.node_cidr} "
                f"(not {self.client_ip}-{self.node_ip(self.nodes - 1)}, used by the client and the nodes)",
            )
