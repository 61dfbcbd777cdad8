"""Antrea (https://antrea.io): Open vSwitch datapath in encap mode, its Egress CRD as the egress gateway (Antrea
assigns the egress IP on the node it picks from the pool), no Gateway API implementation, kube-proxy kept."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from cnibench import pins
from cnibench.platforms.kube.cnis import CNIS
from cnibench.platforms.kube.cnis.base import Agent, AksValues, Chart, Cni, EgressGateway, EgressPolicy, KindValues
from cnibench.platforms.kube.render import meta

if TYPE_CHECKING:
    from cnibench.doctor import Check


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


class Antrea(Cni):
    name: ClassVar[str] = "antrea"
    title: ClassVar[str] = "Antrea"
    chart: ClassVar[Chart] = Chart("antrea", "https://charts.antrea.io", "kube-system", "antrea")
    version: ClassVar[str] = pins.ANTREA
    agent: ClassVar[Agent] = Agent("antrea-agent", "antrea-agent")
    # Egress works in encap and hybrid mode on Linux; feature gate Egress on by default since 1.6
    egress: ClassVar[EgressGateway | None] = EgressGateway(
        "ExternalIPPool + Egress", assigns_ip=True, ip_optional=False
    )
    cluster_kinds: ClassVar[tuple[str, ...]] = ("egresses.crd.antrea.io", "externalippools.crd.antrea.io")
    aks_note: ClassVar[str] = "Antrea's AKS support is untested upstream since Antrea 2.5"
    kind_note: ClassVar[str] = KIND_TX_CHECKSUM_NOTE

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
        from cnibench.platforms.kube.prerequisites import check_openvswitch

        return [check_openvswitch()]


CNIS.register(Antrea.name, Antrea())
