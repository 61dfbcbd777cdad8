"""The network-policy scenario's NetworkPolicy objects (issue 30), offline: every object valid against the pinned
Kubernetes 1.36 schema (../shared/tools/validate_manifests.py --strict), and their meaning, evaluated here by
NetworkPolicy's documented semantics, the same as the platform-neutral reference verdict (``admitted()``) for the
clients and for every decoy."""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from cnibench.platforms.kube import network_policy as np
from cnibench.scenarios._policy_rules import (
    CLIENT_LABEL,
    DECOY_PORT_BASE,
    MAX_RULES,
    NAMESPACE_NAME_LABEL,
    SERVER_LABEL,
    Protocol,
    admitted,
    decoy_block,
    decoy_member,
    ingress_rules,
)

ROOT = Path(__file__).resolve().parents[4]
VALIDATOR = ROOT.parent / "shared" / "tools" / "validate_manifests.py"
needs_shared = pytest.mark.skipif(not VALIDATOR.exists(), reason="../shared (pinned schemas and validator) not here")
NS = "cnibench"
PORTS: list[tuple[Protocol, int]] = [("TCP", 5201), ("UDP", 5201), ("TCP", 8080)]
SERVER = dict([SERVER_LABEL])
CLIENT = dict([CLIENT_LABEL])


# ---- a small evaluator of rendered NetworkPolicy objects ------------------------------------------------------------
# Written here (no library evaluates NetworkPolicy objects offline) from the API's own words: networking/v1
# NetworkPolicySpec.ingress ("Traffic is allowed to a pod if there are no NetworkPolicies selecting the pod ..., OR
# if the traffic matches at least one ingress rule across all of the NetworkPolicy objects whose podSelector matches
# the pod"), NetworkPolicyIngressRule (empty or missing from/ports: every source/port), NetworkPolicyPeer (podSelector
# alone: pods of the policy's namespace; namespaceSelector alone: all pods of the namespaces; both: AND; ipBlock:
# the CIDR minus its except) and NetworkPolicyPort (protocol defaults to TCP; port missing: every port; endPort).


def _selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, selector  # the generator writes no matchExpressions
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def _peer(peer: Mapping[str, Any], policy_ns: str, source: Mapping[str, Any]) -> bool:
    if "ipBlock" in peer:
        address = ipaddress.IPv4Address(source["address"])
        block = peer["ipBlock"]
        excepted = any(address in ipaddress.IPv4Network(c) for c in block.get("except", []))
        return address in ipaddress.IPv4Network(block["cidr"]) and not excepted
    pods, namespaces = peer.get("podSelector"), peer.get("namespaceSelector")
    if namespaces is None:
        in_namespace = source["namespace"] == policy_ns
    else:
        in_namespace = _selects(namespaces, source["namespace_labels"])
    return in_namespace and (pods is None or _selects(pods, source["labels"]))


def _port(port: Mapping[str, Any], protocol: str, number: int) -> bool:
    if port.get("protocol", "TCP") != protocol:
        return False
    if "port" not in port:
        return True
    return bool(port["port"] <= number <= port.get("endPort", port["port"]))


def evaluate(policies: Sequence[Mapping[str, Any]], *, pod_ns: str, pod_labels: Mapping[str, str],
             source: Mapping[str, Any], protocol: str, port: int) -> bool:  # fmt: skip
    """Whether the rendered ``policies`` admit ``source``'s connection to a pod."""
    applying = [
        p for p in policies
        if p["metadata"]["namespace"] == pod_ns
        and "Ingress" in p["spec"].get("policyTypes", ["Ingress"])
        and _selects(p["spec"]["podSelector"], pod_labels)
    ]  # fmt: skip
    if not applying:
        return True
    for policy in applying:
        for item in policy["spec"].get("ingress") or []:
            peers, ports = item.get("from") or [], item.get("ports") or []
            peer_ok = not peers or any(_peer(p, policy["metadata"]["namespace"], source) for p in peers)
            port_ok = not ports or any(_port(p, protocol, port) for p in ports)
            if peer_ok and port_ok:
                return True
    return False


def _source(labels: Mapping[str, str], namespace: str = NS, address: str = "10.244.1.7") -> dict[str, Any]:
    return {"labels": dict(labels), "namespace": namespace,
            "namespace_labels": {NAMESPACE_NAME_LABEL: namespace}, "address": address}  # fmt: skip


def _connections(size: int) -> list[tuple[str, dict[str, Any], Protocol, int]]:
    """(what, source, protocol, port): the clients on every server port, and for every decoy rule the source its
    peer selects (on the server's port and on its own), and sources no rule names."""
    out: list[tuple[str, dict[str, Any], Protocol, int]] = []
    for protocol, port in PORTS:
        out += [
            ("client", _source(CLIENT), protocol, port),
            ("client from another namespace", _source(CLIENT, "other"), protocol, port),
            ("pod without the client label", _source({"app.kubernetes.io/name": "np-denied"}), protocol, port),
            ("client label, wrong value", _source({CLIENT_LABEL[0]: "server"}), protocol, port),
        ]
    for i in range(size):
        protocol, port = PORTS[i % len(PORTS)]
        out += [
            (f"decoy pod {i}", _source({"app": f"decoy-{i}"}), protocol, port),
            (f"decoy pod {i}, other namespace", _source({"app": f"decoy-{i}"}, "elsewhere"), protocol, port),
            (f"pod in decoy namespace {i}", _source({}, f"decoy-ns-{i}"), protocol, port),
            (f"decoy block {i}", _source({}, "x", str(decoy_block(i)[3])), protocol, port),
            (f"decoy member {i}", _source({}, "x", str(decoy_member(i))), protocol, port),
            (f"client on decoy port {i}", _source(CLIENT), protocol, DECOY_PORT_BASE + i),
        ]
    return out


@pytest.mark.parametrize("size", [0, 1, 4, 10, 101])
def test_the_objects_mean_what_the_reference_verdict_says(size):
    objects = np.policy_objects(size, PORTS, NS)
    rules = ingress_rules(size, PORTS)
    verdicts = {True: 0, False: 0}
    for what, source, protocol, port in _connections(size):
        expected = admitted(
            rules, pod_labels=source["labels"], namespace_labels=source["namespace_labels"],
            same_namespace=source["namespace"] == NS, address=source["address"], protocol=protocol, port=port,
        )  # fmt: skip
        got = evaluate(objects, pod_ns=NS, pod_labels=SERVER, source=source, protocol=protocol, port=port)
        assert got == expected, (what, protocol, port)
        verdicts[got] += 1
        if what == "client":
            assert got, "the clients must be admitted on every server port"
        if what in ("pod without the client label", "client from another namespace"):
            assert not got, what
    assert verdicts[True] and verdicts[False]  # both answers were asked for


def test_only_the_server_pods_are_protected():
    objects = np.policy_objects(10, PORTS, NS)
    anyone = _source({"app.kubernetes.io/name": "np-denied"})
    assert evaluate(objects, pod_ns=NS, pod_labels=CLIENT, source=anyone, protocol="TCP", port=5201)
    assert evaluate(objects, pod_ns="other", pod_labels=SERVER, source=anyone, protocol="TCP", port=5201)
    assert not evaluate(objects, pod_ns=NS, pod_labels=SERVER, source=anyone, protocol="TCP", port=5201)


def test_one_allow_policy_keeps_the_decoys_in_front_of_the_match_in_order():
    deny, allow = np.policy_objects(8, PORTS, NS)
    assert deny["metadata"]["name"] == np.DENY_NAME and "ingress" not in deny["spec"]
    assert deny["spec"] == {"podSelector": {"matchLabels": SERVER}, "policyTypes": ["Ingress"]}
    items = allow["spec"]["ingress"]
    assert len(items) == 8 + len(PORTS)
    assert [next(iter(i["from"][0])) for i in items[:8]] == ["podSelector", "namespaceSelector", "ipBlock",
                                                              "podSelector"] * 2  # fmt: skip
    assert items[3] == {"from": [{"podSelector": {"matchLabels": CLIENT}}],
                        "ports": [{"protocol": "TCP", "port": DECOY_PORT_BASE + 3}]}  # fmt: skip
    assert items[-len(PORTS) :] == [
        {"from": [{"podSelector": {"matchLabels": CLIENT}}], "ports": [{"protocol": p, "port": n}]} for p, n in PORTS
    ]
    assert allow["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "cnibench", np.SIZE_LABEL: "8"}


def test_the_largest_policy_fits_an_object_applied_server_side():
    """etcd's default request limit is 1.5 MiB (--max-request-bytes); a client-side apply would copy the object
    into a 256 KiB annotation, which the largest sizes exceed: hence server-side apply."""
    largest = len(json.dumps(np.policy_objects(MAX_RULES, PORTS, NS)[1]))
    assert 256 * 1024 < largest < 1.5 * 1024 * 1024
    assert np.APPLY_FLAGS[0] == "--server-side"


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="-1 non-matching rules"):
        np.policy_objects(-1, PORTS, NS)
    with pytest.raises(ValueError, match="at least one rule"):
        np.allow([], NS, non_matching=0)


@needs_shared
def test_every_object_passes_the_pinned_schema(tmp_path):
    paths = []
    for size in (0, 10, 100, 1000):
        path = tmp_path / f"policy-{size}.yaml"
        path.write_text(yaml.safe_dump_all(np.policy_objects(size, PORTS, NS)))
        paths.append(str(path))
    result = subprocess.run([sys.executable, str(VALIDATOR), "--strict", "-v", *paths],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("OK ") == 8 and " 0 failed" in result.stdout, result.stdout
