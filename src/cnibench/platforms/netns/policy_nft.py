"""The network-policy scenario's rules as nftables on netns (issue 30): a policy of the platform-neutral rule model
(:mod:`cnibench.scenarios._policy_rules`) turned into an nft script for the **server's node** namespace, in one of
two representations real CNIs use, and the rules and elements a loaded table holds, read back from ``nft -j``.

Where: a base chain on the ``forward`` hook (priority ``filter``) of the server's node. Ingress policy is enforced
at the destination pod's node, as the iptables-mode CNIs do it (Calico's ``cali-tw-<iface>`` "to workload" chains,
kube-router's per-pod firewall chains, weave-npc's FORWARD rules); the pod-to-pod packet crosses that node's
forward hook whether it came from another node (routed) or from a pod on the same bridge (``br_netfilter`` hands
bridged IPv4 to the ip hooks: ``bridge-nf-call-iptables`` is 1 in a new namespace). A Service's DNAT happened at the
client's node (kube-proxy's prerouting), so the policy sees the pod's address and port, as NetworkPolicy's
semantics say (a policy applies to the pod, after the Service is resolved).

Connection tracking first: ``ct state established,related accept`` is the base chain's first rule, before any
policy rule, as every stateful implementation does it (weave-npc ``DESIGN.markdown``: "-A FORWARD -m state --state
RELATED,ESTABLISHED -j ACCEPT" before its policy chains; Calico felix ``rules/static.go`` / ``endpoints.go``
accept ``--ctstate RELATED,ESTABLISHED`` before the policy chains; kube-router ``docs/design.md`` the same). So only
a connection's first packet walks the policy: a ``stream`` repetition pays once, a ``crr`` repetition once per
connection. Then packets to a protected pod (``ip daddr``) jump to the policy's ``ingress`` chain, which ends in
``drop`` (default-deny: "isolated for ingress", NetworkPolicy).

The two representations (``policy_representation``, a netns datapath knob):

* ``chain``: one nft rule per NetworkPolicy rule, in order, the matching one last (iptables-style: Calico's and
  kube-router's iptables modes, weave-npc). A selector peer is a named set of its member addresses, as their ipsets
  (``-m set --match-set <set> src``): one set per distinct selector; an ``ipBlock`` is the CIDR in the rule. A new
  connection walks every rule in front of the one that admits it: cost grows with N.
* ``set``: one verdict map keyed by ``source address . protocol . port`` (intervals, so an ipBlock is one element),
  looked up once by one rule, then ``drop``: what nftables-mode implementations do (kube-proxy's nftables mode keys
  its ``service-ips`` verdict map the same way; Cilium's per-endpoint policy map is one hash lookup keyed by
  identity, port and protocol, ``bpf/lib/policy.h``). A selector's members become elements (member x port).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

from cnibench.scenarios._policy_rules import CLIENT_LABEL, IngressRule, decoy_member
from cnibench.tools.policy_probe import LoadedPolicy, loaded

__all__ = ["REPRESENTATIONS", "LoadedPolicy", "expected", "loaded", "netns_members", "remove_lines", "render_policy"]

Representation = Literal["chain", "set"]
REPRESENTATIONS: tuple[Representation, ...] = ("chain", "set")
#: The base chain (hook forward) and the policy's chain.
FORWARD_CHAIN = "forward"
INGRESS_CHAIN = "ingress"
#: The ``set`` representation's verdict map.
INGRESS_MAP = "ingress-allow"
#: Rules of the base chain: the conntrack accept and the jump to the policy.
BASE_RULES = 2


def netns_members(rule: IngressRule, clients: Sequence[str]) -> list[str]:
    """The addresses a rule's peer resolves to on netns, as an agent resolves selectors to pod IPs: the clients'
    own label -> ``clients`` (their pod IPs); a decoy selector (``decoy-<i>`` pods or namespace) -> its one member
    (:func:`~cnibench.scenarios._policy_rules.decoy_member`); an ipBlock -> its CIDR. Raises ValueError for a
    selector the model does not make."""
    peer = rule.peer
    if peer.kind == "ip-block":
        assert peer.cidr is not None
        return [peer.cidr]
    if peer.kind == "pod" and peer.labels == (CLIENT_LABEL,):
        return list(clients)
    if rule.decoy is not None:
        return [str(decoy_member(rule.decoy))]
    raise ValueError(f"no members for peer {peer}")


def _selector_name(rule: IngressRule) -> str | None:
    """The named set of a selector peer (one per distinct selector, as the ipsets are); None for an ipBlock."""
    peer = rule.peer
    if peer.kind == "ip-block":
        return None
    if peer.labels == (CLIENT_LABEL,):
        return "sel-clients"
    return f"sel-{peer.kind}-{rule.decoy}"


def render_policy(
    rules: Sequence[IngressRule],
    *,
    table: str,
    protected: Sequence[str],
    members: Callable[[IngressRule], Sequence[str]],
    representation: Representation,
) -> list[str]:
    """The nft script (lines) of a table ``ip <table>`` enforcing default-deny plus ``rules`` for traffic to the
    ``protected`` pod addresses, in ``representation``; ``members`` resolves a rule's peer to addresses or CIDRs
    (:func:`netns_members`). Rules keep their order (decoys first, the matching rules last). Raises ValueError for
    an unknown representation or no protected address."""
    if representation not in REPRESENTATIONS:
        raise ValueError(f"unknown representation {representation!r}; valid: {', '.join(REPRESENTATIONS)}")
    if not protected:
        raise ValueError("a policy protects at least one pod address")
    daddr = protected[0] if len(protected) == 1 else "{ " + ", ".join(protected) + " }"
    lines = [f"table ip {table} {{"]
    body: list[str] = []
    if representation == "chain":
        sets: dict[str, Sequence[str]] = {}
        for rule in rules:
            name = _selector_name(rule)
            if name is not None:
                sets.setdefault(name, members(rule))
        for name, addresses in sets.items():
            elements = f" elements = {{ {', '.join(addresses)} }};" if addresses else ""
            lines.append(f"  set {name} {{ type ipv4_addr;{elements} }}")
        for rule in rules:
            name = _selector_name(rule)
            source = f"@{name}" if name is not None else members(rule)[0]
            body.append(f"    ip saddr {source} {rule.protocol.lower()} dport {rule.port} accept")
    else:
        entries = [
            f"{address} . {rule.protocol.lower()} . {rule.port} : accept" for rule in rules for address in members(rule)
        ]
        lines += [
            f"  map {INGRESS_MAP} {{",
            "    type ipv4_addr . inet_proto . inet_service : verdict; flags interval;",
            *([f"    elements = {{ {', '.join(dict.fromkeys(entries))} }}"] if entries else []),
            "  }",
        ]
        body.append(f"    ip saddr . meta l4proto . th dport vmap @{INGRESS_MAP}")
    lines += [
        f"  chain {INGRESS_CHAIN} {{",
        *body,
        "    drop",
        "  }",
        f"  chain {FORWARD_CHAIN} {{",
        "    type filter hook forward priority filter; policy accept;",
        "    ct state established,related accept",
        f"    ip daddr {daddr} jump {INGRESS_CHAIN}",
        "  }",
        "}",
    ]
    return lines


def remove_lines(table: str) -> list[str]:
    """An nft script removing the table whether or not it exists (``add`` first: idempotent)."""
    return [f"add table ip {table}", f"delete table ip {table}"]


def expected(rules: Sequence[IngressRule], members: Callable[[IngressRule], Sequence[str]],
             representation: Representation) -> LoadedPolicy:  # fmt: skip
    """What :func:`render_policy` loads for ``rules``: the base chain's rules, the policy chain's (one per rule and
    a drop; ``set``: the lookup and a drop) and the sets' or map's elements."""
    if representation == "chain":
        sets: dict[str, int] = {}
        for rule in rules:
            name = _selector_name(rule)
            if name is not None:
                sets.setdefault(name, len(members(rule)))
        return LoadedPolicy(BASE_RULES + len(rules) + 1, len(sets), sum(sets.values()))
    elements = {(a, rule.protocol, rule.port) for rule in rules for a in members(rule)}
    return LoadedPolicy(BASE_RULES + 2, 1, len(elements))
