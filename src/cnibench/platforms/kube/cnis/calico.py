"""Calico (https://docs.tigera.io/calico) through the Tigera operator's Helm chart: the operator in its own namespace,
its CRDs from the separate ``crd.projectcalico.org.v1`` chart applied server-side before it (Calico >= 3.32 no longer
bundles them), and an Installation (operator.tigera.io/v1) that cnibench renders and applies after it: a VXLAN pool
of the spec's pod CIDR, BGP off. The operator puts the agent, DaemonSet calico-node, into calico-system. Calico Open
Source has no egress gateway (Calico Enterprise and Cloud only); its Gateway API implementation (Calico Ingress
Gateway) is not used: Envoy Gateway serves cnibench's Gateway, as for Antrea."""

from __future__ import annotations

from typing import Any, ClassVar

from cnibench import pins
from cnibench.platforms.kube.cnis import CNIS
from cnibench.platforms.kube.cnis.base import (
    Agent,
    AksValues,
    Capability,
    Chart,
    Cni,
    Condition,
    CrdChart,
    KindValues,
)
from cnibench.platforms.kube.render import meta

#: Calico's chart repository (charts/tigera-operator/README.md at v3.32.1: "helm repo add projectcalico
#: https://docs.tigera.io/calico/charts"); its chart versions are the git tags, with the "v".
REPOSITORY = "https://docs.tigera.io/calico/charts"


class Calico(Cni):
    name: ClassVar[str] = "calico"
    title: ClassVar[str] = "Calico"
    # the release in tigera-operator, created first at the privileged level as Calico's own manifest does
    # (manifests/tigera-operator.yaml: pod-security.kubernetes.io/enforce: privileged; the operator uses the host
    # network)
    chart: ClassVar[Chart] = Chart("tigera-operator", REPOSITORY, "tigera-operator", "calico", version_prefix="v",
                                   create_namespace=True)  # fmt: skip
    version: ClassVar[str] = pins.CALICO
    # "The Tigera operator installs resources in the calico-system namespace" (Calico docs, getting-started/
    # kubernetes/helm)
    agent: ClassVar[Agent] = Agent("calico-node", "calico-node", namespace="calico-system")
    # charts/tigera-operator/README.md at v3.32.1: "As of Calico v3.32, CRDs are no longer bundled in this chart and
    # must be installed separately from the crd.projectcalico.org.v1 chart" (helm template | kubectl apply
    # --server-side: some CRDs exceed the size limit of a client-side apply)
    crds: ClassVar[CrdChart | None] = CrdChart("crd.projectcalico.org.v1", REPOSITORY, "calico-crds")
    # how Calico's own kind CI waits (hack/test/kind/deploy_resources.sh at v3.32.1): tigerastatus/calico Available
    ready: ClassVar[tuple[Condition, ...]] = (
        Condition("operator.tigera.io/v1", "TigeraStatus", "calico", "Available"),
    )
    # libcalico-go/lib/backend/k8s/conversion/conversion.go (K8sNetworkPolicyToCalico): every Kubernetes
    # NetworkPolicy becomes a Calico policy that Felix enforces on the node
    network_policy: ClassVar[bool] = True
    lacks: ClassVar[dict[Capability, str]] = {
        # no EgressGateway CRD in api/config/crd or libcalico-go/config/crd at v3.32.1; the egress gateway pages are
        # under docs.tigera.io/calico-enterprise and /calico-cloud only
        Capability.EGRESS_GATEWAY: "Calico's egress gateway is a Calico Enterprise and Calico Cloud feature",
    }

    def kind_values(self, cluster: KindValues) -> dict[str, Any]:
        return self.values()

    def aks_values(self, cluster: AksValues) -> dict[str, Any]:
        return self.values()

    def values(self) -> dict[str, Any]:
        """The operator alone (charts/tigera-operator/values.yaml at v3.32.1): the chart's own Installation, API
        server, Goldmane and Whisker custom resources off (cnibench applies its Installation; the other three are
        not needed for pod networking: without the API server there is no projectcalico.org/v3 API, which cnibench
        does not use)."""
        return {
            "installation": {"enabled": False},
            "apiServer": {"enabled": False},
            "goldmane": {"enabled": False},
            "whisker": {"enabled": False},
        }

    def kind_objects(self, cluster: KindValues) -> list[dict[str, Any]]:
        """An Installation for kind: provider detected (as Calico's kind CI leaves it), one Typha replica and no
        CSI driver (hack/test/kind/infra/values.yaml at v3.32.1), a VXLAN overlay like Flannel's over kind's one
        subnet (VXLANCrossSubnet would route without encapsulation there)."""
        return [self.installation(cluster.pod_cidr)]

    def aks_objects(self, cluster: AksValues) -> list[dict[str, Any]]:
        """An Installation for AKS bring-your-own-CNI as Tigera documents it (calico/getting-started/kubernetes/
        managed-public-cloud/aks.mdx, "Self-managed Calico for networking and network policy": kubernetesProvider
        AKS, cni Calico, BGP off, a VXLAN pool; Azure does not carry IP-in-IP)."""
        return [self.installation(cluster.pod_cidr, provider="AKS")]

    def installation(self, pod_cidr: str, provider: str | None = None) -> dict[str, Any]:
        """The Installation ``default`` (operator.tigera.io/v1): Calico's CNI and IPAM, one IPv4 pool of ``pod_cidr``
        with VXLAN encapsulation and outgoing NAT, BGP off (VXLAN needs none), Typha with one replica, no CSI
        driver."""
        spec: dict[str, Any] = {
            "cni": {"type": "Calico", "ipam": {"type": "Calico"}},
            "calicoNetwork": {
                "bgp": "Disabled",
                "ipPools": [
                    {
                        "name": "default-ipv4-ippool",
                        "cidr": pod_cidr,
                        "encapsulation": "VXLAN",
                        "natOutgoing": "Enabled",
                        "nodeSelector": "all()",
                        "blockSize": 26,
                    }
                ],
            },
            "controlPlaneReplicas": 1,
            "kubeletVolumePluginPath": "None",
        }
        if provider is not None:
            spec["kubernetesProvider"] = provider
        return {
            "apiVersion": "operator.tigera.io/v1",
            "kind": "Installation",
            "metadata": meta("default"),
            "spec": spec,
        }


CNIS.register(Calico.name, Calico())
