"""The parts of a netns cluster as data: its nodes, pods, external network and the client in front of it. Pure; the
leaf that the topology (:mod:`cnibench.platforms.netns.topology`) and the datapaths share."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Node:
    name: str
    index: int
    netns: str
    ip: str
    pod_cidr: str
    pod_gateway: str
    vtep_ip: str
    vtep_mac: str
    role: str  # "control-plane" | "worker"

    @property
    def mac(self) -> str:
        """The node's MAC address on the node network, derived from its IP as Docker derives a container's
        (``02:42`` + the four IPv4 bytes; moby ``GenerateMACFromIP``): a node rebuilt in a later round gets its
        old MAC back, so the neighbour caches of what outlives a cluster (the host, Prometheus) stay right."""
        return "02:42:" + ":".join(f"{int(octet):02x}" for octet in self.ip.split("."))


@dataclass(frozen=True)
class Pod:
    name: str
    node: str
    netns: str
    ip: str
    index: int
    host_ifname: str


@dataclass(frozen=True)
class External:
    cidr: str
    netns: str
    gateway_node: str
    gateway_ip: str  # the gateway node's address on the external network
    server_ip: str


@dataclass(frozen=True)
class Client:
    """A machine outside the cluster on the node network (the host in front of kind), for the load generator."""

    netns: str
    ip: str
