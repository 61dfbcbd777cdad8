"""The egress-change scenario on Kubernetes (kind, kubeconfig, AKS): rendered and checked offline; the role that
drives the events on a live cluster (``cnibench.bench.egress_change``) refuses to run yet (issue 29: netns first).

What is rendered: the probe client pod (never on a gateway node), the new pod of the new-pod trial (the same
labels, so the existing policy selects it), and the CNI's egress policy over **two** gateway-capable nodes (both
labelled ``cnibench.io/egress-gateway=true``):

* Antrea: an ExternalIPPool of the egress IP whose nodeSelector matches both nodes, and an Egress using it; Antrea's
  agents elect the IP's owner among the pool's alive nodes (memberlist) and move it when the owner fails
  (docs: antrea.io "Egress", antrea-io/antrea#4603);
* Cilium: a CiliumEgressGatewayPolicy whose egressGateway nodeSelector matches both nodes; Cilium uses one of them
  and has no failover of the egress IP in its open-source edition (cilium/cilium#18230, open): the scenario
  measures the outage until the node returns rather than refusing.

Each platform's failure of the active gateway (README, "egress-change"): kind: its node container leaves kind's
network (``docker network disconnect``, the netns "links down"); kubeconfig and AKS: the node is cordoned and its
CNI agent's pod deleted on it (the CNI's documented signal of a lost node: Antrea's memberlist, Cilium's node
store).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from cnibench import pins
from cnibench.platforms.kube.build import ClusterBuild, KubeHost, NodeAddresses
from cnibench.platforms.kube.cnis.base import Capability, EgressPolicy
from cnibench.platforms.kube.render import GATEWAY_NODE_LABEL, MANIFESTS, app, meta
from cnibench.platforms.kube.scenarios import ADAPTERS
from cnibench.platforms.kube.scenarios.base import KubeAdapter
from cnibench.repetition import Repetition
from cnibench.scenarios.egress_change import (
    CLIENT_POD,
    EVENTS,
    NAME,
    NEW_POD_NAME,
    POD_PORT,
    PROBE_PORT,
    TRIALS,
    EgressChangeSettings,
)
from cnibench.spec.base import FieldError

if TYPE_CHECKING:
    from cnibench.spec.model import Spec

POLICY = "cnibench-egress-change"
WHERE = ("scenarios", NAME)
#: kind: the egress IP and the server take these places below the top of kind's network (as the egress scenario's).
EGRESS_IP_PLACE, SERVER_IP_PLACE = 2, 3
#: The probe pods' label: the policy selects both the client and the new pod by it.
PROBE_LABELS = app("egress-change-probe")

#: What each platform calls the active gateway's failure (the README's table says the same).
FAILURE = {
    "kind": "its node container leaves kind's network (docker network disconnect), and rejoins after the window",
    "kubeconfig": "the node is cordoned and its CNI agent's pod deleted on it (uncordoned after the window)",
    "aks": "the node is cordoned and its CNI agent's pod deleted on it (uncordoned after the window)",
}


def probe_pod(name: str, ns: str) -> dict[str, Any]:
    """A probe pod (iperf3's image, a long-lived process to exec the probe in), never on a gateway node."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta(name, ns, {**PROBE_LABELS, "cnibench.io/probe": name}),
        "spec": {
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": GATEWAY_NODE_LABEL, "operator": "DoesNotExist"}]},
            ]}}},
            "terminationGracePeriodSeconds": 1,
            "containers": [{
                "name": "iperf3",
                "image": pins.IPERF3_IMAGE,
                "command": ["sleep", "31536000"],
                "resources": {"requests": {"cpu": "100m", "memory": "32Mi"}},
            }],
        },
    }  # fmt: skip


class KubeEgressChange(KubeAdapter[EgressChangeSettings]):
    scenario: ClassVar[str] = NAME
    needs: ClassVar[tuple[Capability, ...]] = (Capability.POD_NETWORK, Capability.EGRESS_GATEWAY)

    def resolve(self, settings: EgressChangeSettings, addresses: NodeAddresses | None) -> EgressChangeSettings:
        if addresses is None:
            return settings
        filled = {}
        if settings.egress_ip is None:
            filled["egress_ip"] = addresses.top(EGRESS_IP_PLACE)
        if settings.server_ip is None:
            filled["server_ip"] = addresses.top(SERVER_IP_PLACE)
        return settings.model_copy(update=filled)

    def check(
        self, settings: EgressChangeSettings, spec: Spec, platform: type[KubeHost], addresses: NodeAddresses | None
    ) -> None:
        if platform.no_external_server is not None:
            raise FieldError(WHERE, f"not on {platform.name}: {platform.no_external_server}")
        if "external_cidr" in settings.model_fields_set:
            raise FieldError((*WHERE, "external_cidr"), f"only on netns: on {platform.name} the server is "
                             f"{platform.external_server_where}")  # fmt: skip
        for field in ("vrrp_advert_int", "vrrp_garp_master_delay", "flush_conntrack"):
            if field in settings.model_fields_set:
                raise FieldError((*WHERE, field), f"only on netns: on {platform.name} the CNI moves the egress IP")
        if addresses is not None:
            assert settings.egress_ip is not None and settings.server_ip is not None
            addresses.claim((*WHERE, "egress_ip"), settings.egress_ip,
                            default=settings.egress_ip == addresses.top(EGRESS_IP_PLACE))  # fmt: skip
            addresses.claim((*WHERE, "server_ip"), settings.server_ip,
                            default=settings.server_ip == addresses.top(SERVER_IP_PLACE))  # fmt: skip
            return
        for field in ("server_ip", "egress_ip"):
            if getattr(settings, field) is None:
                raise FieldError((*WHERE, field), f"required on {platform.name}")

    def images(self, settings: EgressChangeSettings, build: ClusterBuild) -> list[str]:
        return [pins.IPERF3_IMAGE]

    def compile(
        self, settings: EgressChangeSettings, build: ClusterBuild, numbers: Mapping[str, range]
    ) -> list[Repetition]:
        assert settings.server_ip is not None and settings.egress_ip is not None
        cni, ns = build.cni, build.kube.namespace
        assert cni.egress is not None  # checked with the spec (Capability.EGRESS_GATEWAY)
        server_ip, egress_ip = str(settings.server_ip), str(settings.egress_ip)
        client = build.add(MANIFESTS / "40-egress-change-client.yaml", [probe_pod(CLIENT_POD, ns)])
        new_pod = build.add(MANIFESTS / "41-egress-change-new-pod.yaml", [probe_pod(NEW_POD_NAME, ns)])
        policy = build.add(
            MANIFESTS / f"42-egress-change-policy-{cni.name}.yaml",
            cni.egress_policy(EgressPolicy(POLICY, ns, PROBE_LABELS, f"{server_ip}/32", egress_ip, GATEWAY_NODE_LABEL)),
        )
        workers = build.platform.worker_names(build) or []
        gateways = workers[:2]
        failure = FAILURE.get(build.platform.name, FAILURE["kubeconfig"])
        build.steps.append(
            f"egress-change: label two gateway-capable nodes {GATEWAY_NODE_LABEL}=true ("
            + (", ".join(gateways) if gateways else "the first two ready workers by name")
            + f"); the {cni.title} policy over both ({policy.relative_to(build.rendered)}); the probe client on "
            f"another worker ({client.relative_to(build.rendered)}); tcpdump at the external server {server_ip}"
        )
        build.steps.append(
            f"per event: a {settings.probe_rate}/s probe to port {PROBE_PORT}; apply the policy / start "
            f"{NEW_POD_NAME} ({new_pod.relative_to(build.rendered)}, port {POD_PORT}) / fail the active gateway: "
            f"{failure}"
        )
        build.steps.append("(the role that runs these events on a live cluster is not written yet: it refuses)")
        build.outside_namespace += ["remove the gateway labels", "uncordon the failed gateway"]
        build.scenarios.append(
            build.role(
                "egress_change",
                trials=[t for t in TRIALS if t in numbers],
                events={t: EVENTS[t] for t in TRIALS},
                policy=str(policy),
                failure=failure,
            )
        )
        return []


ADAPTERS.register(NAME, KubeEgressChange())
