"""The network-policy scenario on Kubernetes: east-west's pods under names of their own (both scenarios can run in
one spec), the server labelled as the pods the policy protects (:data:`~cnibench.scenarios._policy_rules.
SERVER_LABEL`), the clients with the label the matching rule admits (:data:`~cnibench.scenarios._policy_rules.
CLIENT_LABEL`), one pod per placement without it on the client's node (the denied probe's source), and a ClusterIP
Service for pod-to-service; per policy size the ``networking.k8s.io/v1`` NetworkPolicy objects of
:mod:`cnibench.platforms.kube.network_policy` (a default-deny and one allow policy), rendered to a file each.
Role: ``cnibench.bench.network_policy``.

Trials run one after the other (the Kubernetes platforms do not alternate a scenario's trials): before each, its
size's objects are applied server-side and the run waits until the datapath enforces them (every client connects to
the server's ports, every intruder's connection is dropped; with no policy, until every probe connects:
:mod:`cnibench.platforms.kube.policy_probe`); after it they are deleted and the run waits until traffic is open
again. Each repetition under a policy runs in :mod:`cnibench.platforms.kube.policy_launch`: after the idle window, the
intruder on the client's node connects to the trial's target (the server pod's IP, or the ClusterIP) with iperf3
(:func:`cnibench.tools.policy_probe.probe_argv`); if it gets through, the repetition fails."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from cnibench import pins
from cnibench.platforms.kube import policy_launch, tool_images
from cnibench.platforms.kube.build import ClusterBuild, KubeHost, NodeAddresses
from cnibench.platforms.kube.cnis.base import Capability
from cnibench.platforms.kube.network_policy import policy_objects
from cnibench.platforms.kube.render import MANIFESTS
from cnibench.platforms.kube.scenarios import ADAPTERS
from cnibench.platforms.kube.scenarios.base import KubeAdapter
from cnibench.platforms.kube.scenarios.east_west import (
    IPERF3_CONTAINER,
    SLEEP,
    SOCKPERF_CONTAINER,
    TARGET,
    KubeEastWest,
    check_on_kube,
    iperf3_pod,
    pod_network_pods,
    rr_image,
    rr_local_checks,
    service,
)
from cnibench.repetition import Repetition
from cnibench.scenarios._east_west_matrix import Point
from cnibench.scenarios._network_policy_trials import NAME, NetworkPolicySettings, server_ports, split
from cnibench.scenarios._policy_rules import CLIENT_LABEL, SERVER_LABEL, Protocol, ingress_rules
from cnibench.scenarios.network_policy import NETWORK_POLICY
from cnibench.spec.base import FieldError
from cnibench.tools import iperf3
from cnibench.tools.policy_probe import probe_argv

if TYPE_CHECKING:
    from cnibench.doctor import Check
    from cnibench.platforms.kube.settings import KubernetesSettingsBase
    from cnibench.spec.model import Spec

WHERE = ("scenarios", NAME)
#: The pods' and the Service's names, the netns adapter's (both scenarios' pods can share cnibench's namespace).
SERVER_POD = "np-server"
CLIENT_POD = {"same-node": "np-client-same", "cross-node": "np-client-cross"}
INTRUDER_POD = {"same-node": "np-intruder-same", "cross-node": "np-intruder-cross"}
SERVICE = "np-server"
#: The port the denied probe knocks on: the server's iperf3 (running for every workload).
PROBE_PORT = iperf3.DEFAULT_PORT


def rules_text(size: int | None) -> str:
    """A size in words: ``no policy``, ``0 non-matching rules``..."""
    return "no policy" if size is None else f"{size} non-matching rule{'s' if size != 1 else ''}"


class KubeNetworkPolicy(KubeAdapter[NetworkPolicySettings]):
    scenario: ClassVar[str] = NAME
    needs: ClassVar[tuple[Capability, ...]] = (Capability.POD_NETWORK, Capability.NETWORK_POLICY)

    def resolve(self, settings: NetworkPolicySettings, addresses: NodeAddresses | None) -> NetworkPolicySettings:
        """No programming-latency events unless the spec asks for them (then :meth:`check` refuses): on Kubernetes
        cnibench does not drive them yet, and a default spec runs the size trials."""
        if "events" in settings.model_fields_set:
            return settings
        return settings.model_copy(update={"events": []})

    def check(
        self, settings: NetworkPolicySettings, spec: Spec, platform: type[KubeHost], addresses: NodeAddresses | None
    ) -> None:
        if settings.events:
            raise FieldError(
                (*WHERE, "events"),
                f"the programming-latency events run on netns only: on {platform.name} cnibench does not drive them "
                "yet (the size trials run); leave events out or set events: []",
            )
        check_on_kube(settings, spec, platform, WHERE)

    def local_checks(self, settings: NetworkPolicySettings | None, platform: type[KubeHost],
                     kube: KubernetesSettingsBase | None) -> list[Check]:  # fmt: skip
        """kind builds the rr image here (``docker build``) unless the spec names one, as for east-west."""
        return rr_local_checks(settings, platform, kube)

    def images(self, settings: NetworkPolicySettings, build: ClusterBuild) -> list[str]:
        rr = rr_image(build.kube, build.platform) if "rr" in settings.workloads else None
        return [
            pins.IPERF3_IMAGE,
            *([pins.ECHO_IMAGE] if "crr" in settings.workloads else []),
            *([rr.image] if rr is not None else []),
        ]

    def measured_notes(self, settings: NetworkPolicySettings, kube: KubernetesSettingsBase) -> list[str]:
        return [
            "network-policy: the NetworkPolicy objects are the CNI's to enforce (its own datapath: iptables chains, "
            "eBPF maps, OVS flows); cnibench checks that they are enforced (probes), not how the CNI loaded them."
        ]

    def compile(
        self, settings: NetworkPolicySettings, build: ClusterBuild, numbers: Mapping[str, range]
    ) -> list[Repetition]:
        ns = build.kube.namespace
        trials = [t for t in NETWORK_POLICY.ordered(list(numbers)) if t in numbers]
        points = {split(t)[0] for t in trials}
        placements = sorted({p.placement for p in points})
        workloads = {p.workload for p in points}
        server_node, client_node = KubeEastWest().nodes(settings, build)
        crr = "crr" in workloads
        rr = rr_image(build.kube, build.platform) if "rr" in workloads else None
        if "rr" in workloads:
            assert rr is not None, "checked with the spec"
            build.facts["sockperf_image"] = tool_images.sockperf_facts(rr.image, built_here=rr.built_here)
        pods = pod_network_pods(ns, placements, server_node, client_node, crr=crr, rr=rr, server=SERVER_POD,
                                clients=CLIENT_POD, server_labels=dict([SERVER_LABEL]),
                                client_labels=dict([CLIENT_LABEL]))  # fmt: skip
        nodes = {"same-node": server_node, "cross-node": client_node}
        for placement in placements:  # beside its placement's client: the same node, the same path to the server
            pods.append(iperf3_pod(INTRUDER_POD[placement], ns, SLEEP, node=nodes[placement],
                                   near=CLIENT_POD[placement]))  # fmt: skip
        via_service = any(p.path == "pod-to-service" for p in points)
        manifests = [build.add(MANIFESTS / "55-network-policy-pods.yaml", pods)]
        if via_service:
            front = service(ns, crr=crr, rr=rr is not None, name=SERVICE, server=SERVER_POD)
            manifests.append(build.add(MANIFESTS / "56-network-policy-service.yaml", [front]))
        ports = server_ports(workloads)
        policies = {
            size: build.add(MANIFESTS / f"57-network-policy-{size}rules.yaml", policy_objects(size, ports, ns))
            for size in sorted({s for s in (split(t)[1] for t in trials) if s is not None})
        }
        names = [pod["metadata"]["name"] for pod in pods]
        repetitions: list[Repetition] = []
        trial_vars = []
        for trial in trials:
            point, size = split(trial)
            planned = self._repetitions(settings, build, trial, point, size, numbers[trial], len(ports))
            repetitions += planned
            trial_vars.append(build.trial(
                trial, planned, client_index=names.index(CLIENT_POD[point.placement]),
                server_index=names.index(SERVER_POD), via_service=point.path == "pod-to-service",
                policy=str(policies[size]) if size is not None else None, rules=rules_text(size),
            ))  # fmt: skip
        probes = [{"pod": CLIENT_POD[p], "port": port, "allowed": True} for p in placements for _, port in ports]
        probes += [{"pod": INTRUDER_POD[p], "port": PROBE_PORT, "allowed": False} for p in placements]
        self._steps(build, settings, pods, policies, ports, trials)
        build.scenarios.append(build.role(
            "network_policy", manifests=[str(m) for m in manifests], pods=names,
            service=SERVICE if via_service else None, target=TARGET, server=SERVER_POD, probes=probes,
            timeout=build.kube.ready_timeout, trials=trial_vars,
        ))  # fmt: skip
        return repetitions

    @staticmethod
    def _repetitions(settings: NetworkPolicySettings, build: ClusterBuild, trial: str, point: Point,
                     size: int | None, numbers: range, matching: int) -> list[Repetition]:  # fmt: skip
        """A trial's repetitions: the scenario's, its tool ``kubectl exec``'d in the client pod; under a policy
        after the intruder's denied probe (:mod:`~cnibench.platforms.kube.policy_launch`)."""
        kubectl = build.kubectl
        client, intruder = CLIENT_POD[point.placement], INTRUDER_POD[point.placement]
        service_path = point.path == "pod-to-service"
        denied = kubectl.argv("exec", intruder, "--container", IPERF3_CONTAINER, "--",
                              *probe_argv(f"@{TARGET}@", PROBE_PORT))  # fmt: skip
        container = SOCKPERF_CONTAINER if point.workload == "rr" else IPERF3_CONTAINER

        def in_client(argv: list[str]) -> list[str]:
            return kubectl.argv("exec", client, "--container", container, "--", *argv)

        def with_probe(argv: list[str]) -> list[str]:
            return policy_launch.argv(denied, in_client(argv), python=sys.executable)

        policy = {
            "policy_rules": (size or 0) + matching,
            "probe_source": intruder,
            "probe_target": f"Service {SERVICE}'s ClusterIP" if service_path else f"{SERVER_POD}'s IP",
            "probe_port": PROBE_PORT,
        }
        planned = NETWORK_POLICY.repetitions(
            settings, cni=build.cni.name, trial=trial, numbers=numbers, run_dir=build.run_dir,
            target_ip=f"@{TARGET}@", expect={"client_node": None, "server_node": None, "client_ip": None,
                                             "backend_ip": None},
            policy=policy, probe=with_probe,
        )  # fmt: skip
        if size is None:  # no probe: the scenario left the tool's argv as it is
            planned = [dataclasses.replace(r, command=dataclasses.replace(r.command, argv=tuple(in_client(list(
                r.command.argv))))) for r in planned]  # fmt: skip
        return build.finish(planned)

    @staticmethod
    def _steps(build: ClusterBuild, settings: NetworkPolicySettings, pods: list[dict[str, Any]],
               policies: Mapping[int, Any], ports: list[tuple[Protocol, int]], trials: list[str]) -> None:  # fmt: skip
        """What ``plan`` shows."""
        names = ", ".join(p["metadata"]["name"] for p in pods)
        server_label, client_label = "=".join(SERVER_LABEL), "=".join(CLIENT_LABEL)
        build.steps.append(
            f"start pods {names} ({pins.IPERF3_IMAGE}; {SERVER_POD} labelled {server_label}, the clients "
            f"{client_label}, the intruders without it, each beside its placement's client); wait until Ready"
        )
        if any(n.startswith("pod-to-service") for n in trials):
            build.steps.append(f"create ClusterIP Service {SERVICE} -> {SERVER_POD} (pod-to-service: the policy "
                               "applies after its DNAT, to the pod's port)")  # fmt: skip
        port_text = ", ".join(f"{proto} {port}" for proto, port in ports)
        for size, path in policies.items():
            count = len(ingress_rules(size, ports))
            build.steps.append(
                f"policy {rules_text(size)} ({build.shown(path)}): NetworkPolicy default-deny of {server_label}'s "
                f"ingress + one allow policy of {count} ingress rules ({size} non-matching in front of the clients' "
                f"on {port_text}), applied server-side"
            )
        build.steps.append(
            f"network-policy: {len(trials)} trial(s), one after the other; before each, its size's objects applied "
            f"and the run waits until they are enforced (every client connects to {SERVER_POD}, every intruder's "
            f"connection to port {PROBE_PORT} is dropped; nc -z probes), after it they are deleted and the run "
            "waits until traffic is open again; every repetition under a policy starts with the denied probe "
            f"(iperf3 from the intruder to the trial's target: it must time out, else the repetition fails)"
        )


ADAPTERS.register(NAME, KubeNetworkPolicy())
