"""The egress-change scenario on Kubernetes (kind, kubeconfig; AKS is refused: no external server there, as for
egress). Each repetition is driven on this machine by :mod:`cnibench.platforms.kube.scenarios._egress_change_run`
(the measured command: it writes the pcap); the role ``cnibench.bench.egress_change`` labels the gateway nodes,
starts the server container (kind) and the probe client, runs the trials and always clears up after them.

What is rendered: the probe client pod (never on a gateway node), the new pod of the new-pod trial (the same labels,
so the existing policy selects it; its container is the probe from its start), the CNI's egress policy over **two**
gateway-capable nodes (both labelled ``cnibench.io/egress-gateway=true``) and the driver's configuration:

* Antrea: an ExternalIPPool of the egress IP whose nodeSelector matches both nodes, and an Egress using it; Antrea's
  agents elect the IP's owner among the pool's alive nodes (memberlist) and move it when the owner fails
  (docs: antrea.io "Egress", antrea-io/antrea#4603); the owner is the Egress's ``status.egressNode``;
* Cilium: a CiliumEgressGatewayPolicy whose egressGateway nodeSelector matches both nodes; Cilium uses the first of
  them by name and has no failover of the egress IP in its open-source edition (cilium/cilium#18230, open): the
  scenario measures the outage until the node returns rather than refusing.

Each platform's failure of the active gateway: :data:`FAILURE` (the README's table says the same).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from cnibench import pins
from cnibench.doctor import APT, check_tool
from cnibench.platforms.kube.build import ClusterBuild, ExternalServer, KubeHost, NodeAddresses
from cnibench.platforms.kube.cnis.base import Capability, EgressPolicy
from cnibench.platforms.kube.render import GATEWAY_NODE_LABEL, MANIFESTS, app, meta
from cnibench.platforms.kube.scenarios import ADAPTERS
from cnibench.platforms.kube.scenarios._egress_change_events import Failure, client_seconds, probe_argv
from cnibench.platforms.kube.scenarios.base import KubeAdapter
from cnibench.platforms.kube.scenarios.egress import claim_addresses, resolve_addresses
from cnibench.repetition import MeasureCommand, Repetition
from cnibench.scenarios.egress_change import (
    APPLY,
    CLIENT_POD,
    EVENTS,
    FLOW_PORT,
    NAME,
    NEW_POD_NAME,
    POD_PORT,
    PROBE_PORT,
    TIMEOUT_MARGIN,
    TRIALS,
    EgressChangeExpectation,
    EgressChangeSettings,
)
from cnibench.spec.base import FieldError

if TYPE_CHECKING:
    from cnibench.doctor import Check
    from cnibench.platforms.kube.settings import KubernetesSettingsBase
    from cnibench.spec.model import Spec

POLICY = "cnibench-egress-change"
DRIVER = "cnibench.platforms.kube.scenarios._egress_change_run"
WHERE = ("scenarios", NAME)
#: The probe pods' label: the policy selects both the client and the new pod by it.
PROBE_LABELS = app("egress-change-probe")

#: What each platform calls the active gateway's failure (the README's table says the same): the driver's action
#: and its words. kind: not ``docker network disconnect``: kind's network has no user-configured IPv4 subnet, so
#: ``docker network connect`` cannot give the node its address back (``--ip`` is refused) and it may return with
#: another one; a link down inside the node keeps its address, as netns's links down do.
FAILURE: dict[str, tuple[Failure, str]] = {
    "kind": ("link-down", "its node container's eth0 on kind's network set down from inside the node (carrier lost "
             "for the others), up again with its routes after the window"),
    "kubeconfig": ("cordon", "the node is cordoned and its CNI agent's pod deleted on it (uncordoned after the "
                   "window)"),
}  # fmt: skip


def probe_pod(name: str, ns: str, command: list[str] | None = None) -> dict[str, Any]:
    """A probe pod (iperf3's image), never on a gateway node: a long-lived process to exec the probe in, or
    (``command``) the probe itself from the container's start, never restarted (the new pod)."""
    pod: dict[str, Any] = {
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
                "command": command or ["sleep", "31536000"],
                "resources": {"requests": {"cpu": "100m", "memory": "32Mi"}},
            }],
        },
    }  # fmt: skip
    if command:
        pod["spec"]["restartPolicy"] = "Never"
    return pod


class KubeEgressChange(KubeAdapter[EgressChangeSettings]):
    scenario: ClassVar[str] = NAME
    needs: ClassVar[tuple[Capability, ...]] = (Capability.POD_NETWORK, Capability.EGRESS_GATEWAY)

    def resolve(self, settings: EgressChangeSettings, addresses: NodeAddresses | None) -> EgressChangeSettings:
        return resolve_addresses(settings, addresses)

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
            claim_addresses(settings, addresses, WHERE)
            return
        for field in ("server_ip", "egress_ip"):
            if getattr(settings, field) is None:
                raise FieldError((*WHERE, field), f"required on {platform.name}")

    def local_checks(
        self, settings: EgressChangeSettings | None, platform: type[KubeHost], kube: KubernetesSettingsBase | None
    ) -> list[Check]:
        if not platform.external_server_here:
            return []
        return [
            check_tool("iperf3", f"{APT} iperf3", what="iperf3 (egress-change: the external server)"),
            check_tool("tcpdump", f"{APT} tcpdump", what="tcpdump (egress-change: the capture, as root)"),
        ]

    def images(self, settings: EgressChangeSettings, build: ClusterBuild) -> list[str]:
        return [pins.IPERF3_IMAGE]

    def compile(
        self, settings: EgressChangeSettings, build: ClusterBuild, numbers: Mapping[str, range]
    ) -> list[Repetition]:
        assert settings.server_ip is not None and settings.egress_ip is not None
        platform, cni, ns = build.platform, build.cni, build.kube.namespace
        assert cni.egress is not None  # checked with the spec (Capability.EGRESS_GATEWAY)
        server_ip, egress_ip = str(settings.server_ip), str(settings.egress_ip)
        seconds = client_seconds(settings.lead, settings.duration)
        new_pod_probe = probe_argv(server_ip, POD_PORT, seconds, bitrate=settings.probe_bitrate,
                                   size=settings.probe_size)  # fmt: skip
        client = build.add(MANIFESTS / "40-egress-change-client.yaml", [probe_pod(CLIENT_POD, ns)])
        new_pod = build.add(MANIFESTS / "41-egress-change-new-pod.yaml", [probe_pod(NEW_POD_NAME, ns, new_pod_probe)])
        policy = build.add(
            MANIFESTS / f"42-egress-change-policy-{cni.name}.yaml",
            cni.egress_policy(EgressPolicy(POLICY, ns, PROBE_LABELS, f"{server_ip}/32", egress_ip, GATEWAY_NODE_LABEL)),
        )
        shown = "tcpdump and one-off iperf3 servers per repetition"
        server, where = platform.external_server(
            build, ExternalServer("egress-change", server_argv, pins.IPERF3_IMAGE, server_ip, PROBE_PORT, shown)
        )
        in_container = server["kind"] == "container"
        workers = platform.worker_names(build) or []
        failure, failure_words = FAILURE[platform.name]
        # a CNI that does not put the egress IP on the gateway itself: cnibench does where the node is a container
        assign = None
        if not cni.egress.assigns_ip and platform.node_containers:
            assign = {"address": f"{egress_ip}/{build.spec.network.node_cidr.prefixlen}", "device": "eth0"}
        owner = cni.egress.owner_status
        config = {
            "kubectl": {"kubeconfig": build.vars.get("kubeconfig"), "context": build.vars.get("context"),
                        "namespace": ns},
            "server": {"container": server["name"] if in_container else None, "ip": server_ip,
                       "device": "eth0" if in_container else None},
            # kind: to the server's own address over kind's network; kubeconfig: its interface's broadcast (run time)
            "marker_to": server_ip if in_container else None,
            "tcpdump": "tcpdump", "iperf3": "iperf3", "egress_ip": egress_ip,
            "lead": settings.lead, "duration": settings.duration, "probe_bitrate": settings.probe_bitrate,
            "probe_size": settings.probe_size, "flow_bitrate": settings.flow_bitrate,
            "ports": {"probe": PROBE_PORT, "flow": FLOW_PORT, "pod": POD_PORT},
            "client_pod": CLIENT_POD, "new_pod": NEW_POD_NAME, "new_pod_manifest": str(new_pod), "policy": str(policy),
            "failure": failure, "agent_daemonset": cni.agent.daemonset,
            "owner": {"resource": owner[0], "name": POLICY, "field": owner[1]} if owner else None,
            "apply_timeout": settings.apply_timeout, "gateway_label": GATEWAY_NODE_LABEL,
            "preferred_gateways": workers[:2] or None, "assign_egress_ip": assign,
            "state": str(build.state / f"egress-change-{cni.name}.json"),
            "log_dir": str(build.run_dir / "logs" / cni.name / NAME),
        }  # fmt: skip
        config_path = build.add(Path(NAME) / "driver.json", json.dumps(config, indent=2) + "\n")
        repetitions: list[Repetition] = []
        for trial in (t for t in TRIALS if t in numbers):
            argv = (sys.executable, "-m", DRIVER, "measure", str(config_path), EVENTS[trial], "@gateway_nodes@")
            expect = EgressChangeExpectation(event=EVENTS[trial], egress_ip=egress_ip)
            for number in numbers[trial]:
                artifact = build.run_dir / "raw" / cni.name / trial / f"rep-{number:02d}.pcap"
                timeout = settings.lead + settings.duration + TIMEOUT_MARGIN + settings.apply_timeout
                command = MeasureCommand(argv=argv, stdout=artifact, timeout_s=timeout)
                repetitions.append(Repetition(cni.name, trial, number, artifact, command,
                                              settings.lead + settings.duration, 0.0, expect))  # fmt: skip
        repetitions = build.finish(repetitions)
        gateways = ", ".join(workers[:2]) if workers else "the first two ready, schedulable workers by name"
        build.steps.append(
            f"egress-change: the external server {where}; label two gateway-capable nodes {GATEWAY_NODE_LABEL}=true "
            f"({gateways})"
            + (f"; put {egress_ip} on the active one's eth0 ({cni.title} does not)" if assign else "")
            + f"; start pod {CLIENT_POD} on another worker ({build.shown(client)})"
        )
        build.steps.append(
            f"per repetition ({build.shown(config_path)}): tcpdump at {server_ip} and one-off iperf3 servers (ports "
            f"{PROBE_PORT}-{POD_PORT}), a {settings.probe_rate}/s probe from {CLIENT_POD}, after {settings.lead:g} s "
            f"the event: `kubectl apply` of the {cni.title} policy ({build.shown(policy)}) / start {NEW_POD_NAME} "
            f"under it ({build.shown(new_pod)}: the probe from its start) / fail the active gateway: {failure_words}; "
            "its marker into the capture, then the window; after each trial (also a failed one) the failure undone, "
            "the new pod and the policy deleted"
        )
        build.outside_namespace += ["remove the gateway labels", "uncordon the failed gateway"]
        trial_vars = [build.trial(t, [r for r in repetitions if r.scenario == t], policy_before=t != APPLY)
                      for t in TRIALS if t in numbers]  # fmt: skip
        build.scenarios.append(
            build.role(
                NAME.replace("-", "_"),
                config=str(config_path),
                server=server,
                client_manifest=str(client),
                policy=str(policy),
                trials=trial_vars,
            )
        )
        return repetitions


def server_argv(bind: str | None) -> list[str]:
    """kind's server container: a long-lived process to ``docker exec`` tcpdump and the iperf3 servers in."""
    return ["sleep", "31536000"]


ADAPTERS.register(NAME, KubeEgressChange())
