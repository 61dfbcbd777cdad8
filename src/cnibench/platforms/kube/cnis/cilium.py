"""Cilium (https://cilium.io): eBPF datapath with kube-proxy replacement, CiliumEgressGatewayPolicy as the egress
gateway (the egress IP must already be on an interface of the gateway node: Cilium does not assign it), and its own
Gateway API implementation (which needs the kube-proxy replacement and the Gateway API CRDs before it starts)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from cnibench import pins
from cnibench.datapath_config import mtu_problem
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
    GatewayApi,
    KindValues,
)
from cnibench.platforms.kube.encryption import (
    KeySecret,
    NodeEncryption,
    agent_pods,
    exec_in,
    ipsec_keys,
    parse_cilium_encrypt_status,
    parse_cilium_status,
)
from cnibench.platforms.kube.render import meta

if TYPE_CHECKING:
    from cnibench.platforms.kube.kubectl import Kubectl

#: The Gateway API CRDs Cilium's operator requires when it starts (Cilium 1.19 docs, network/servicemesh/gateway-api/
#: installation.rst: GatewayClass, Gateway, HTTPRoute, GRPCRoute and ReferenceGrant "must be pre-installed").
GATEWAY_CRDS = tuple(
    f"{plural}.gateway.networking.k8s.io"
    for plural in ("gatewayclasses", "gateways", "httproutes", "grpcroutes", "referencegrants")
)
#: Values of cilium-config's kube-proxy-replacement that mean "on" (Cilium < 1.14 said "strict").
_KPR_ON = ("true", "strict")
#: cilium-config's egress gateway switch: ``enable-egress-gateway`` from the chart's ``egressGateway.enabled``
#: (install/kubernetes/cilium/templates/cilium-configmap.yaml: ``{{- if .Values.egressGateway.enabled }}
#: enable-egress-gateway: "true"``); ``enable-ipv4-egress-gateway`` is its older name, removed as a flag in Cilium
#: 1.19 (docs.cilium.io, operations/upgrade, 1.19 "Removed Flags"), still found on clusters installed before.
EGRESS_GATEWAY_KEYS = ("enable-egress-gateway", "enable-ipv4-egress-gateway")


DOCS = "https://docs.cilium.io/en/v1.19"
#: The chart's values (install/kubernetes/cilium/values.yaml at v1.19.4; keys checked against the pinned
#: values.schema.json in the tests).
VALUES = "install/kubernetes/cilium/values.yaml"


#: The IPsec key Secret Cilium's agents mount (docs security/network/encryption-ipsec, "Generate & Import the PSK":
#: ``kubectl create -n kube-system secret generic cilium-ipsec-keys --from-literal=keys="3+ rfc4106(gcm(aes)) $(echo
#: $(dd if=/dev/urandom count=20 bs=1 2> /dev/null | xxd -p -c 64)) 128"``, format ``key-id encryption-algorithms
#: PSK-in-hex-format key-size``; the ``+`` "will force the use of per-tunnel IPsec keys", GHSA-pwqm-x5x6-5586; in
#: Cilium's namespace). 20 random bytes: the 16-byte AES-128 key and the 4-byte salt of RFC 4106 GCM.
IPSEC_KEYS = KeySecret(
    "cilium-ipsec-keys", "kube-system", "keys", "3+ rfc4106(gcm(aes)) {hex} 128", 20,
    f"{DOCS}/security/network/encryption-ipsec/ (Generate & Import the PSK); chart values encryption.ipsec.secretName, "
    "encryption.ipsec.keyFile",
)  # fmt: skip


def _encryption(value: str) -> dict[str, Any]:
    if value == "none":
        return {"encryption": {"enabled": False}}
    if value == "ipsec":
        # the Secret cnibench creates before the chart (IPSEC_KEYS), named as the chart's defaults name it
        return {"encryption": {"enabled": True, "type": "ipsec",
                               "ipsec": {"secretName": IPSEC_KEYS.name, "keyFile": IPSEC_KEYS.key}}}  # fmt: skip
    return {"encryption": {"enabled": True, "type": value}}


def _routing(value: str) -> dict[str, Any]:
    if value == "native":
        # native routing between nodes of one L2 network (kind's): each node routes the others' pod CIDRs
        # (autoDirectNodeRoutes); ipv4NativeRoutingCIDR, the pod CIDR, is set by kind_values
        return {"routingMode": "native", "autoDirectNodeRoutes": True}
    return {"routingMode": "tunnel", "tunnelProtocol": value.removeprefix("tunnel-")}


def _kube_proxy_replacement(value: bool) -> dict[str, Any]:
    if value:
        return {"kubeProxyReplacement": True}
    # without it: no BPF masquerading (it needs the BPF NodePort of the replacement), so no egress gateway, and no
    # Gateway API (Cilium docs: network/egress-gateway "Enable egress gateway", network/servicemesh/gateway-api)
    return {"kubeProxyReplacement": False, "bpf": {"masquerade": False}, "egressGateway": {"enabled": False},
            "gatewayAPI": {"enabled": False}}  # fmt: skip


def _hubble(value: str) -> dict[str, Any]:
    return {"hubble": {"enabled": value != "disabled", "relay": {"enabled": value == "relay"}}}


#: Encapsulation overhead per routing mode and encryption (bytes), as Cilium sizes its MTU (pkg/mtu/mtu.go:
#: TunnelOverheadIPv4 50 for VXLAN and Geneve, WireGuardOverhead 80, EncryptionIPsecOverhead 77 with the default
#: key size; native routing none).
OVERHEAD = {"tunnel-vxlan": 50, "tunnel-geneve": 50, "native": 0}
ENCRYPTION_OVERHEAD = {"none": 0, "wireguard": 80, "ipsec": 77}
#: The MTU of kind's Docker network and of an AKS node's NIC (bytes).
UNDERLAY_MTU = 1500

KNOBS = (
    Knob("encryption", str, "transparent encryption between nodes", "none",
         f"{VALUES} encryption.enabled, encryption.type; {DOCS}/security/network/encryption/",
         choices=("none", "wireguard", "ipsec"), values=_encryption),
    Knob("routing", str, "tunnel (VXLAN or Geneve) or native routing between nodes", "tunnel-vxlan",
         f"{VALUES} routingMode, tunnelProtocol, autoDirectNodeRoutes, ipv4NativeRoutingCIDR; "
         f"{DOCS}/network/concepts/routing/", choices=("tunnel-vxlan", "tunnel-geneve", "native"), values=_routing),
    Knob("kube_proxy_replacement", bool, "Cilium's eBPF kube-proxy replacement (off: kube-proxy stays)", True,
         f"{VALUES} kubeProxyReplacement; {DOCS}/network/kubernetes/kubeproxy-free/", values=_kube_proxy_replacement),
    Knob("hubble", str, "Hubble observability: disabled, in the agents (the chart's default) or with Hubble Relay",
         "enabled", f"{VALUES} hubble.enabled, hubble.relay.enabled; {DOCS}/observability/hubble/setup/",
         choices=("disabled", "enabled", "relay"), values=_hubble),
    Knob("mtu", int, "the pod MTU (0: Cilium derives it from the node's minus the overhead)", 0,
         f"{VALUES} MTU; {DOCS}/network/concepts/routing/", minimum=0, maximum=9000,
         values=lambda value: {"MTU": value}),
)  # fmt: skip


class Cilium(Cni):
    name: ClassVar[str] = "cilium"
    title: ClassVar[str] = "Cilium"
    chart: ClassVar[Chart] = Chart("cilium", "https://helm.cilium.io/", "kube-system", "cilium")
    version: ClassVar[str] = pins.CILIUM
    agent: ClassVar[Agent] = Agent("cilium", "cilium-agent")
    # "the egress IP must be assigned to an interface of the gateway node" (Cilium docs, network/egress-gateway);
    # without one in the policy Cilium uses the gateway node's own address
    # docs.cilium.io network/kubernetes/policy: "The standard NetworkPolicy resource which supports L3 and L4
    # policies at ingress or egress of the Pod" (missing: SCTP and endPort, which cnibench's policies do not use)
    network_policy: ClassVar[bool] = True
    egress: ClassVar[EgressGateway | None] = EgressGateway(
        "CiliumEgressGatewayPolicy",
        assigns_ip=False,
        ip_optional=True,
        existing_cluster_requirement="enable-egress-gateway, enable-bpf-masquerade and kube-proxy-replacement on in "
        "cilium-config (the chart's egressGateway.enabled is false by default)",
    )
    gateway_api: ClassVar[GatewayApi | None] = GatewayApi(
        controller="io.cilium/gateway-controller",
        needs_kube_proxy_replacement=True,
        # Cilium's operator enables its Gateway API support only if the CRDs exist when it starts
        crds_before_cni=True,
        existing_cluster_requirement="the Gateway API CRDs (GatewayClass, Gateway, HTTPRoute, GRPCRoute, "
        "ReferenceGrant) created before cilium-operator started, and enable-gateway-api and kube-proxy-replacement "
        "in cilium-config (Cilium's operator looks for the CRDs only at start-up)",
    )
    kube_proxy_replacement: ClassVar[bool] = True
    cluster_kinds: ClassVar[tuple[str, ...]] = ("ciliumegressgatewaypolicies.cilium.io",)
    knobs: ClassVar[tuple[Knob, ...]] = KNOBS
    encryption_check: ClassVar[dict[str, str]] = {
        "wireguard": "the Encryption line of cilium-dbg status in every cilium agent (Wireguard, a peer per other "
        "node)",
        "ipsec": "the Encryption line of cilium-dbg status (IPsec) and cilium-dbg encrypt status (keys in use) in "
        "every cilium agent",
    }

    def configure(self) -> None:
        """Without kube-proxy replacement there is no egress gateway and no Gateway API implementation (both need
        it: Cilium docs network/egress-gateway and network/servicemesh/gateway-api), and kind keeps kube-proxy."""
        if self.settings.get("kube_proxy_replacement", True):
            return
        self.kube_proxy_replacement = False  # type: ignore[misc]
        self.egress = None  # type: ignore[misc]
        self.gateway_api = None  # type: ignore[misc]
        self.lacks = {  # type: ignore[misc]
            Capability.EGRESS_GATEWAY: "this variant has no kube-proxy replacement, which Cilium's egress gateway "
            "needs (docs network/egress-gateway)",
            Capability.GATEWAY_API: "this variant has no kube-proxy replacement, which Cilium's Gateway API needs",
        }

    def forbidden(self, settings: Mapping[str, Any], platform: str) -> None:
        """What cnibench cannot install on AKS: native routing (the chart's aksbyocni mode requires tunnel routing:
        docs installation/requirements-aks "BYOCNI: Encapsulation") and kube-proxy replacement (cnibench's AKS
        clusters keep AKS's kube-proxy). IPsec is not refused: cnibench creates its key Secret before the chart
        (:meth:`key_secrets`), and none of the IPsec page's Limitations (CNI chaining, host policies, BPF host
        routing, which the agent then leaves, IPv6-only clusters, more than 65535 nodes) is a knob here."""
        if platform == "aks" and settings.get("routing") == "native":
            raise SettingError("routing", "AKS bring-your-own-CNI (aksbyocni.enabled) requires tunnel routing "
                               f"({DOCS}/installation/k8s-install-helm/, AKS: BYOCNI, Encapsulation)")  # fmt: skip
        if platform == "aks" and settings.get("kube_proxy_replacement"):
            raise SettingError(
                "kube_proxy_replacement",
                "cnibench's AKS clusters keep AKS's kube-proxy (its "
                "kube-proxy-free mode for BYOCNI is an AKS preview azurerm does not configure)",
            )

    def key_secrets(self) -> tuple[KeySecret, ...]:
        """With IPsec, its key Secret (:data:`IPSEC_KEYS`), in the chart's namespace: the agents mount it at start."""
        if self.requested_encryption != "ipsec":
            return ()
        return (dataclasses.replace(IPSEC_KEYS, namespace=self.chart.namespace),)

    def encryption_seen(self, kubectl: Kubectl, agent_namespace: str) -> list[NodeEncryption]:
        """Each agent's ``cilium-dbg status`` Encryption line (docs security/network/encryption-wireguard, "Validate
        the Setup"), with IPsec ``cilium-dbg encrypt status``'s keys in use (encryption-ipsec, "Troubleshooting")."""
        out = []
        for node, pod in agent_pods(kubectl, agent_namespace, self.agent.daemonset).items():
            status = exec_in(kubectl, agent_namespace, pod, self.agent.container, ["cilium-dbg", "status"])
            entry = dataclasses.replace(parse_cilium_status(status), node=node)
            if entry.mode == "ipsec":
                fields = parse_cilium_encrypt_status(
                    exec_in(kubectl, agent_namespace, pod, self.agent.container, ["cilium-dbg", "encrypt", "status"])
                )
                keys = ipsec_keys(fields)
                seen = f"{entry.seen}, keys in use {fields.get('Keys in use', '?')}, errors {fields.get('Errors', '?')}"
                entry = dataclasses.replace(entry, keys=keys, seen=seen)
            out.append(entry)
        return out

    def overhead(self) -> int:
        """Bytes of encapsulation (and encryption) per packet of this variant."""
        settings = self.effective_settings
        return OVERHEAD[settings["routing"]] + ENCRYPTION_OVERHEAD[settings["encryption"]]

    def problems(self) -> list[str]:
        """A pod MTU set above the underlay's (1500 on kind's Docker network and AKS) minus the overhead."""
        mtu = int(self.settings.get("mtu", 0))
        if not mtu:
            return []
        problem = mtu_problem(mtu, UNDERLAY_MTU, self.overhead(), "encapsulation and encryption")
        return [problem] if problem else []

    def kind_values(self, cluster: KindValues) -> dict[str, Any]:
        """Cilium with kube-proxy replacement, the egress gateway (needs BPF masquerading) and optionally its Gateway
        API implementation (Cilium docs: network/egress-gateway, network/servicemesh/gateway-api); without kube-proxy
        the agents reach the API server directly."""
        return {
            "kubeProxyReplacement": True,
            "ipam": {"mode": "kubernetes"},
            "egressGateway": {"enabled": True},
            "bpf": {"masquerade": True},
            "gatewayAPI": {"enabled": cluster.gateway_api},
            # MetalLB assigns the LoadBalancer addresses on kind: Cilium's own LB IPAM must not claim Services
            # without a loadBalancerClass (chart values "defaultLBServiceIPAM: the default LoadBalancer Service IPAM
            # when no LoadBalancer class is set. Applicable values: lbipam, nodeipam, none",
            # install/kubernetes/cilium/README.md; operator flag --default-lb-service-ipam)
            "defaultLBServiceIPAM": "none",
            "operator": {"replicas": 1},
            "image": {"pullPolicy": "IfNotPresent"},
            "k8sServiceHost": cluster.api_host,
            "k8sServicePort": cluster.api_port,
            # native routing: the pod CIDR is routed, not masqueraded, between the nodes (chart ipv4NativeRoutingCIDR)
            **({"ipv4NativeRoutingCIDR": cluster.pod_cidr} if self.settings.get("routing") == "native" else {}),
        }

    def aks_values(self, cluster: AksValues) -> dict[str, Any]:
        """Cilium on AKS bring-your-own-CNI: ``aksbyocni.enabled`` (the chart then requires tunnel routing) with
        cluster-pool IPAM (https://docs.cilium.io/en/stable/installation/k8s-install-helm/, AKS tab: "helm install
        cilium ... --set aksbyocni.enabled=true"; requirements-aks: "BYOCNI (none): Encapsulation, Cluster Pool").
        The clusters of cnibench's Terraform module keep AKS's kube-proxy (turning it off for a bring-your-own CNI is
        an AKS preview, https://learn.microsoft.com/azure/aks/configure-kube-proxy, that azurerm does not
        configure), so no kube-proxy replacement, hence no egress gateway and no Cilium Gateway API. The pod CIDR is
        the spec's, away from AKS's own 10.0.0.0/16 and 10.224.0.0/12."""
        return {
            "aksbyocni": {"enabled": True},
            "routingMode": "tunnel",
            "ipam": {"mode": "cluster-pool", "operator": {"clusterPoolIPv4PodCIDRList": [cluster.pod_cidr]}},
            "kubeProxyReplacement": False,
            "operator": {"replicas": 1},
        }

    def egress_policy(self, policy: EgressPolicy) -> list[dict[str, Any]]:
        """CiliumEgressGatewayPolicy (cilium.io/v2): the client pod's traffic to the server leaves through the node
        labelled as the gateway, SNATed to the egress IP (which must be on one of that node's interfaces); without
        one Cilium uses the gateway node's own address."""
        gateway: dict[str, Any] = {"nodeSelector": {"matchLabels": {policy.gateway_label: "true"}}}
        if policy.egress_ip is not None:
            gateway["egressIP"] = policy.egress_ip
        selector = {"matchLabels": {**policy.pod_labels, "io.kubernetes.pod.namespace": policy.namespace}}
        return [
            {
                "apiVersion": "cilium.io/v2",
                "kind": "CiliumEgressGatewayPolicy",
                "metadata": meta(policy.name),
                "spec": {
                    "selectors": [{"podSelector": selector}],
                    "destinationCIDRs": [policy.destination],
                    "egressGateway": gateway,
                },
            }
        ]

    def gateway_problems(self, kubectl: Kubectl, agent_namespace: str) -> list[str]:
        """Cilium's Gateway API on an existing cluster: its CRDs, cilium-config and the operator's pods."""
        from cnibench.platforms.kube.kubectl import existing

        crds = kubectl.json("get", "crd", *GATEWAY_CRDS, "--ignore-not-found", namespaced=False)
        config = existing(kubectl, "configmap", "cilium-config", namespace=agent_namespace)
        pods = kubectl.json(
            "get", "pods", "--namespace", agent_namespace, "--selector", "io.cilium/app=operator", namespaced=False
        )
        return gateway_problems(crds if isinstance(crds, dict) else {}, config, pods)

    def egress_problems(self, kubectl: Kubectl, agent_namespace: str) -> list[str]:
        """Cilium's egress gateway on an existing cluster: what ``cilium-config`` says (see :func:`egress_problems`)."""
        from cnibench.platforms.kube.kubectl import existing

        return egress_problems(existing(kubectl, "configmap", "cilium-config", namespace=agent_namespace))


def egress_problems(config: dict[str, Any] | None) -> list[str]:
    """What keeps a CiliumEgressGatewayPolicy from being realised, from the ``cilium-config`` ConfigMap
    (``kubectl get configmap cilium-config -o json``): the egress gateway, BPF masquerading and kube-proxy
    replacement must all be on (docs.cilium.io, network/egress-gateway, "Enable egress gateway": Helm
    ``egressGateway.enabled=true``, ``bpf.masquerade=true``, ``kubeProxyReplacement=true``, then restart the agents and
    the operator). The chart ships with ``egressGateway.enabled: false``: on a typical cluster the policy would be
    accepted and silently ignored, and the run would fail minutes later after creating its objects. Keys:
    install/kubernetes/cilium/templates/cilium-configmap.yaml (``enable-egress-gateway``, ``enable-bpf-masquerade``,
    ``kube-proxy-replacement``). Returns one phrase per problem, naming the key."""
    if config is None:
        return ["ConfigMap cilium-config not found"]
    data = config.get("data") or {}
    problems: list[str] = []
    if not any(data.get(key) == "true" for key in EGRESS_GATEWAY_KEYS):
        found = next((f"{key}: {data[key]!r}" for key in EGRESS_GATEWAY_KEYS if key in data), None)
        problems.append(
            f'cilium-config has no enable-egress-gateway: "true"{f" ({found})" if found else ""} '
            "(Helm: egressGateway.enabled=true; Cilium ships with it off)"
        )
    if data.get("enable-bpf-masquerade") != "true":
        problems.append(
            f"cilium-config has enable-bpf-masquerade: {data.get('enable-bpf-masquerade', 'unset')!r}, the egress "
            'gateway needs "true" (Helm: bpf.masquerade=true)'
        )
    if data.get("kube-proxy-replacement") not in _KPR_ON:
        problems.append(
            f"cilium-config has kube-proxy-replacement: {data.get('kube-proxy-replacement', 'unset')!r}, the egress "
            'gateway needs "true" (Helm: kubeProxyReplacement=true)'
        )
    return problems


def gateway_problems(crds: dict[str, Any], config: dict[str, Any] | None, operator_pods: dict[str, Any]) -> list[str]:
    """What keeps Cilium's own Gateway API from serving cnibench's Gateway on an existing cluster, from
    ``kubectl get crd <names> -o json``, the ``cilium-config`` ConfigMap and the operator's pods.

    Cilium's operator looks for the Gateway API CRDs once, when it starts (cilium PR #28982: without them the
    Gateway controllers are not registered; cilium#29207, closed without a watcher), so CRDs that cnibench would
    install later, or that came after the operator started, leave the Gateway unprogrammed until the deadline.
    Its ConfigMap must have ``enable-gateway-api: "true"`` and ``kube-proxy-replacement: "true"``
    (install/kubernetes/cilium/templates/cilium-configmap.yaml). Returns one phrase per problem."""
    problems: list[str] = []
    found = {item["metadata"]["name"]: item for item in crds.get("items", [])}
    missing = [name for name in GATEWAY_CRDS if name not in found]
    if missing:
        problems.append(
            f"the Gateway API CRDs {', '.join(missing)} are missing (install the standard channel, then restart "
            "cilium-operator: it looks for them only when it starts)"
        )
    data = (config or {}).get("data") or {}
    if config is None:
        problems.append("ConfigMap cilium-config not found")
    else:
        if data.get("enable-gateway-api") != "true":
            problems.append('cilium-config has no enable-gateway-api: "true" (Helm: gatewayAPI.enabled=true)')
        if data.get("kube-proxy-replacement") not in _KPR_ON:
            problems.append(
                f"cilium-config has kube-proxy-replacement: {data.get('kube-proxy-replacement', 'unset')!r}, "
                'Cilium\'s Gateway API needs "true" (Helm: kubeProxyReplacement=true)'
            )
    started = [
        (c.get("state") or {}).get("running", {}).get("startedAt")
        for pod in operator_pods.get("items", [])
        for c in (pod.get("status") or {}).get("containerStatuses", []) or []
    ]
    started = [t for t in started if t]
    created = [str(item["metadata"].get("creationTimestamp", "")) for item in found.values()]
    if started and created and not missing and max(created) > min(started):  # RFC 3339 UTC: compares as text
        problems.append(
            f"the Gateway API CRDs were created ({max(created)}) after cilium-operator started ({min(started)}): "
            "restart it (kubectl -n kube-system rollout restart deployment/cilium-operator)"
        )
    return problems


CNIS.register(Cilium.name, Cilium())
