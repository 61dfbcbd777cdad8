"""Encryption between nodes read back on Kubernetes (a variant's requested encryption checked before measuring), and
the key Secret cnibench generates for Cilium's IPsec.

The agents' outputs below are UPSTREAM'S OWN SAMPLES, copied from the page or file named beside each: no Kubernetes
runs on this machine, so none of them is a capture from here. What is tested is that cnibench reads them as upstream
prints them, and decides from them what upstream's own checks decide.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from cnibench.datapath_config import EFFECTIVE_KEY, EFFECTIVE_WARNINGS_KEY
from cnibench.platforms.kube import encryption
from cnibench.platforms.kube.cnis import CNIS
from cnibench.platforms.kube.encryption import (
    KeySecret,
    NodeEncryption,
    antrea_encryption_mode,
    antrea_wireguard_keys,
    encryption_problems,
    ipsec_keys,
    parse_cilium_encrypt_status,
    parse_cilium_status,
    parse_strongswan_status,
    pods_by_node,
    read_back,
    read_encryption,
)
from cnibench.platforms.kube.kubectl import Kubectl
from cnibench.proc import CommandError

# ---- upstream samples -----------------------------------------------------------------------------------------------
#: docs.cilium.io v1.19, security/network/encryption-wireguard, "Validate the Setup" (``cilium-dbg status | grep
#: Encryption``; the docs' own "<..>" for the key).
CILIUM_DOCS_WG = "Encryption: Wireguard [cilium_wg0 (Pubkey: <..>, Port: 51871, Peers: 2)]\n"
#: cilium/cilium issue #24239 (its proposed output, which pkg/client/client.go prints since: NodeEncryption first).
CILIUM_24239_WG = (
    "Encryption:   Wireguard [NodeEncryption: Enabled, cilium_wg0 (Pubkey: "
    "UzRSJUmRqsxl82xvFG0joBheaiqOnM3BCgpByYjVtCE=, Port: 51871, Peers: 3)]\n"
)
#: cilium/cilium PR #15833 (which added the line to ``cilium status``): its three forms, tab-separated.
CILIUM_15833 = {
    "none": "Encryption:\tDisabled\n",
    "ipsec": "Encryption:\tIPsec\n",
    "wireguard": "Encryption:\tWireguard\t[cilium_wg0 (Pubkey: GsIGt1Juo6p8gR93driyMD5FwFu2uOBBYGVsZtfQxho=, Port: "
    "51871, Peers: 1)]\n",
}
#: docs.cilium.io v1.19, security/network/encryption-ipsec, "Troubleshooting" (``cilium-dbg encrypt status``).
CILIUM_DOCS_IPSEC = """Encryption: IPsec
Decryption interface(s): eth0, eth1, eth2
Keys in use: 4
Max Seq. Number: 0x1e3/0xffffffff
Errors: 0
"""
#: antrea-io/antrea docs/traffic-encryption.md, "WireGuard": the antrea-config ConfigMap.
ANTREA_DOCS_CONFIG_MAP = {
    "kind": "ConfigMap",
    "apiVersion": "v1",
    "metadata": {"name": "antrea-config", "namespace": "kube-system"},
    "data": {"antrea-agent.conf": "trafficEncryptionMode: wireGuard\n"},
}
#: antrea-io/antrea pkg/antctl/raw/check/installation/test_ipsec_test.go (TestParseIPsecStatus): strongSwan's
#: ``ipsec status`` in the antrea-ipsec container, "GRE with 2 peers" and "No connections", with upstream's counts.
ANTREA_IPSEC_GRE = """Routed Connections:
ol-plane-a39e0c-1{2}:  ROUTED, TRANSPORT, reqid 2
ol-plane-a39e0c-1{2}:   172.19.0.2/32[gre] === 172.19.0.3/32[gre]
worker2-a0d026-1{1}:  ROUTED, TRANSPORT, reqid 1
worker2-a0d026-1{1}:   172.19.0.2/32[gre] === 172.19.0.4/32[gre]
Security Associations (1 up, 0 connecting):
worker2-a0d026-1[1]: ESTABLISHED 31 minutes ago, 172.19.0.2[172.19.0.2]...172.19.0.4[172.19.0.4]
worker2-a0d026-1{3}:  INSTALLED, TRANSPORT, reqid 1, ESP SPIs: c23e2664_i c44fc621_o
worker2-a0d026-1{3}:   172.19.0.2/32[gre] === 172.19.0.4/32[gre]
"""
#: The same test, "Geneve with 2 peers" (an -in and an -out connection per peer: counted once).
ANTREA_IPSEC_GENEVE = """Routed Connections:
worker2-a0d026-out-1{4}:  ROUTED, TRANSPORT, reqid 4
worker2-a0d026-out-1{4}:   fd98:a1ac:2207::3/128[udp] === fd98:a1ac:2207::4/128[udp/6081]
worker2-a0d026-in-1{3}:  ROUTED, TRANSPORT, reqid 3
worker2-a0d026-in-1{3}:   fd98:a1ac:2207::3/128[udp/6081] === fd98:a1ac:2207::4/128[udp]
ol-plane-a39e0c-out-1{2}:  ROUTED, TRANSPORT, reqid 2
ol-plane-a39e0c-out-1{2}:   fd98:a1ac:2207::3/128[udp] === fd98:a1ac:2207::2/128[udp/6081]
ol-plane-a39e0c-in-1{1}:  ROUTED, TRANSPORT, reqid 1
ol-plane-a39e0c-in-1{1}:   fd98:a1ac:2207::3/128[udp/6081] === fd98:a1ac:2207::2/128[udp]
Security Associations (1 up, 0 connecting):
worker2-a0d026-in-1[1]: ESTABLISHED 7 minutes ago, fd98:a1ac:2207::3[fd98:a1ac:2207::3]...fd98:a1ac:2207::4[fd98:a1ac:2207::4]
worker2-a0d026-out-1{5}:  INSTALLED, TRANSPORT, reqid 4, ESP SPIs: ca7cbbab_i c95f12bc_o
worker2-a0d026-out-1{5}:   fd98:a1ac:2207::3/128[udp] === fd98:a1ac:2207::4/128[udp/6081]
worker2-a0d026-in-1{6}:  INSTALLED, TRANSPORT, reqid 3, ESP SPIs: c37adb22_i c640af36_o
worker2-a0d026-in-1{6}:   fd98:a1ac:2207::3/128[udp/6081] === fd98:a1ac:2207::4/128[udp]
"""  # noqa: E501 - upstream's sample as it is
ANTREA_IPSEC_NONE = "Routed Connections:\nSecurity Associations (0 up, 0 connecting):\n"


# ---- Cilium ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "mode", "peers"),
    [
        (CILIUM_DOCS_WG, "wireguard", 2),
        (CILIUM_24239_WG, "wireguard", 3),
        (CILIUM_15833["wireguard"], "wireguard", 1),
        (CILIUM_15833["ipsec"], "ipsec", None),
        (CILIUM_15833["none"], "none", None),
    ],
)
def test_cilium_status_encryption_line_as_upstream_prints_it(text, mode, peers):
    status = "KVStore:  Disabled\nKubernetes:   Ok   1.35\n" + text + "Hubble:  Ok\n"
    found = parse_cilium_status(status)
    assert (found.mode, found.peers) == (mode, peers)


def test_cilium_status_keeps_what_matters_and_leaves_the_public_key_out():
    found = parse_cilium_status(CILIUM_24239_WG)
    assert found.seen == "Encryption: Wireguard, cilium_wg0 port 51871 3 peers, NodeEncryption Enabled"
    assert "UzRS" not in found.seen


def test_cilium_status_without_an_encryption_line_is_refused():
    with pytest.raises(ValueError, match="no 'Encryption:' line"):
        parse_cilium_status("KVStore:  Disabled\nCilium:  Ok   OK\n")


def test_cilium_encrypt_status_of_the_ipsec_docs():
    fields = parse_cilium_encrypt_status(CILIUM_DOCS_IPSEC)
    assert fields["Encryption"] == "IPsec" and fields["Errors"] == "0"
    assert fields["Decryption interface(s)"] == "eth0, eth1, eth2"
    assert ipsec_keys(fields) == 4
    assert ipsec_keys(parse_cilium_encrypt_status("Encryption: Disabled\n")) is None


# ---- Antrea ---------------------------------------------------------------------------------------------------------
def test_antrea_agent_conf_of_the_docs_asks_for_wireguard():
    assert antrea_encryption_mode(ANTREA_DOCS_CONFIG_MAP) == "wireguard"
    unset = {"data": {"antrea-agent.conf": "trafficEncapMode: encap\n"}}
    assert antrea_encryption_mode(unset) == "none"  # the agent's default
    assert antrea_encryption_mode(None) == "unknown"


@pytest.mark.parametrize(
    ("text", "routed", "up"), [(ANTREA_IPSEC_GRE, 2, 1), (ANTREA_IPSEC_GENEVE, 2, 1), (ANTREA_IPSEC_NONE, 0, 0)]
)
def test_strongswan_status_counted_as_antreas_own_check_counts_it(text, routed, up):
    assert parse_strongswan_status(text) == (routed, up)


def test_strongswan_status_without_its_summary_is_refused():
    with pytest.raises(ValueError, match="Security Associations"):
        parse_strongswan_status("Routed Connections:\n")


def test_antrea_wireguard_public_key_annotation_per_node():
    nodes = {
        "items": [
            {"metadata": {"name": "a", "annotations": {"node.antrea.io/wireguard-public-key": "k="}}},
            {"metadata": {"name": "b", "annotations": {"node.antrea.io/wireguard-public-key": ""}}},
            {"metadata": {"name": "c"}},
        ]
    }
    assert antrea_wireguard_keys(nodes) == {"a": True, "b": False, "c": False}


# ---- deciding -------------------------------------------------------------------------------------------------------
def _wg(node: str, peers: int | None = 2, mode: str = "wireguard") -> NodeEncryption:
    return NodeEncryption(node, mode, f"Encryption: {mode}", peers=peers)


def test_active_on_every_node_with_a_peer_per_other_node_is_no_problem():
    assert encryption_problems("wireguard", [_wg("a"), _wg("b"), _wg("c")], nodes=3) == []


def test_requested_but_not_active_names_the_nodes_and_what_they_said():
    seen = [_wg("a"), NodeEncryption("b", "none", "Encryption: Disabled"), _wg("c")]
    (line,) = encryption_problems("wireguard", seen, nodes=3)
    assert line.startswith("encryption wireguard requested but not active on 1 of 3 nodes (b: Encryption: Disabled)")
    assert "\n" not in line


def test_fewer_wireguard_peers_than_other_nodes_is_a_problem():
    (line,) = encryption_problems("wireguard", [_wg("a", 2), _wg("b", 1), _wg("c", 2)], nodes=3)
    assert line.startswith("encryption wireguard has tunnels to fewer than the 2 other nodes (b: 1)")


def test_ipsec_with_fewer_keys_than_two_per_other_node_is_a_problem():
    """Cilium's IPsec page: "The number of keys in use should be 2 per remote node per enabled IP family"; its
    sample (4 keys) is right for 3 nodes."""
    keys = ipsec_keys(parse_cilium_encrypt_status(CILIUM_DOCS_IPSEC))
    seen = [NodeEncryption(n, "ipsec", "IPsec", keys=k) for n, k in (("a", 0), ("b", keys), ("c", 3))]
    (line,) = encryption_problems("ipsec", seen, nodes=3)
    assert (
        line == "encryption ipsec has fewer IPsec keys in use than the 4 expected, 2 per other node (a: 0; c: 3): "
        "some tunnels are not set up"
    )
    assert encryption_problems("ipsec", seen[1:2], nodes=3) == []


def test_no_agent_found_is_a_problem():
    (line,) = encryption_problems("ipsec", [], nodes=3)
    assert line == "encryption ipsec requested, but no agent pod was found to ask"


def test_read_back_records_the_mode_compare_compares():
    facts = read_back("wireguard", [_wg("a"), _wg("b")], nodes=2)
    assert facts[EFFECTIVE_KEY] == {"encryption": "wireguard"}
    assert facts["encryption_read_back"] == {"a": "Encryption: wireguard", "b": "Encryption: wireguard"}
    mixed = read_back("wireguard", [_wg("a", 1), NodeEncryption("b", "none", "Disabled")], nodes=2)
    assert mixed[EFFECTIVE_KEY] == {"encryption": "wireguard on 1 of 2 nodes, none on 1 of 2 nodes"}
    assert len(mixed[EFFECTIVE_WARNINGS_KEY]) == 1


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_tunnels_still_coming_up_are_read_again_until_they_are_up():
    reads = iter([[_wg("a", 0), _wg("b", 0)], [_wg("a", 1), _wg("b", 0)], [_wg("a", 1), _wg("b", 1)]])
    clock = _Clock()
    facts = read_encryption(lambda: next(reads), "wireguard", 2, timeout=60, sleep=clock.sleep, clock=lambda: clock.now)
    assert facts[EFFECTIVE_WARNINGS_KEY] == [] and clock.slept == [5.0, 5.0]


def test_another_mode_is_reported_at_once_and_a_deadline_ends_the_wait():
    clock = _Clock()
    off = [_wg("a"), NodeEncryption("b", "none", "Encryption: Disabled")]
    facts = read_encryption(lambda: off, "wireguard", 2, timeout=60, sleep=clock.sleep, clock=lambda: clock.now)
    assert clock.slept == [] and "not active on 1 of 2 nodes" in facts[EFFECTIVE_WARNINGS_KEY][0]

    def broken() -> list[NodeEncryption]:
        raise CommandError(["kubectl", "exec"], 1, "", "error: unable to upgrade connection", "exit code 1")

    clock = _Clock()
    facts = read_encryption(broken, "ipsec", 2, timeout=12, sleep=clock.sleep, clock=lambda: clock.now)
    assert clock.slept == [5.0, 5.0] and facts[EFFECTIVE_KEY] == {"encryption": "unread"}
    assert facts[EFFECTIVE_WARNINGS_KEY][0].startswith("encryption ipsec requested, not checked: the agents could not")


def test_a_daemonsets_running_pods_by_node():
    pods = {
        "items": [
            {"metadata": {"name": "cilium-x"}, "spec": {"nodeName": "w1"}, "status": {"phase": "Running"}},
            {"metadata": {"name": "cilium-y"}, "spec": {"nodeName": "cp"}, "status": {"phase": "Running"}},
            {"metadata": {"name": "cilium-z"}, "spec": {"nodeName": "w2"}, "status": {"phase": "Pending"}},
            {"metadata": {"name": "cilium-u"}, "spec": {}, "status": {"phase": "Pending"}},
        ]
    }
    assert pods_by_node(pods) == {"cp": "cilium-y", "w1": "cilium-x"}


# ---- the descriptors ------------------------------------------------------------------------------------------------
def test_only_an_encrypted_variant_of_a_cni_that_can_be_asked_is_checked():
    cilium, antrea = CNIS.get("cilium"), CNIS.get("antrea")
    assert encryption.encryption_check(cilium, 600) is None
    assert encryption.encryption_check(cilium.variant("c-wg", {"encryption": "wireguard"}), 600) == {
        "requested": "wireguard",
        "timeout": encryption.TUNNEL_TIMEOUT_S,
    }
    assert encryption.encryption_check(antrea.variant("a-ipsec", {"encryption": "ipsec"}), 60) == {
        "requested": "ipsec",
        "timeout": 60,
    }
    assert encryption.encryption_check(CNIS.get("calico"), 600) is None  # no encryption knob


def test_cilium_reads_each_agent_and_ipsec_keys(monkeypatch):
    """The commands Cilium's descriptor runs, in which container, and what it makes of the (upstream sample)
    answers."""
    ran: list[list[str]] = []
    answers = {"status": "Cilium:  Ok\n" + CILIUM_15833["ipsec"], "encrypt": CILIUM_DOCS_IPSEC}

    def exec_in(kubectl: Kubectl, namespace: str, pod: str, container: str, argv: list[str]) -> str:
        ran.append([namespace, pod, container, *argv])
        return answers[argv[1]]

    cilium = CNIS.get("cilium")
    module = __import__(type(cilium).__module__, fromlist=["x"])
    monkeypatch.setattr(module, "exec_in", exec_in)
    monkeypatch.setattr(module, "agent_pods", lambda kubectl, ns, ds: {"w1": "cilium-a", "w2": "cilium-b"})
    seen = cilium.encryption_seen(Kubectl(None, None, "cnibench"), "kube-system")
    assert ran[:2] == [
        ["kube-system", "cilium-a", "cilium-agent", "cilium-dbg", "status"],
        ["kube-system", "cilium-a", "cilium-agent", "cilium-dbg", "encrypt", "status"],
    ]
    assert [(e.node, e.mode, e.keys) for e in seen] == [("w1", "ipsec", 4), ("w2", "ipsec", 4)]
    assert seen[0].seen == "Encryption: IPsec, keys in use 4, errors 0"


# ---- the IPsec key Secret -------------------------------------------------------------------------------------------
def test_cilium_ipsec_variant_needs_its_key_secret_in_the_documented_format():
    assert CNIS.get("cilium").key_secrets() == ()
    (secret,) = CNIS.get("cilium").variant("c-ipsec", {"encryption": "ipsec"}).key_secrets()
    assert (secret.name, secret.namespace, secret.key) == ("cilium-ipsec-keys", "kube-system", "keys")
    # docs security/network/encryption-ipsec: "key-id encryption-algorithms PSK-in-hex-format key-size", "3+" (the +:
    # per-tunnel keys), rfc4106(gcm(aes)), 20 random bytes (dd count=20 bs=1 | xxd -p), 128
    first, second = secret.value(), secret.value()
    assert re.fullmatch(r"3\+ rfc4106\(gcm\(aes\)\) [0-9a-f]{40} 128", first)
    assert first != second  # a fresh key each time: one per cluster


def test_the_key_reaches_kubectl_on_its_standard_input_only(monkeypatch):
    calls: list[dict[str, Any]] = []

    def run(argv: list[str], **kwargs: Any) -> None:
        calls.append({"argv": argv, **kwargs})

    monkeypatch.setattr(encryption, "run", run)
    secret = KeySecret("cilium-ipsec-keys", "kube-system", "keys", "3+ rfc4106(gcm(aes)) {hex} 128", 20, "docs")
    encryption.apply_key_secret(Kubectl("/k/config", "ctx", "cnibench"), secret)
    (call,) = calls
    import json

    sent = json.loads(call["input"])
    key = sent["stringData"]["keys"]
    assert re.fullmatch(r"3\+ rfc4106\(gcm\(aes\)\) [0-9a-f]{40} 128", key)
    assert sent["metadata"] == {
        "name": "cilium-ipsec-keys",
        "namespace": "kube-system",
        "labels": {"app.kubernetes.io/managed-by": "cnibench"},
    }
    assert call["argv"] == [
        "kubectl", "--kubeconfig", "/k/config", "--context", "ctx", "apply", "--server-side", "--field-manager",
        "cnibench", "--filename", "-", "--output", "name",
    ]  # fmt: skip
    assert not any(key.split()[2] in arg for arg in call["argv"])
    assert key.split()[2] not in json.dumps(secret.to_vars())  # what the playbook carries has no key


def test_the_key_secret_task_returns_no_key(monkeypatch):
    from cnibench.platforms.kube import tasks

    sent: list[str] = []
    monkeypatch.setattr(encryption, "run", lambda argv, **kw: sent.append(kw["input"]))
    vars_ = CNIS.get("cilium").variant("c-ipsec", {"encryption": "ipsec"}).key_secrets()[0].to_vars()
    result = tasks.kube_key_secret({"kubeconfig": None, "context": None, "namespace": "cnibench", "secret": vars_})
    assert result == {"kind": "done", "changed": True, "name": "cilium-ipsec-keys", "namespace": "kube-system"}
    hex_key = __import__("json").loads(sent[0])["stringData"]["keys"].split()[2]
    assert hex_key not in repr(result)


def test_the_kube_encryption_task_asks_every_cilium_agent_and_records_what_it_said(monkeypatch):
    """The task as the playbook runs it, kubectl answered with documents of kubectl's shapes and, for the agents,
    upstream's sample outputs (a 3-node cluster whose third agent reports WireGuard disabled)."""
    import json
    import subprocess

    from cnibench.platforms.kube import kubectl as kubectl_module
    from cnibench.platforms.kube import tasks

    pods = {
        "items": [
            {"metadata": {"name": f"cilium-{n}"}, "spec": {"nodeName": n}, "status": {"phase": "Running"}}
            for n in ("cp", "w1", "w2")
        ]
    }
    documents = {
        ("get", "daemonsets"): {"items": [{"metadata": {"name": "cilium", "namespace": "kube-system"}}]},
        ("get", "nodes"): {"items": [{"metadata": {"name": n}} for n in ("cp", "w1", "w2")]},
        ("get", "daemonset"): {"spec": {"selector": {"matchLabels": {"k8s-app": "cilium"}}}},
        ("get", "pods"): pods,
    }
    wg = CILIUM_DOCS_WG  # Peers: 2 - one per other node of 3
    statuses = {"cilium-cp": wg, "cilium-w1": wg, "cilium-w2": CILIUM_15833["none"]}
    calls: list[list[str]] = []

    def run(argv: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        calls.append(list(argv))
        verb = argv.index("get") if "get" in argv else 0
        args = argv[verb : verb + 2]
        if "exec" in argv:
            pod = argv[argv.index("exec") + 3]
            return subprocess.CompletedProcess(argv, 0, "Cilium:  Ok\n" + statuses[pod], "")
        return subprocess.CompletedProcess(argv, 0, json.dumps(documents[tuple(args[:2])]), "")

    monkeypatch.setattr(kubectl_module, "run", run)
    monkeypatch.setattr(encryption, "run", run)
    params = {"kubeconfig": "/k", "context": None, "namespace": "cnibench", "variant": "cilium-wg", "cni": "cilium",
              "requested": "wireguard", "timeout": 0.0}  # fmt: skip
    result = tasks.kube_encryption(params)
    assert (result["kind"], result["cni"]) == ("cluster_facts", "cilium-wg")
    facts = result["facts"]
    assert facts[EFFECTIVE_KEY] == {"encryption": "wireguard on 2 of 3 nodes, none on 1 of 3 nodes"}
    assert facts["encryption_read_back"]["w2"] == "Encryption: Disabled"
    (line,) = facts[EFFECTIVE_WARNINGS_KEY]
    assert line.startswith("encryption wireguard requested but not active on 1 of 3 nodes (w2: Encryption: Disabled)")
    execs = [c[c.index("exec") :] for c in calls if "exec" in c]
    assert execs[0] == ["exec", "--namespace", "kube-system", "cilium-cp", "--container", "cilium-agent", "--",
                        "cilium-dbg", "status"]  # fmt: skip
    assert next(c for c in calls if "pods" in c)[-4:-2] == ["--selector", "k8s-app=cilium"]


def test_antrea_wireguard_is_read_from_its_config_and_every_nodes_public_key(monkeypatch):
    """Antrea's descriptor reads antrea-agent.conf (the docs' ConfigMap) and the Nodes' annotations, as antctl check
    installation does: a Node without its key has no WireGuard yet."""
    import json
    import subprocess

    from cnibench.platforms.kube import kubectl as kubectl_module

    nodes = {
        "items": [
            {"metadata": {"name": "a", "annotations": {"node.antrea.io/wireguard-public-key": "k1="}}},
            {"metadata": {"name": "b", "annotations": {}}},
        ]
    }

    def run(argv: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        answer = ANTREA_DOCS_CONFIG_MAP if "configmap" in argv else nodes
        return subprocess.CompletedProcess(argv, 0, json.dumps(answer), "")

    monkeypatch.setattr(kubectl_module, "run", run)
    seen = CNIS.get("antrea").encryption_seen(Kubectl(None, None, "cnibench"), "kube-system")
    assert [(e.node, e.mode) for e in seen] == [("a", "wireguard"), ("b", "none")]
    assert seen[1].seen == (
        "antrea-agent.conf trafficEncryptionMode wireguard, node.antrea.io/wireguard-public-key missing"
    )
