"""The network-policy scenario's rules as real ``networking.k8s.io/v1`` NetworkPolicy objects (issue 30), pure: the
platform-neutral rules of :mod:`cnibench.scenarios._policy_rules` written the way users write them
(https://kubernetes.io/docs/concepts/services-networking/network-policies/).

A policy of size N is two objects in cnibench's namespace:

* ``cnibench-default-deny``: the server pods (``podSelector`` on :data:`~cnibench.scenarios._policy_rules.
  SERVER_LABEL`), ``policyTypes: [Ingress]`` and no ingress item: the documented "Default deny all ingress traffic"
  policy, narrowed to the pods it protects (the docs' own selects every pod of the namespace; cnibench's namespace
  also runs Prometheus and the client pods, which the benchmark does not protect);
* ``cnibench-allow``: the same pods, one ``ingress`` item per rule, in the rules' order: N non-matching items
  (``podSelector``, ``namespaceSelector``, ``ipBlock`` peers, or the clients on a port the server does not serve)
  in front of the item(s) admitting the clients' label on the server's ports, each item one peer and one
  ``{protocol, port}``.

**One allow policy with N ingress items, not N policies** (a documented choice). NetworkPolicies are additive ("If
any policy or policies apply to a given pod for a given direction, the connections allowed ... is the union of what
the applicable policies allow", the page above), so both say the same; what differs is what the issue measures: "N
non-matching rules *in front of*" the matching one. Only inside one policy does the API keep an order: the
``ingress`` list. Calico turns each policy's ingress items into rules in that order and puts every Kubernetes
NetworkPolicy at the same order 1000 (libcalico-go ``conversion.go``, ``K8sNetworkPolicyToCalico``: "We insert all
the NetworkPolicy Policies at order 1000.0"), so between policies the order would be a tie-break the API does not
define; an iptables-style datapath (Calico's iptables mode) then walks the N rules before the match, which is the
cost the curve is for, and the netns platform's chain representation is the same list one-to-one. It is also how
users write a workload's allow-list: one policy per protected workload, its peers and ports growing inside it (the
page's example ``test-network-policy`` names an ipBlock, a namespaceSelector and a podSelector in one policy).
Datapaths that compile rules into maps (Cilium's policy map, Antrea's conjunctive OVS flows) see the same set of
(peer, port) either way.

The selector decoys select no pod here (no pod or namespace carries their labels, and hundreds of decoy pods would
exceed a node's default of 110 pods): unlike the netns platform, which gives each one a member address, a CNI that
resolves selectors to addresses may install nothing for them; that is its own behaviour, part of the curve it
draws. The ``ipBlock`` and other-port decoys (about half of each size) always reach its datapath.

Size: each item is about 120 bytes of JSON (1,000 rules: 122 kB), so
:data:`~cnibench.scenarios._policy_rules.MAX_RULES` items stay far below etcd's default 1.5 MiB request limit, but
not below the 256 KiB every object's annotations may hold, which a client-side ``kubectl apply`` fills with the
whole object (``last-applied-configuration``): the objects are applied server-side (:data:`APPLY_FLAGS`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cnibench.platforms.kube.render import meta
from cnibench.scenarios._policy_rules import SERVER_LABEL, IngressRule, Peer, Protocol, ingress_rules

API_VERSION = "networking.k8s.io/v1"
DENY_NAME = "cnibench-default-deny"
ALLOW_NAME = "cnibench-allow"
#: The label every policy object carries (with cnibench's managed-by label): the number of non-matching rules.
SIZE_LABEL = "cnibench.io/policy-rules"
#: How the objects are applied (``kubectl apply`` flags): server-side (no ``last-applied-configuration``
#: annotation, see the module's docstring), with cnibench as the field manager.
APPLY_FLAGS = ("--server-side", "--field-manager", "cnibench", "--force-conflicts")


def peer(peer: Peer) -> dict[str, Any]:
    """One ``NetworkPolicyPeer``: ``podSelector`` (pods of the policy's namespace by label), ``namespaceSelector``
    (every pod of the namespaces by label) or ``ipBlock`` (an IPv4 CIDR), as the API's ``from`` item."""
    if peer.kind == "ip-block":
        assert peer.cidr is not None
        return {"ipBlock": {"cidr": peer.cidr}}
    selector = {"matchLabels": dict(peer.labels)}
    return {"podSelector": selector} if peer.kind == "pod" else {"namespaceSelector": selector}


def ingress_item(rule: IngressRule) -> dict[str, Any]:
    """One ``NetworkPolicyIngressRule``: the rule's one peer, on its one protocol and port (the pod's port: after a
    Service's DNAT, as NetworkPolicy matches it)."""
    return {"from": [peer(rule.peer)], "ports": [{"protocol": rule.protocol, "port": rule.port}]}


def _labels(non_matching: int) -> dict[str, str]:
    return {SIZE_LABEL: str(non_matching)}


def default_deny(namespace: str, *, non_matching: int) -> dict[str, Any]:
    """The default-deny NetworkPolicy of the server pods' ingress (``non_matching``: the size it belongs to, a
    label)."""
    return {
        "apiVersion": API_VERSION,
        "kind": "NetworkPolicy",
        "metadata": meta(DENY_NAME, namespace, _labels(non_matching)),
        "spec": {"podSelector": {"matchLabels": dict([SERVER_LABEL])}, "policyTypes": ["Ingress"]},
    }


def allow(rules: Sequence[IngressRule], namespace: str, *, non_matching: int) -> dict[str, Any]:
    """The allow NetworkPolicy of the server pods: one ingress item per rule, in order (:func:`ingress_item`).
    Raises ValueError for no rules (an allow policy with no item would deny everything, which is the default-deny's
    job)."""
    if not rules:
        raise ValueError("an allow policy needs at least one rule")
    return {
        "apiVersion": API_VERSION,
        "kind": "NetworkPolicy",
        "metadata": meta(ALLOW_NAME, namespace, _labels(non_matching)),
        "spec": {
            "podSelector": {"matchLabels": dict([SERVER_LABEL])},
            "policyTypes": ["Ingress"],
            "ingress": [ingress_item(rule) for rule in rules],
        },
    }


def policy_objects(non_matching: int, ports: Sequence[tuple[Protocol, int]], namespace: str) -> list[dict[str, Any]]:
    """The NetworkPolicy objects of one policy size: the default-deny, then the allow policy with ``non_matching``
    decoy items in front of one matching item per server port (``ports``: (protocol, port) the trials use), in
    ``namespace`` (cnibench's). Raises ValueError as :func:`~cnibench.scenarios._policy_rules.ingress_rules` does
    (a negative size, more than its maximum, no ports, a port among the decoys')."""
    rules = ingress_rules(non_matching, ports)
    return [default_deny(namespace, non_matching=non_matching), allow(rules, namespace, non_matching=non_matching)]
