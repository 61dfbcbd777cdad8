"""The network-policy scenario's platform-neutral rules: sizes, forms, decoy addresses and the reference verdict."""

from __future__ import annotations

import ipaddress

import pytest

from cnibench.scenarios._policy_rules import (
    BENCHMARK_RANGE,
    CLIENT_LABEL,
    FORMS,
    MAX_RULES,
    Protocol,
    admitted,
    decoy_block,
    decoy_member,
    ingress_rules,
)

PORTS: list[tuple[Protocol, int]] = [("TCP", 5201), ("UDP", 11111)]
CLIENT = {"pod_labels": dict([CLIENT_LABEL]), "namespace_labels": {}, "same_namespace": True, "address": "10.244.1.5"}


@pytest.mark.parametrize("size", [0, 1, 10, 100, 1000])
def test_size_decoys_then_one_match_per_port(size: int) -> None:
    rules = ingress_rules(size, PORTS)
    assert len(rules) == size + len(PORTS)
    assert [r.matches for r in rules] == [False] * size + [True] * len(PORTS)
    assert [r.decoy for r in rules[:size]] == list(range(size))


def test_forms_take_turns() -> None:
    rules = ingress_rules(8, PORTS)
    assert [r.form for r in rules[:8]] == list(FORMS) * 2


def test_decoys_never_admit_the_client_and_the_match_does() -> None:
    rules = ingress_rules(1000, PORTS)
    for protocol, port in PORTS:
        assert not admitted(rules[:1000], protocol=protocol, port=port, **CLIENT)  # type: ignore[arg-type]
        assert admitted(rules, protocol=protocol, port=port, **CLIENT)  # type: ignore[arg-type]
    # a decoy's own member is admitted by its rule: decoys are real rules, not dead ones
    block = rules[2]
    assert block.form == "ip-block" and block.peer.cidr is not None
    inside = str(ipaddress.IPv4Network(block.peer.cidr)[3])
    assert admitted([block], pod_labels={}, namespace_labels={}, same_namespace=False, address=inside,
                    protocol=block.protocol, port=block.port)  # fmt: skip
    # a pod selector selects only in the policy's namespace
    assert not admitted(rules, protocol="TCP", port=5201, **{**CLIENT, "same_namespace": False})  # type: ignore[arg-type]


def test_decoy_addresses_distinct_and_inside_the_benchmark_range() -> None:
    blocks = [decoy_block(i) for i in range(MAX_RULES)]
    members = [decoy_member(i) for i in range(MAX_RULES)]
    assert all(b.subnet_of(BENCHMARK_RANGE) for b in blocks)
    assert all(m in BENCHMARK_RANGE for m in members)
    assert len(set(members)) == MAX_RULES
    assert not any(blocks[i].overlaps(blocks[i + 1]) for i in range(MAX_RULES - 1))
    assert max(int(b.broadcast_address) for b in blocks) < min(int(m) for m in members)


@pytest.mark.parametrize(
    ("size", "ports", "message"),
    [
        (-1, PORTS, "must be 0 to"),
        (MAX_RULES + 1, PORTS, "must be 0 to"),
        (1, [], "at least one server port"),
        (1, [("TCP", 20000)], "decoy ports start there"),
    ],
)
def test_bad_input(size: int, ports: list[tuple[str, int]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ingress_rules(size, ports)  # type: ignore[arg-type]
