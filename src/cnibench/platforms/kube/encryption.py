"""Encryption between nodes on a Kubernetes cluster: what a CNI's agents say about it once the CNI is installed and
before anything is measured (a variant that asks for WireGuard or IPsec and does not have it would publish an
unencrypted datapath's numbers under an encrypted variant's name), and the key Secrets a CNI needs before its chart
(Cilium's IPsec key, generated per cluster at run time).

The parsers read the agents' own outputs as upstream prints and documents them (each function names its source);
the tests feed them upstream's own sample outputs. The descriptors (:mod:`cnibench.platforms.kube.cnis`) say which
command to run in which container; the run-time task is :func:`read_encryption`.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from cnibench.datapath_config import EFFECTIVE_KEY, EFFECTIVE_WARNINGS_KEY
from cnibench.platforms.kube.render import meta
from cnibench.proc import CommandError, run

if TYPE_CHECKING:
    from cnibench.platforms.kube.kubectl import Kubectl

#: The spec's words for an encryption mode (the ``encryption`` knob's values).
NONE, WIREGUARD, IPSEC = "none", "wireguard", "ipsec"


@dataclass(frozen=True)
class NodeEncryption:
    """What one node's CNI agent reports: ``mode`` in the spec's words (``none``, ``wireguard``, ``ipsec``;
    ``unknown`` when its output could not be read), ``peers``: the remote nodes it has a tunnel to (WireGuard peers,
    IPsec routed connections; None: not reported), ``keys``: IPsec keys in use (None: not reported), ``seen``: what
    it said, in one line (its own words, public keys left out)."""

    node: str
    mode: str
    seen: str
    peers: int | None = None
    keys: int | None = None


# ---- Cilium ---------------------------------------------------------------------------------------------------------
#: ``cilium-dbg status``'s ``Encryption:`` modes (api/v1 models.EncryptionStatus Mode: Disabled, IPsec, Wireguard).
CILIUM_MODES = {"disabled": NONE, "wireguard": WIREGUARD, "ipsec": IPSEC}
_CILIUM_WG_INTERFACE = re.compile(r"(\S+) \(Pubkey: [^,]*, Port: (\d+), Peers: (\d+)\)")


def parse_cilium_status(text: str) -> NodeEncryption:
    """The ``Encryption:`` line of ``cilium-dbg status`` (run in a cilium-agent container) -> its mode and, with
    WireGuard, the peers summed over its interfaces. ``node`` is left empty (the caller knows it).

    The line as pkg/client/client.go ``FormatStatusResponse`` prints it (cilium/cilium, since PR #15833):
    ``Encryption:\\t<Mode>\\t[NodeEncryption: <state>, <iface> (Pubkey: <key>, Port: <port>, Peers: <n>)]``, tab
    aligned; the WireGuard page of Cilium's docs shows it as ``Encryption: Wireguard [cilium_wg0 (Pubkey: <..>,
    Port: 51871, Peers: 2)]`` ("number of peers should correspond to a number of nodes subtracted by one"). Raises
    ValueError when there is no such line (not Cilium's status, or an agent too old to report encryption)."""
    line = next((raw.strip() for raw in text.splitlines() if raw.strip().startswith("Encryption:")), None)
    if line is None:
        raise ValueError("no 'Encryption:' line in cilium-dbg status")
    rest = line.removeprefix("Encryption:").strip()
    word = rest.split(None, 1)[0] if rest else ""
    mode = CILIUM_MODES.get(word.lower(), "unknown")
    interfaces = _CILIUM_WG_INTERFACE.findall(rest)
    peers = sum(int(count) for _, _, count in interfaces) if interfaces else None
    node_encryption = re.search(r"NodeEncryption: (\w+)", rest)
    seen = f"Encryption: {word or '(empty)'}"
    if interfaces:
        seen += ", " + ", ".join(f"{name} port {port} {count} peers" for name, port, count in interfaces)
    if node_encryption:
        seen += f", NodeEncryption {node_encryption.group(1)}"
    return NodeEncryption("", mode, seen, peers=peers)


def parse_cilium_encrypt_status(text: str) -> dict[str, str]:
    """``cilium-dbg encrypt status`` -> its ``Name: value`` lines (``Encryption``, ``Decryption interface(s)``,
    ``Keys in use``, ``Max Seq. Number``, ``Errors``; the per-error lines below ``Errors`` indented, left out).

    Format: cilium-dbg/cmd/encrypt_status.go ``printEncryptionStatus``; sample in Cilium's docs, security/network/
    encryption-ipsec ("Troubleshooting"): ``Encryption: IPsec`` / ``Decryption interface(s): eth0, eth1, eth2`` /
    ``Keys in use: 4`` / ``Max Seq. Number: 0x1e3/0xffffffff`` / ``Errors: 0`` ("The number of keys in use should be
    2 per remote node per enabled IP family")."""
    fields: dict[str, str] = {}
    for raw in text.splitlines():
        if not raw or raw[0].isspace() or ":" not in raw:
            continue
        name, value = raw.split(":", 1)
        fields[name.strip()] = value.strip()
    return fields


def ipsec_keys(fields: Mapping[str, str]) -> int | None:
    """``Keys in use`` of :func:`parse_cilium_encrypt_status`'s fields as a number (None: not there)."""
    value = fields.get("Keys in use", "")
    return int(value) if value.isdigit() else None


# ---- Antrea ---------------------------------------------------------------------------------------------------------
#: The Node annotation Antrea's agent sets to its WireGuard public key once it has set WireGuard up
#: (pkg/agent/types/annotations.go NodeWireGuardPublicAnnotationKey); ``antctl check installation``'s ``wireguard``
#: test requires it on every Node (pkg/antctl/raw/check/installation/test_wireguard.go).
ANTREA_WG_ANNOTATION = "node.antrea.io/wireguard-public-key"
#: antrea-agent.conf's ``trafficEncryptionMode`` values (build/charts/antrea/values.yaml: none, ipsec, wireGuard).
ANTREA_MODES = {"none": NONE, "wireguard": WIREGUARD, "ipsec": IPSEC}


def antrea_encryption_mode(config_map: Mapping[str, Any] | None) -> str:
    """The ``trafficEncryptionMode`` of ``antrea-agent.conf`` in the ``antrea-config`` ConfigMap (``kubectl get
    configmap antrea-config -o json``), in the spec's words; ``none`` when unset (its default), ``unknown`` without
    the ConfigMap. Where it is and how it is spelled: Antrea docs/traffic-encryption.md (``trafficEncryptionMode:
    wireGuard`` under ``antrea-agent.conf``); the installation check reads it the same way (``getAgentConfig``)."""
    import yaml

    if config_map is None:
        return "unknown"
    text = (config_map.get("data") or {}).get("antrea-agent.conf")
    if not isinstance(text, str):
        return "unknown"
    try:
        conf = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        return "unknown"
    value = str(conf.get("trafficEncryptionMode") or "none") if isinstance(conf, dict) else "none"
    return ANTREA_MODES.get(value.lower(), "unknown")


def antrea_wireguard_keys(nodes: Mapping[str, Any]) -> dict[str, bool]:
    """``kubectl get nodes -o json`` -> node name -> whether Antrea's agent published its WireGuard public key
    (:data:`ANTREA_WG_ANNOTATION`, non-empty)."""
    return {
        item["metadata"]["name"]: bool((item["metadata"].get("annotations") or {}).get(ANTREA_WG_ANNOTATION) or "")
        for item in nodes.get("items", [])
    }


_ROUTED = re.compile(r"^(\S+?)(?:-(?:in|out))?-\d+\{\d+\}:\s+ROUTED", re.MULTILINE)
_SAS_UP = re.compile(r"Security Associations \((\d+) up")


def parse_strongswan_status(text: str) -> tuple[int, int]:
    """strongSwan's ``ipsec status`` in Antrea's ``antrea-ipsec`` container -> (routed connections: one per remote
    node, security associations up). Raises ValueError without the ``Security Associations`` summary line.

    As Antrea's own installation check reads it (pkg/antctl/raw/check/installation/test_ipsec.go
    ``parseIPsecStatus``: connection names counted once with their ``-in``/``-out`` suffix left out, the SAs from
    ``Security Associations (<n> up, ...``); it expects DesiredNumberScheduled - 1 routed connections."""
    found = _SAS_UP.search(text)
    if found is None:
        raise ValueError("no 'Security Associations (...)' line in ipsec status")
    return len(set(_ROUTED.findall(text))), int(found.group(1))


# ---- the agents -----------------------------------------------------------------------------------------------------
def pods_by_node(pods: Mapping[str, Any]) -> dict[str, str]:
    """``kubectl get pods -o json`` (a DaemonSet's) -> node name -> the running pod's name there."""
    out: dict[str, str] = {}
    for item in pods.get("items", []):
        node = (item.get("spec") or {}).get("nodeName")
        if node and (item.get("status") or {}).get("phase") == "Running":
            out[str(node)] = str(item["metadata"]["name"])
    return dict(sorted(out.items()))


def agent_pods(kubectl: Kubectl, namespace: str, daemonset: str) -> dict[str, str]:
    """The DaemonSet's running pods by node (selected by its own ``spec.selector.matchLabels``). Raises CommandError
    or PlatformError (kubectl)."""
    found = kubectl.json("get", "daemonset", daemonset, "--namespace", namespace, namespaced=False)
    labels = ((found.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    selector = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
    return pods_by_node(kubectl.json("get", "pods", "--namespace", namespace, "--selector", selector, namespaced=False))


def exec_in(kubectl: Kubectl, namespace: str, pod: str, container: str, argv: Sequence[str]) -> str:
    """``kubectl exec`` ``argv`` in ``container`` of ``pod``; its standard output. Raises CommandError."""
    args = ["exec", "--namespace", namespace, pod, "--container", container, "--", *argv]
    return run(kubectl.argv(*args, namespaced=False), timeout=60).stdout


# ---- the check ------------------------------------------------------------------------------------------------------
def encryption_problems(requested: str, seen: Sequence[NodeEncryption], nodes: int) -> list[str]:
    """What is wrong with ``seen`` (one entry per node's agent; ``nodes`` in the cluster) when ``requested``
    (``wireguard`` or ``ipsec``) was asked for, one line per kind of problem: not active (or unreadable) on some
    nodes, fewer tunnels than remote nodes (WireGuard peers: Cilium's docs, "number of nodes subtracted by one";
    IPsec: Antrea's installation check, DesiredNumberScheduled - 1), fewer IPsec keys in use than 2 per remote node
    (Cilium's IPsec page: "2 per remote node per enabled IP family", IPv4 here). Nothing when encryption is active
    everywhere."""
    if not seen:
        return [f"encryption {requested} requested, but no agent pod was found to ask"]
    problems: list[str] = []
    off = [entry for entry in seen if entry.mode != requested]
    if off:
        said = "; ".join(f"{entry.node}: {entry.seen}" for entry in off)
        problems.append(
            f"encryption {requested} requested but not active on {len(off)} of {len(seen)} nodes ({said}): the "
            "numbers would be an unencrypted datapath's"
        )
    remote = max(nodes - 1, 0)
    short = [entry for entry in seen if entry.mode == requested and entry.peers is not None and entry.peers < remote]
    if short:
        said = "; ".join(f"{entry.node}: {entry.peers}" for entry in short)
        problems.append(
            f"encryption {requested} has tunnels to fewer than the {remote} other nodes ({said}): traffic to the "
            "others is not encrypted"
        )
    few = [entry for entry in seen if entry.mode == IPSEC == requested and entry.keys is not None
           and entry.keys < 2 * remote]  # fmt: skip
    if few:
        said = "; ".join(f"{entry.node}: {entry.keys}" for entry in few)
        problems.append(
            f"encryption ipsec has fewer IPsec keys in use than the {2 * remote} expected, 2 per other node ({said}): "
            "some tunnels are not set up"
        )
    return problems


def read_back(requested: str, seen: Sequence[NodeEncryption], nodes: int) -> dict[str, Any]:
    """The facts the run records: the encryption in effect (:data:`~cnibench.datapath_config.EFFECTIVE_KEY`, which
    ``compare`` compares: the mode every node reports, or how many nodes report which), what each node's agent said,
    and :func:`encryption_problems` (:data:`~cnibench.datapath_config.EFFECTIVE_WARNINGS_KEY`)."""
    counts: dict[str, int] = {}
    for entry in seen:
        counts[entry.mode] = counts.get(entry.mode, 0) + 1
    if len(counts) == 1:
        (effective,) = counts
    else:
        effective = ", ".join(f"{mode} on {count} of {len(seen)} nodes" for mode, count in counts.items()) or "unread"
    return {
        EFFECTIVE_KEY: {"encryption": effective},
        "encryption_read_back": {entry.node: entry.seen for entry in seen},
        EFFECTIVE_WARNINGS_KEY: encryption_problems(requested, seen, nodes),
    }


def read_encryption(
    read: Callable[[], list[NodeEncryption]],
    requested: str,
    nodes: int,
    *,
    timeout: float,
    interval: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """:func:`read_back` of what ``read`` returns, read again every ``interval`` seconds while it has problems that
    time may cure, for at most ``timeout`` seconds: tunnels to fewer nodes than there are (they come up after the
    agents are ready) or a read that failed (kubectl; its last error is the line recorded). An agent that reports
    another mode is reported at once: its configuration does not change by waiting."""
    deadline = clock() + timeout
    while True:
        settled = True
        try:
            seen = read()
            facts = read_back(requested, seen, nodes)
            settled = any(entry.mode in (NONE, WIREGUARD, IPSEC) and entry.mode != requested for entry in seen)
        except (CommandError, ValueError) as exc:
            facts = {EFFECTIVE_KEY: {"encryption": "unread"}, EFFECTIVE_WARNINGS_KEY: [
                f"encryption {requested} requested, not checked: the agents could not be read ({exc})"]}  # fmt: skip
            settled = False
        if not facts[EFFECTIVE_WARNINGS_KEY] or settled or clock() + interval > deadline:
            return facts
        sleep(interval)


class Encrypted(Protocol):
    """What the check asks of a CNI's descriptor (:class:`~cnibench.platforms.kube.cnis.base.Cni`; a protocol: the
    descriptors import this module)."""

    @property
    def requested_encryption(self) -> str: ...

    @property
    def encryption_check(self) -> Mapping[str, str]: ...


#: The longest the check waits for the agents' tunnels to every other node (seconds; they come up within seconds of
#: the agents being ready: each agent learns the others' keys from the API server).
TUNNEL_TIMEOUT_S = 120.0


def encryption_check(cni: Encrypted, timeout: float) -> dict[str, Any] | None:
    """What the playbook's ``kube_encryption`` step needs for a variant that asks for encryption (None: it asks for
    none, or its CNI cannot be asked: no :attr:`~cnibench.platforms.kube.cnis.base.Cni.encryption_check`): the
    encryption requested and how long its tunnels may take to come up (``timeout`` seconds)."""
    requested = cni.requested_encryption
    if requested == NONE or requested not in cni.encryption_check:
        return None
    return {"requested": requested, "timeout": min(timeout, TUNNEL_TIMEOUT_S)}


def encryption_steps(cni: Encrypted, check: Mapping[str, Any] | None, key_secrets: Sequence[KeySecret]) -> list[str]:
    """The steps ``plan`` shows: each key Secret created before the chart, the check once the CNI runs."""
    steps = [
        f"create Secret {secret.name} in {secret.namespace} with a key generated for this cluster now ("
        f"{secret.template.format(hex=f'<{secret.random_bytes} random bytes, hex>')}: Python's secrets, passed to "
        "kubectl apply --server-side on its standard input; never in a file, an argument or the run's record)"
        for secret in key_secrets
    ]
    if check is not None:
        how = cni.encryption_check[check["requested"]]
        steps.append(
            f"check encryption {check['requested']} is active: {how}; if not, warn before measuring and record it "
            f"(environment.json {EFFECTIVE_KEY}, {EFFECTIVE_WARNINGS_KEY}); read again up to {check['timeout']:.0f} "
            "s while the tunnels to the other nodes come up"
        )
    return steps


# ---- key Secrets ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class KeySecret:
    """A Secret holding a key that must exist before the CNI's chart is installed, generated per cluster at run time:
    ``name`` in ``namespace``, its data key ``key`` holding ``template`` with ``{hex}`` replaced by ``random_bytes``
    random bytes in hex (Python's :mod:`secrets`). ``source``: where upstream documents the Secret and its format."""

    name: str
    namespace: str
    key: str
    template: str
    random_bytes: int
    source: str

    def value(self) -> str:
        """A fresh value: the template with new random bytes (never stored, never printed)."""
        return self.template.format(hex=secrets.token_hex(self.random_bytes))

    def manifest(self, value: str) -> dict[str, Any]:
        """The Secret with ``value`` under :attr:`key` (``stringData``: the API server encodes it)."""
        return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": meta(self.name, self.namespace), "stringData": {self.key: value}}  # fmt: skip

    def to_vars(self) -> dict[str, Any]:
        """What the playbook passes to ``kube_key_secret`` (everything but the key, which only that task makes)."""
        return {"name": self.name, "namespace": self.namespace, "key": self.key, "template": self.template,
                "random_bytes": self.random_bytes}  # fmt: skip


def apply_key_secret(kubectl: Kubectl, secret: KeySecret) -> None:
    """Create ``secret`` with a fresh value: the manifest goes to ``kubectl apply --server-side -f -`` on its
    standard input, so the key is on no command line (``/proc/<pid>/cmdline`` is world-readable), in no file, in no
    result or log. Server-side: a client-side apply would also copy the whole object, key included, into the
    Secret's ``kubectl.kubernetes.io/last-applied-configuration`` annotation. Raises CommandError (kubectl's
    message, which does not echo the object)."""
    manifest = json.dumps(secret.manifest(secret.value()))
    argv = ["apply", "--server-side", "--field-manager", "cnibench", "--filename", "-", "--output", "name"]
    run(kubectl.argv(*argv, namespaced=False), input=manifest, timeout=60)
