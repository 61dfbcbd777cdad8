"""The network-policy nft renderer: the script of both representations, loaded by a real nft in a throwaway
namespace (rules and elements read back), and its verdicts on real TCP connections against NetworkPolicy's
reference verdict (:func:`cnibench.scenarios._policy_rules.admitted`)."""

from __future__ import annotations

import functools
import json
import subprocess
import sys

import pytest
from policy_lab import CLIENTS, PORTS, SERVER, needs_root, nft_apply

from cnibench.platforms.netns.policy_nft import (
    REPRESENTATIONS,
    expected,
    loaded,
    netns_members,
    remove_lines,
    render_policy,
)
from cnibench.scenarios._policy_rules import CLIENT_LABEL, NAMESPACE_NAME_LABEL, admitted, decoy_block, ingress_rules


def _script(size: int, representation: str, table: str = "np") -> str:
    rules = ingress_rules(size, PORTS)
    members = functools.partial(netns_members, clients=CLIENTS)
    return "\n".join(render_policy(rules, table=table, protected=[SERVER], members=members,
                                   representation=representation)) + "\n"  # type: ignore[arg-type]  # fmt: skip


def test_chain_has_one_rule_per_policy_rule_in_order_and_a_set_per_selector():
    text = _script(4, "chain")
    lines = [line.strip() for line in text.splitlines()]
    body = lines[lines.index("chain ingress {") + 1 : lines.index("drop")]
    assert body == [
        "ip saddr @sel-pod-0 tcp dport 5201 accept",
        "ip saddr @sel-namespace-1 tcp dport 8080 accept",
        f"ip saddr {decoy_block(2)} tcp dport 5201 accept",
        "ip saddr @sel-clients tcp dport 20003 accept",
        "ip saddr @sel-clients tcp dport 5201 accept",
        "ip saddr @sel-clients tcp dport 8080 accept",
    ]
    assert "set sel-clients { type ipv4_addr; elements = { 10.244.2.3, 10.244.1.3 }; }" in lines
    forward = lines[lines.index("chain forward {") + 1 :]
    assert forward[1] == "ct state established,related accept" and forward[2] == f"ip daddr {SERVER} jump ingress"


def test_set_is_one_lookup_over_every_member_and_port():
    lines = [line.strip() for line in _script(4, "set").splitlines()]
    body = lines[lines.index("chain ingress {") + 1 : lines.index("drop")]
    assert body == ["ip saddr . meta l4proto . th dport vmap @ingress-allow"]
    [elements] = [line for line in lines if line.startswith("elements")]
    assert elements.count(": accept") == 1 + 1 + 1 + 2 + 2 * 2  # decoys (pod, ns, block, clients x 1), matching


def test_unknown_representation_and_no_protected_pod_are_refused():
    with pytest.raises(ValueError, match="unknown representation 'tree'; valid: chain, set"):
        _script(1, "tree")
    with pytest.raises(ValueError, match="at least one pod"):
        render_policy(ingress_rules(0, PORTS), table="t", protected=[], members=lambda r: [], representation="set")


def test_loaded_refuses_what_is_not_nft_json():
    with pytest.raises(ValueError, match="not an nft -j listing"):
        loaded("[]", "np")
    with pytest.raises(ValueError, match="no table ip np"):
        loaded({"nftables": [{"metainfo": {"version": "1.0.6"}}]}, "np")


# ---- real nft, real packets ------------------------------------------------------------------------------------


_CONNECT = """
import json, socket, sys
out = {}
for item in json.loads(sys.argv[1]):
    source, port = item
    s = socket.socket()
    s.settimeout(0.3)
    s.bind((source, 0))
    try:
        s.connect((sys.argv[2], port))
        out[f"{source}:{port}"] = "open"
    except ConnectionRefusedError:
        out[f"{source}:{port}"] = "refused"
    except (TimeoutError, socket.timeout):
        out[f"{source}:{port}"] = "timeout"
    finally:
        s.close()
print(json.dumps(out))
"""


def _connects(src: str, cases: list[tuple[str, int]]) -> dict[str, str]:
    proc = subprocess.run(["ip", "netns", "exec", src, sys.executable, "-c", _CONNECT, json.dumps(cases), SERVER],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return dict(json.loads(proc.stdout))


@needs_root
@pytest.mark.parametrize("representation", REPRESENTATIONS)
def test_nft_loads_it_and_reads_back_what_was_rendered(lab, representation):
    for size in (0, 10, 1000):
        rules = ingress_rules(size, PORTS)
        members = functools.partial(netns_members, clients=CLIENTS)
        result = nft_apply(lab["router"], "\n".join(remove_lines("np")) + "\n" + _script(size, representation))
        assert result.returncode == 0, result.stderr
        listing = subprocess.run(["ip", "netns", "exec", lab["router"], "nft", "-j", "list", "table", "ip", "np"],
                                 capture_output=True, text=True, check=True).stdout  # fmt: skip
        got = loaded(listing, "np")
        assert got == expected(rules, members, representation), (size, got)
        assert got.rules == (size + len(PORTS) + 3 if representation == "chain" else 4)


@needs_root
@pytest.mark.parametrize("representation", REPRESENTATIONS)
def test_real_connections_get_networkpolicys_verdict(lab, representation):
    """Each source (a client, an intruder, a decoy pod, a pod of a decoy namespace, an address of a decoy block) to
    each port: the policy in the router's forward hook lets exactly the connections through that NetworkPolicy
    admits (rules: decoys 0-3 = pod selector on 5201, namespace selector on 8080, ipBlock on 5201, the clients on
    20003; then the clients on 5201 and 8080)."""
    rules = ingress_rules(4, PORTS)
    assert nft_apply(lab["router"], _script(4, representation)).returncode == 0
    block = str(decoy_block(2)[1])
    who = {  # source -> (pod labels, namespace labels, in the policy's namespace)
        CLIENTS[0]: ({CLIENT_LABEL[0]: CLIENT_LABEL[1]}, {NAMESPACE_NAME_LABEL: "bench"}, True),
        "10.244.2.9": ({}, {NAMESPACE_NAME_LABEL: "bench"}, True),
        "198.19.0.0": ({"app": "decoy-0"}, {NAMESPACE_NAME_LABEL: "bench"}, True),
        "198.19.0.1": ({}, {NAMESPACE_NAME_LABEL: "decoy-ns-1"}, False),
        block: ({}, {NAMESPACE_NAME_LABEL: "elsewhere"}, False),
    }
    ports = [5201, 8080, 20003]
    seen = _connects(lab["src"], [(source, port) for source in who for port in ports])
    for source, (pod, ns, same) in who.items():
        for port in ports:
            verdict = admitted(rules, pod_labels=pod, namespace_labels=ns, same_namespace=same, address=source,
                               protocol="TCP", port=port)  # fmt: skip
            assert seen[f"{source}:{port}"] == ("refused" if verdict else "timeout"), (source, port, verdict)
    assert seen[f"{CLIENTS[0]}:5201"] == "refused" and seen["10.244.2.9:5201"] == "timeout"  # both outcomes occur
