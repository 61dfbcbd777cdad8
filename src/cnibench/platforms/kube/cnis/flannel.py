"""Flannel (https://github.com/flannel-io/flannel) through its Helm chart: a VXLAN overlay (its default backend), its
kube subnet manager giving each node a /24 of the pod CIDR, in its own namespace at the privileged Pod Security level
(its README). Its CNI plugin delegates to the reference ``bridge`` plugin, which kind's node image lacks: cnibench
mounts it from the pinned containernetworking/plugins release. No egress gateway, no Gateway API implementation, no
network policy; kube-proxy kept."""

from __future__ import annotations

from typing import Any, ClassVar

from cnibench import pins
from cnibench.platforms.kube.cnis import CNIS
from cnibench.platforms.kube.cnis.base import Agent, Capability, Chart, Cni, KindValues


class Flannel(Cni):
    name: ClassVar[str] = "flannel"
    title: ClassVar[str] = "Flannel"
    # README.md at v0.28.9: "helm repo add flannel https://flannel-io.github.io/flannel/", the namespace kube-flannel
    # created and labelled pod-security.kubernetes.io/enforce=privileged first; chart "flannel", versions with the "v"
    # (chart/kube-flannel/Chart.yaml: version v0.28.9)
    chart: ClassVar[Chart] = Chart("flannel", "https://flannel-io.github.io/flannel/", "kube-flannel", "flannel",
                                   version_prefix="v", create_namespace=True)  # fmt: skip
    version: ClassVar[str] = pins.FLANNEL
    # chart/kube-flannel/templates/daemonset.yaml: DaemonSet kube-flannel-ds, container kube-flannel
    agent: ClassVar[Agent] = Agent("kube-flannel-ds", "kube-flannel")
    # the chart's cniConf delegates to "bridge" (flannel-io/cni-plugin's default delegate); kind ships host-local,
    # loopback, ptp and portmap only, and its maintainers leave it to the CNI (kubernetes-sigs/kind PR #3015)
    kind_cni_plugins: ClassVar[tuple[str, ...]] = ("bridge",)
    # README.md: "Flannel is focused on networking. For network policy, other projects such as Calico can be used."
    # Its chart can add a separate project, kube-network-policies (values.yaml netpol.enabled, false by default),
    # which cnibench does not switch on: that would benchmark kube-network-policies, not Flannel.
    lacks: ClassVar[dict[Capability, str]] = {
        Capability.EGRESS_GATEWAY: "Flannel has none",
        Capability.NETWORK_POLICY: 'Flannel does not implement NetworkPolicy; its README: "For network policy, other '
        'projects such as Calico can be used"',
    }

    def kind_values(self, cluster: KindValues) -> dict[str, Any]:
        """The chart's defaults (chart/kube-flannel/values.yaml at v0.28.9) with the spec's pod CIDR, which must be
        kind's podSubnet (the kube subnet manager reads each node's podCIDR from it), and the VXLAN backend said
        explicitly (its default: "vxlan, host-gw, wireguard, udp")."""
        return {"podCidr": cluster.pod_cidr, "flannel": {"backend": "vxlan"}}


CNIS.register(Flannel.name, Flannel())
