"""Antrea (https://antrea.io): Open vSwitch datapath in encap mode, its Egress CRD as the egress gateway (Antrea
assigns the egress IP on the node it picks from the pool), no Gateway API implementation, kube-proxy kept."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from cnibench import pins
from cnibench.doctor import Check
from cnibench.knobs import Knob, SettingError
from cnibench.platforms.kube.cnis import CNIS
from cnibench.platforms.kube.cnis.base import (
    Agent,
    AksValues,
    Capability,
    Chart,
    Cni,
    EgressGateway,
    EgressPolicy,
    KindValues,
)
from cnibench.platforms.kube.encryption import (
    ANTREA_WG_ANNOTATION,
    NodeEncryption,
    agent_pods,
    antrea_encryption_mode,
    antrea_wireguard_keys,
    exec_in,
    parse_strongswan_status,
)
from cnibench.platforms.kube.kubectl import Kubectl, existing
from cnibench.platforms.kube.prerequisites import HINTS, docker_info
from cnibench.platforms.kube.render import meta

#: Antrea's own kind script (antrea-io/antrea ci/kind/kind-setup.sh at v2.7.0, commit e59003c2, lines 297-301) runs
#: ``ethtool -K eth0 tx off`` on every node "otherwise we observe that inter-Node tunnelled traffic crossing Docker
#: networks is dropped because of an invalid outer checksum" - but only in ``configure_networks`` after its early
#: return for the default network (lines 121-123: no ``--subnets``, no ``antrea-*`` networks: "Using default kind
#: docker network"). cnibench keeps every node on kind's one default Docker network (its kind config has no extra
#: networks), where the tunnel never crosses Docker networks, so it leaves TX checksum offload on, as Antrea's CI does.
KIND_TX_CHECKSUM_NOTE = (
    "TX checksum offload stays on: every node is on kind's one default Docker network, where Antrea's own "
    "ci/kind/kind-setup.sh (v2.7.0) does not turn it off either (it runs ethtool -K eth0 tx off only for nodes moved "
    "onto other Docker networks, whose tunnelled traffic would be dropped for an invalid outer checksum)"
)


#: The chart's values (build/charts/antrea/values.yaml at v2.7.0: trafficEncapMode "must be one of encap, noEncap,
#: hybrid, or networkPolicyOnly"; tunnelType "geneve, vxlan, gre, stt"; trafficEncryptionMode "Currently encryption
#: only works with encap mode. It must be one of none, ipsec, wireGuard"). The chart has no values.schema.json.
VALUES = "build/charts/antrea/values.yaml"
DOCS = "https://github.com/antrea-io/antrea/blob/v2.7.0/docs"
#: The spec's words -> the chart's (its camel case).
ENCRYPTION = {"none": "none", "wireguard": "wireGuard", "ipsec": "ipsec"}

KNOBS = (
    Knob("encryption", str, "encryption of the tunnel traffic between nodes", "none",
         f"{VALUES} trafficEncryptionMode; {DOCS}/traffic-encryption.md", choices=tuple(ENCRYPTION),
         values=lambda value: {"trafficEncryptionMode": ENCRYPTION[value]}),
    Knob("encap_mode", str, "how traffic between nodes is carried: tunnelled, routed, or tunnelled across subnets",
         "encap", f"{VALUES} trafficEncapMode; {DOCS}/noencap-hybrid-modes.md", choices=("encap", "noEncap", "hybrid"),
         values=lambda value: {"trafficEncapMode": value}),
    Knob("tunnel", str, "the tunnel protocol in encap mode", "geneve", f"{VALUES} tunnelType",
         choices=("geneve", "vxlan"), values=lambda value: {"tunnelType": value}),
)  # fmt: skip


class Antrea(Cni):
    name: ClassVar[str] = "antrea"
    title: ClassVar[str] = "Antrea"
    chart: ClassVar[Chart] = Chart("antrea", "https://charts.antrea.io", "kube-system", "antrea")
    version: ClassVar[str] = pins.ANTREA
    agent: ClassVar[Agent] = Agent("antrea-agent", "antrea-agent")
    # README.md: "Open vSwitch enables Antrea to implement Kubernetes Network Policies in a very efficient manner"
    # (the agent's OVS flows, computed by antrea-controller from NetworkPolicy, Pod and Namespace objects)
    network_policy: ClassVar[bool] = True
    # Egress works in encap and hybrid mode on Linux; feature gate Egress on by default since 1.6
    egress: ClassVar[EgressGateway | None] = EgressGateway(
        "ExternalIPPool + Egress",
        assigns_ip=True,
        ip_optional=False,
        # the Egress's status.egressNode: the node its agents elected to hold the IP (docs/egress.md)
        owner_status=("egresses.crd.antrea.io", "egressNode"),
    )
    cluster_kinds: ClassVar[tuple[str, ...]] = ("egresses.crd.antrea.io", "externalippools.crd.antrea.io")
    aks_note: ClassVar[str] = "Antrea's AKS support is untested upstream since Antrea 2.5"
    kind_note: ClassVar[str] = KIND_TX_CHECKSUM_NOTE
    knobs: ClassVar[tuple[Knob, ...]] = KNOBS
    encryption_check: ClassVar[dict[str, str]] = {
        "wireguard": "trafficEncryptionMode in antrea-agent.conf and every Node's node.antrea.io/wireguard-public-key "
        "annotation (set once antrea-wg0 is up)",
        "ipsec": "trafficEncryptionMode in antrea-agent.conf and ipsec status in every agent's antrea-ipsec container "
        "(a routed connection per other node)",
    }

    def forbidden(self, settings: Mapping[str, Any], platform: str) -> None:
        """Encryption only in encap mode (the chart's values.yaml, trafficEncryptionMode: "Currently encryption only
        works with encap mode")."""
        mode = settings.get("encap_mode", "encap")
        if settings.get("encryption", "none") != "none" and mode != "encap":
            raise SettingError("encryption", f"{settings['encryption']} with encap_mode {mode}: Antrea's encryption "
                               f"only works with encap mode ({VALUES}, trafficEncryptionMode)")  # fmt: skip

    def configure(self) -> None:
        """noEncap: no Egress (it works in encap and hybrid mode on Linux, docs/egress.md)."""
        if self.settings.get("encap_mode", "encap") == "noEncap":
            self.egress = None  # type: ignore[misc]
            self.lacks = {Capability.EGRESS_GATEWAY: "Antrea's Egress needs encap or hybrid mode (docs/egress.md)"}  # type: ignore[misc]

    def encryption_seen(self, kubectl: Kubectl, agent_namespace: str) -> list[NodeEncryption]:
        """What Antrea's own installation check looks at (antctl check installation, pkg/antctl/raw/check/
        installation/test_wireguard.go and test_ipsec.go): ``trafficEncryptionMode`` in antrea-agent.conf; with
        WireGuard every Node's ``node.antrea.io/wireguard-public-key`` annotation (the agent sets it once
        ``antrea-wg0`` is up); with IPsec ``ipsec status`` in each agent's ``antrea-ipsec`` container (routed
        connections: one per remote node)."""
        config = existing(kubectl, "configmap", "antrea-config", namespace=agent_namespace)
        mode = antrea_encryption_mode(config)
        said = f"antrea-agent.conf trafficEncryptionMode {mode}"
        if mode == "ipsec":
            out = []
            for node, pod in agent_pods(kubectl, agent_namespace, self.agent.daemonset).items():
                routed, up = parse_strongswan_status(exec_in(kubectl, agent_namespace, pod, "antrea-ipsec",
                                                             ["ipsec", "status"]))  # fmt: skip
                seen = f"{said}, ipsec status: {routed} routed connections, {up} security associations up"
                out.append(NodeEncryption(node, "ipsec", seen, peers=routed))
            return out
        keys = antrea_wireguard_keys(kubectl.json("get", "nodes", namespaced=False))
        if mode != "wireguard":
            return [NodeEncryption(node, mode, said) for node in keys]
        out = []
        for node, has in keys.items():
            state = "set" if has else "missing"
            out.append(NodeEncryption(node, "wireguard" if has else "none", f"{said}, {ANTREA_WG_ANNOTATION} {state}"))
        return out

    def images(self, version: str) -> list[str]:
        """Antrea's agent and controller images of ``version`` (the tags :meth:`kind_values` sets)."""
        return [
            f"{repository}:v{version}"
            for repository in (pins.ANTREA_AGENT_REPOSITORY, pins.ANTREA_CONTROLLER_REPOSITORY)
        ]

    def kind_values(self, cluster: KindValues) -> dict[str, Any]:
        return self.values(version=cluster.version)

    def values(self, *, version: str, encap_mode: str = "encap") -> dict[str, Any]:
        """Antrea in encap mode with the Egress feature gate (on by default since 1.6; set to say so). The image tags
        are the chart's defaults ("v" + its version), set explicitly so that kind's preloaded images are the ones
        used."""
        agent, controller = self.images(version)
        return {
            "trafficEncapMode": encap_mode,
            "featureGates": {"Egress": True},
            "agentImage": {"repository": pins.ANTREA_AGENT_REPOSITORY, "tag": agent.rsplit(":", 1)[1]},
            "controllerImage": {"repository": pins.ANTREA_CONTROLLER_REPOSITORY, "tag": controller.rsplit(":", 1)[1]},
        }

    def aks_values(self, cluster: AksValues) -> dict[str, Any]:
        """Antrea on AKS bring-your-own-CNI in encap mode with its NodeIPAM
        (https://github.com/antrea-io/antrea/blob/v2.7.0/docs/aks-installation.md: "Just make sure that you configure
        Antrea NodeIPAM"; "Azure support is no longer tested starting with Antrea 2.5")."""
        return {
            **self.values(version=cluster.version),
            "nodeIPAM": {"enable": True, "clusterCIDRs": [cluster.pod_cidr]},
        }

    def egress_policy(self, policy: EgressPolicy) -> list[dict[str, Any]]:
        """An ExternalIPPool of exactly the egress IP on the gateway node (Antrea assigns it there) and an Egress
        (crd.antrea.io/v1beta1) for the client pod."""
        assert policy.egress_ip is not None, "Antrea's pool needs an egress IP (the spec requires one)"
        return [
            {
                "apiVersion": "crd.antrea.io/v1beta1",
                "kind": "ExternalIPPool",
                "metadata": meta(policy.name),
                "spec": {
                    "ipRanges": [{"start": policy.egress_ip, "end": policy.egress_ip}],
                    "nodeSelector": {"matchLabels": {policy.gateway_label: "true"}},
                },
            },
            {
                "apiVersion": "crd.antrea.io/v1beta1",
                "kind": "Egress",
                "metadata": meta(policy.name),
                "spec": {
                    "appliedTo": {
                        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": policy.namespace}},
                        "podSelector": {"matchLabels": policy.pod_labels},
                    },
                    "egressIP": policy.egress_ip,
                    "externalIPPool": policy.name,
                },
            },
        ]

    def kind_prerequisites(self) -> list[Check]:
        """Antrea's agent needs the openvswitch kernel module of the machine Docker runs on (Antrea docs/kind.md)."""
        return [check_openvswitch()]


def openvswitch_state(
    kernel: str, *, sys_module: Path = Path("/sys/module"), modules: Path = Path("/lib/modules")
) -> str:
    """Whether this machine's kernel ``kernel`` has the openvswitch module: "loaded", "built-in", "available"
    (a module file Antrea's agent can load) or "missing"."""
    if (sys_module / "openvswitch").is_dir():
        return "loaded"
    base = modules / kernel
    try:
        if "openvswitch.ko" in (base / "modules.builtin").read_text(encoding="utf-8", errors="replace"):
            return "built-in"
        if "/openvswitch.ko" in (base / "modules.dep").read_text(encoding="utf-8", errors="replace"):
            return "available"
    except OSError:
        pass
    return "missing"


def check_openvswitch(*, sys_module: Path = Path("/sys/module"), modules: Path = Path("/lib/modules")) -> Check:
    """kind with Antrea: Antrea's agent needs the ``openvswitch`` kernel module of the machine Docker runs on
    (Antrea docs/kind.md at v2.7.0: missing from the WSL 2 kernel and from older Docker Desktop). Checked when
    Docker's kernel is this machine's; with Docker Desktop's VM it cannot be checked from here."""
    ok, docker_kernel = docker_info(".KernelVersion")
    if not ok:
        return Check("openvswitch (Antrea)", False, f"docker info failed: {docker_kernel[:160]}", HINTS["docker"])
    docker_kernel = docker_kernel.strip()
    if docker_kernel != os.uname().release:
        return Check(
            "openvswitch (Antrea)",
            True,
            f"not checked: Docker's kernel {docker_kernel} is not this machine's (Docker Desktop?); WSL 2's kernel "
            "lacks the module (Antrea docs/kind.md)",
        )
    state = openvswitch_state(docker_kernel, sys_module=sys_module, modules=modules)
    if state != "missing":
        return Check("openvswitch (Antrea)", True, f"kernel module {state}")
    return Check(
        "openvswitch (Antrea)",
        False,
        f"kernel {docker_kernel} has no openvswitch module: Antrea's agent cannot start (Antrea docs/kind.md)",
        "install your distribution's extra kernel modules (Ubuntu: linux-modules-extra-$(uname -r)), or compare "
        "Cilium only",
    )


CNIS.register(Antrea.name, Antrea())
