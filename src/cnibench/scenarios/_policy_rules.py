"""The network-policy scenario's rules (issue 30), platform-neutral: what a policy of a given size admits, written
the way users write NetworkPolicies, before any platform turns it into nftables rules (netns) or
``networking.k8s.io/v1`` NetworkPolicy objects (Kubernetes).

A policy of size N protects the server pods: default-deny for their ingress, then N *non-matching* allow rules in
front of the one rule that admits the benchmark's clients (issue 30: "default-deny plus one allow rule that matches;
and the same plus N non-matching rules in front of it"). The non-matching rules take the four forms NetworkPolicy
users write (kubernetes.io/docs/concepts/services-networking/network-policies/, "The NetworkPolicy resource"), in
turn, so no form dominates the curve:

* a ``podSelector`` peer (``app: decoy-<i>``) on the server's port;
* a ``namespaceSelector`` peer (``kubernetes.io/metadata.name: decoy-ns-<i>``, the label the API server sets on
  every namespace since Kubernetes 1.22) on the server's port;
* an ``ipBlock`` peer (a /28 of 198.18.0.0/15, RFC 2544's benchmarking range, which no cluster uses) on the
  server's port;
* the clients' own ``podSelector`` on a port the server does not listen on (non-matching by port).

Selectors name pods that do not exist. A platform that resolves selectors to addresses (the netns platform, as
Calico's ipsets and kube-router's do) gives each decoy selector one member address of its own in the same
benchmarking range (:func:`decoy_member`), so every rule costs a real match, as a selector with a pod would.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

Protocol = Literal["TCP", "UDP"]
PeerKind = Literal["pod", "namespace", "ip-block"]
#: The label every benchmark client pod carries, and the value the matching rule selects.
CLIENT_LABEL = ("cnibench.io/role", "client")
#: The label every server pod carries: the policy's own ``podSelector`` (the pods it protects).
SERVER_LABEL = ("cnibench.io/role", "server")
#: The label the API server sets on every namespace (Kubernetes >= 1.22, NamespaceDefaultLabelName).
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
#: RFC 2544 (section C.2.2) benchmarking range: decoy ipBlocks and decoy selector members live here.
BENCHMARK_RANGE = ipaddress.IPv4Network("198.18.0.0/15")
#: Each decoy ipBlock is a /28 (16 addresses): CIDRs as users write them, not single hosts.
DECOY_BLOCK_PREFIX = 28
#: Decoy-by-port rules use ports from here up (above the servers' ports, below the ephemeral range 32768).
DECOY_PORT_BASE = 20000
#: The largest size a spec may ask for: the /15 holds 8,192 /28 blocks and the member addresses above them.
MAX_RULES = 4000
FORMS: tuple[str, ...] = ("pod-selector", "namespace-selector", "ip-block", "other-port")


@dataclass(frozen=True)
class Peer:
    """Who an allow rule admits, as one NetworkPolicy ``from`` item: pods by label in the policy's namespace
    (``pod``), all pods of namespaces by label (``namespace``), or an IPv4 CIDR (``ip-block``)."""

    kind: PeerKind
    labels: tuple[tuple[str, str], ...] = ()
    cidr: str | None = None

    def selects(self, pod_labels: Mapping[str, str], namespace_labels: Mapping[str, str], address: str) -> bool:
        """True if a source pod with these labels, in a namespace with these labels, at ``address`` is this peer
        (NetworkPolicy semantics; ``pod`` peers select in the policy's own namespace, which the caller checks)."""
        if self.kind == "ip-block":
            assert self.cidr is not None
            return ipaddress.IPv4Address(address) in ipaddress.IPv4Network(self.cidr)
        labels = pod_labels if self.kind == "pod" else namespace_labels
        return all(labels.get(key) == value for key, value in self.labels)


@dataclass(frozen=True)
class IngressRule:
    """One allow rule on the server pods (one NetworkPolicy ``ingress[]`` item): traffic from ``peer`` to
    ``protocol``/``port`` (the pod's port, after a Service's DNAT) is admitted. ``form`` is one of :data:`FORMS`,
    or ``match`` for the rule that admits the clients; ``decoy`` numbers the non-matching rules from 0."""

    peer: Peer
    protocol: Protocol
    port: int
    form: str
    decoy: int | None = None

    @property
    def matches(self) -> bool:
        """True for the rule that admits the benchmark's clients."""
        return self.form == "match"


def decoy_block(index: int) -> ipaddress.IPv4Network:
    """The ``index``-th decoy ipBlock: a /28 from the bottom of :data:`BENCHMARK_RANGE`. Raises ValueError past
    :data:`MAX_RULES`."""
    if not 0 <= index < MAX_RULES:
        raise ValueError(f"decoy {index}: at most {MAX_RULES} rules")
    base = int(BENCHMARK_RANGE.network_address) + index * 2 ** (32 - DECOY_BLOCK_PREFIX)
    return ipaddress.IPv4Network((base, DECOY_BLOCK_PREFIX))


def decoy_member(index: int) -> ipaddress.IPv4Address:
    """The one member address a decoy selector (``decoy-<index>`` pods or namespace) resolves to on a platform that
    resolves selectors to addresses: from the top half of :data:`BENCHMARK_RANGE`, clear of every decoy block.
    Raises ValueError past :data:`MAX_RULES`."""
    if not 0 <= index < MAX_RULES:
        raise ValueError(f"decoy {index}: at most {MAX_RULES} rules")
    return ipaddress.IPv4Address(int(BENCHMARK_RANGE.network_address) + BENCHMARK_RANGE.num_addresses // 2 + index)


def _decoy(index: int, ports: Sequence[tuple[Protocol, int]]) -> IngressRule:
    form = FORMS[index % len(FORMS)]
    protocol, port = ports[index % len(ports)]
    if form == "pod-selector":
        peer = Peer("pod", (("app", f"decoy-{index}"),))
    elif form == "namespace-selector":
        peer = Peer("namespace", ((NAMESPACE_NAME_LABEL, f"decoy-ns-{index}"),))
    elif form == "ip-block":
        peer = Peer("ip-block", cidr=str(decoy_block(index)))
    else:
        peer = Peer("pod", (CLIENT_LABEL,))
        port = DECOY_PORT_BASE + index
    return IngressRule(peer, protocol, port, form, index)


def ingress_rules(non_matching: int, ports: Sequence[tuple[Protocol, int]]) -> tuple[IngressRule, ...]:
    """The allow rules of a policy: ``non_matching`` decoys in front (forms in the order of :data:`FORMS`, ports
    taken in turn from ``ports``), then one matching rule per server port (protocol, port), admitting the clients'
    label. ``ports`` are the server pods' ports the trial uses (iperf3's, sockperf's, nginx's).

    Raises ValueError for a negative count, more than :data:`MAX_RULES`, no ports, or a server port at or above
    :data:`DECOY_PORT_BASE` (a decoy-by-port rule could then match)."""
    if not 0 <= non_matching <= MAX_RULES:
        raise ValueError(f"{non_matching} non-matching rules: must be 0 to {MAX_RULES}")
    if not ports:
        raise ValueError("a policy needs at least one server port")
    for _, port in ports:
        if not 0 < port < DECOY_PORT_BASE:
            raise ValueError(f"server port {port}: must be 1 to {DECOY_PORT_BASE - 1} (decoy ports start there)")
    decoys = tuple(_decoy(i, ports) for i in range(non_matching))
    matching = tuple(IngressRule(Peer("pod", (CLIENT_LABEL,)), protocol, port, "match") for protocol, port in ports)
    return decoys + matching


def admitted(
    rules: Iterable[IngressRule],
    *,
    pod_labels: Mapping[str, str],
    namespace_labels: Mapping[str, str],
    same_namespace: bool,
    address: str,
    protocol: Protocol,
    port: int,
) -> bool:
    """NetworkPolicy's verdict for one connection to a server pod under default-deny plus ``rules``: admitted if
    any rule's peer selects the source and its port and protocol match (rules are additive: order never changes
    the verdict, only what a chain-of-rules datapath spends reaching it). A ``pod`` peer selects only in the
    policy's namespace (``same_namespace``). The reference the platforms' renderings are tested against."""
    for rule in rules:
        if rule.protocol != protocol or rule.port != port:
            continue
        if rule.peer.kind == "pod" and not same_namespace:
            continue
        if rule.peer.selects(pod_labels, namespace_labels, address):
            return True
    return False
