"""The east-west scenario on Kubernetes: iperf3 server pods (one on the pod network, one with ``hostNetwork: true``
for the baseline) on the server's node, client pods pinned to the same node or another one, a ClusterIP Service in
front of the pod server; every repetition ``kubectl exec`` into its client pod. The pods' and the Service's addresses
are known only at run time: the role reads them and fills them in (``@target@`` in the client's argv, the addresses
and nodes the server must see in the repetition's expectations). Role: ``cnibench.bench.east_west``.

Pinning: ``nodeSelector: {kubernetes.io/hostname: <node>}`` where the node is known before the run (the spec's
``server_node``/``client_node``, kind's own node names), as cilium-cli's ``connectivity perf`` and InfraBuilder's
knb pin; otherwise relative to the server (required pod affinity for same-node, anti-affinity for cross-node, on
``kubernetes.io/hostname``), as k8s-netperf places its clients."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from cnibench import pins
from cnibench.platforms.kube import tool_images
from cnibench.platforms.kube.build import ClusterBuild, KubeHost, NodeAddresses
from cnibench.platforms.kube.render import MANIFESTS, app, meta
from cnibench.platforms.kube.scenarios import ADAPTERS
from cnibench.platforms.kube.scenarios.base import KubeAdapter
from cnibench.repetition import Repetition
from cnibench.scenarios._east_west_matrix import (
    CLIENT_POD,
    HOST_CLIENT,
    HOST_SERVER,
    NAME,
    POINTS,
    SERVER_POD,
    SERVICE,
    EastWestSettings,
    Point,
)
from cnibench.scenarios._east_west_rr import CRR_PORT, RR_PORTS
from cnibench.scenarios.base import base_trial, load_suffix
from cnibench.scenarios.east_west import EAST_WEST
from cnibench.spec.base import FieldError
from cnibench.tools import iperf3, sockperf

if TYPE_CHECKING:
    from cnibench.doctor import Check
    from cnibench.platforms.kube.settings import KubernetesSettingsBase
    from cnibench.spec.model import Spec

WHERE = ("scenarios", NAME)
#: ``@target@`` in the client's argv: the server pod's IP, the Service's ClusterIP or the server node's address.
TARGET = "target"
HOSTNAME_LABEL = "kubernetes.io/hostname"
POD_PATHS = ("pod-to-pod", "pod-to-service")
PORT_NAMES = {"TCP": "iperf3-tcp", "UDP": "iperf3-udp"}
#: The containers a client pod's tools run in (``kubectl exec --container``): iperf3 and ab (netshoot), sockperf.
IPERF3_CONTAINER = "iperf3"
SOCKPERF_CONTAINER = "sockperf"
#: A long-lived process to exec the measurements in (as the egress client).
SLEEP = ["sleep", "31536000"]
SERVER_ARGV = ["iperf3", "--server", "--json", "--port", str(iperf3.DEFAULT_PORT)]


@dataclasses.dataclass(frozen=True)
class RrImage:
    """The rr workload's pod image (sockperf) on a cluster: ``image``, its ``pull_policy`` (``Never`` for kind's
    local build, which is in no registry; None: Kubernetes' default) and whether cnibench builds it here."""

    image: str
    pull_policy: str | None
    built_here: bool


def rr_image(kube: KubernetesSettingsBase, platform: type[KubeHost] | KubeHost) -> RrImage | None:
    """The spec's ``kubernetes.sockperf_image`` (pulled by the nodes; kind preloads it), else on kind the image
    cnibench builds from its Dockerfile (:mod:`cnibench.platforms.kube.tool_images`), else None: rr cannot run."""
    if kube.sockperf_image is not None:
        return RrImage(kube.sockperf_image, None, built_here=False)
    if platform.local_images:
        return RrImage(tool_images.local_image("sockperf"), "Never", built_here=True)
    return None


def sockperf_containers(rr: RrImage, *, serves: bool) -> list[dict[str, Any]]:
    """A server pod's sockperf servers (TCP and UDP, one each: a sockperf server serves one protocol, on
    :data:`~cnibench.scenarios._east_west_rr.RR_PORTS`, on the pod's own address), or a client pod's container to
    exec ``sockperf ping-pong`` in. The same argv builders as on netns (:mod:`cnibench.tools.sockperf`)."""
    common: dict[str, Any] = {"image": rr.image, "resources": {"requests": {"cpu": "100m", "memory": "32Mi"}}}
    if rr.pull_policy is not None:
        common["imagePullPolicy"] = rr.pull_policy
    if not serves:
        return [{"name": SOCKPERF_CONTAINER, **common, "command": SLEEP}]
    # bound to the pod's own address, as on netns (the node's, on the host network: status.podIP is the host IP
    # there), so that a UDP reply leaves from the address the request went to; Kubernetes expands $(VAR) in command
    own_ip = {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}
    return [
        {
            "name": f"sockperf-{proto}",
            **common,
            "env": [own_ip],
            "command": sockperf.server_argv("$(POD_IP)", protocol=proto, port=port),
            "ports": [{"name": f"sockperf-{proto}", "containerPort": port, "protocol": proto.upper()}],
        }
        for proto, port in RR_PORTS.items()
    ]


def _affinity(kind: str, other: str) -> dict[str, Any]:
    """Required pod (anti-)affinity to the pods labelled ``app.kubernetes.io/name: other`` on the same host."""
    term = {"labelSelector": {"matchLabels": app(other)}, "topologyKey": HOSTNAME_LABEL}
    return {kind: {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}


def iperf3_pod(
    name: str,
    ns: str,
    command: list[str],
    *,
    node: str | None,
    near: str | None = None,
    away_from: str | None = None,
    host_network: bool = False,
    serves: bool = False,
    crr: bool = False,
    rr: RrImage | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An iperf3 pod pinned to ``node`` (nodeSelector on the host name), else next to the pods of app ``near`` or
    away from those of ``away_from``, labelled ``app.kubernetes.io/name: <name>`` and ``labels``; ``host_network``:
    on the node's own network (the baseline); ``serves``: it listens on iperf3's port (TCP for the control
    connection and TCP tests, UDP for UDP tests); ``crr``: a second container answers the crr workload's requests
    (traefik/whoami's ``/data?size=1``: a 1-byte body) on :data:`~cnibench.scenarios._east_west_rr.CRR_PORT`;
    ``rr``: sockperf's containers from that image (:func:`sockperf_containers`: the servers in a serving pod, one
    to exec the client in otherwise)."""
    container: dict[str, Any] = {
        "name": IPERF3_CONTAINER,
        "image": pins.IPERF3_IMAGE,
        "command": command,
        "resources": {"requests": {"cpu": "100m", "memory": "32Mi"}},
    }
    if serves:
        container["ports"] = [
            {"name": PORT_NAMES[proto], "containerPort": iperf3.DEFAULT_PORT, "protocol": proto}
            for proto in ("TCP", "UDP")
        ]
    containers = [container]
    if crr:
        containers.append({
            "name": "crr",
            "image": pins.ECHO_IMAGE,
            "args": ["--port", str(CRR_PORT)],
            "ports": [{"name": "crr", "containerPort": CRR_PORT, "protocol": "TCP"}],
            "resources": {"requests": {"cpu": "100m", "memory": "32Mi"}},
        })  # fmt: skip
    if rr is not None:
        containers += sockperf_containers(rr, serves=serves)
    spec: dict[str, Any] = {"terminationGracePeriodSeconds": 1, "containers": containers}
    if node is not None:
        spec["nodeSelector"] = {HOSTNAME_LABEL: node}
    elif near is not None:
        spec["affinity"] = _affinity("podAffinity", near)
    elif away_from is not None:
        spec["affinity"] = _affinity("podAntiAffinity", away_from)
    if host_network:
        # "To have DNS options set along with hostNetwork, you have to specify DNS policy explicitly to
        # 'ClusterFirstWithHostNet'" (PodSpec.dnsPolicy); hostPort defaults to containerPort (PodSpec.hostNetwork)
        spec["hostNetwork"] = True
        spec["dnsPolicy"] = "ClusterFirstWithHostNet"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta(name, ns, {**app(name), **(labels or {})}),
        "spec": spec,
    }


def pod_network_pods(
    ns: str,
    placements: Iterable[str],
    server_node: str | None,
    client_node: str | None,
    *,
    crr: bool,
    rr: RrImage | None = None,
    server: str = SERVER_POD,
    clients: Mapping[str, str] = CLIENT_POD,
    server_labels: Mapping[str, str] | None = None,
    client_labels: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The pod-network pods: the iperf3 server ``server`` (on ``server_node``; ``crr``: with the crr responder) and
    one client per placement (``clients``: placement -> name; ``same-node``: on the server's node, ``cross-node``:
    on ``client_node``; unknown nodes: by pod affinity or anti-affinity to the server), with extra
    ``server_labels`` and ``client_labels``; ``rr``: with sockperf's containers from that image."""
    pods = [iperf3_pod(server, ns, SERVER_ARGV, node=server_node, serves=True, crr=crr, rr=rr,
                        labels=server_labels)]  # fmt: skip
    for placement in sorted(placements):
        same = placement == "same-node"
        node = server_node if same else client_node
        near, away = (server, None) if same else (None, server)
        pods.append(iperf3_pod(clients[placement], ns, SLEEP, node=node, near=near, away_from=away, rr=rr,
                               labels=client_labels))  # fmt: skip
    return pods


def service(
    ns: str, *, crr: bool = False, rr: bool = False, name: str = SERVICE, server: str = SERVER_POD
) -> dict[str, Any]:
    """The ClusterIP Service ``name`` in front of the server pod ``server`` (its only endpoint: iperf3's TCP control
    connection and its UDP data must reach the same backend), TCP and UDP on iperf3's port, as InfraBuilder's and
    k8s-netperf's; ``crr``, ``rr``: with the crr responder's and sockperf's ports."""
    ports = [
        {"name": PORT_NAMES[proto], "port": iperf3.DEFAULT_PORT, "targetPort": iperf3.DEFAULT_PORT, "protocol": proto}
        for proto in ("TCP", "UDP")
    ]
    if crr:
        ports.append({"name": "crr", "port": CRR_PORT, "targetPort": CRR_PORT, "protocol": "TCP"})
    if rr:
        ports += [
            {"name": f"sockperf-{proto}", "port": port, "targetPort": port, "protocol": proto.upper()}
            for proto, port in RR_PORTS.items()
        ]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(name, ns, app(name)),
        "spec": {"type": "ClusterIP", "selector": app(server), "ports": ports},
    }


def check_on_kube(settings: EastWestSettings, spec: Spec, platform: type[KubeHost], where: tuple[str, ...]) -> None:
    """What east-west's matrix cannot do on Kubernetes (the section at ``where``: east-west's, or a scenario that
    runs its points): a ClusterIP of the spec's; the rr workload without a sockperf image the nodes can get (kind
    builds one; kubeconfig and AKS need ``kubernetes.sockperf_image``). Raises FieldError."""
    if settings.cluster_ip is not None:
        raise FieldError((*where, "cluster_ip"), f"only on netns: on {platform.name} the cluster assigns it")
    from cnibench.platforms.kube.settings import kube_settings

    if "rr" in settings.workloads and rr_image(kube_settings(spec), platform) is None:
        # no maintained public image carries sockperf (docs/rr-research.md): the user's build of cnibench's
        # Dockerfile, pushed where the nodes pull from
        needed = tool_images.SOCKPERF_NEEDED.format(platform=platform.name)
        raise FieldError(("kubernetes", "sockperf_image"), needed)


def rr_local_checks(
    settings: EastWestSettings | None, platform: type[KubeHost], kube: KubernetesSettingsBase | None
) -> list[Check]:
    """kind builds the rr image here (``docker build``) unless the spec names one: that check, else none."""
    from cnibench.platforms.kube.prerequisites import check_docker_build

    rr = settings is not None and "rr" in settings.workloads
    if not rr or not platform.local_images or (kube is not None and kube.sockperf_image is not None):
        return []
    return [check_docker_build(tool_images.local_image("sockperf"), tool_images.dockerfile("sockperf"))]


class KubeEastWest(KubeAdapter[EastWestSettings]):
    scenario: ClassVar[str] = NAME

    def check(
        self, settings: EastWestSettings, spec: Spec, platform: type[KubeHost], addresses: NodeAddresses | None
    ) -> None:
        check_on_kube(settings, spec, platform, WHERE)

    def local_checks(self, settings: EastWestSettings | None, platform: type[KubeHost],
                     kube: KubernetesSettingsBase | None) -> list[Check]:  # fmt: skip
        """kind builds the rr image here (``docker build``) unless the spec names one."""
        return rr_local_checks(settings, platform, kube)

    def images(self, settings: EastWestSettings, build: ClusterBuild) -> list[str]:
        rr = rr_image(build.kube, build.platform) if "rr" in settings.workloads else None
        return [
            pins.IPERF3_IMAGE,
            *([pins.ECHO_IMAGE] if "crr" in settings.workloads else []),
            *([rr.image] if rr is not None else []),
        ]

    def nodes(self, settings: EastWestSettings, build: ClusterBuild) -> tuple[str | None, str | None]:
        """The server's and the cross-node client's node when known before the run (else None: placed relative to
        the server)."""
        workers = build.platform.worker_names(build)
        server = settings.server_node or (workers[0] if workers else None)
        client = settings.client_node
        if client is None and workers and server is not None:
            others = [w for w in workers if w != server]
            client = others[0] if others else None
        return server, client

    def compile(
        self, settings: EastWestSettings, build: ClusterBuild, numbers: Mapping[str, range]
    ) -> list[Repetition]:
        ns = build.kube.namespace
        names_of_trials = EAST_WEST.ordered([t for t in numbers if EAST_WEST.owns(t)])  # each load: the matrix
        points = [POINTS[base_trial(t)] for t in names_of_trials]
        paths = {p.path for p in points}
        placements = {p.placement for p in points}
        server_node, client_node = self.nodes(settings, build)
        crr = any(p.workload == "crr" for p in points)
        rr = rr_image(build.kube, build.platform) if any(p.workload == "rr" for p in points) else None
        if any(p.workload == "rr" for p in points):
            assert rr is not None, "checked with the spec"
            build.facts["sockperf_image"] = tool_images.sockperf_facts(rr.image, built_here=rr.built_here)
        pods: list[dict[str, Any]] = []
        if paths & set(POD_PATHS):
            pods += pod_network_pods(ns, placements, server_node, client_node, crr=crr, rr=rr)
        if "host-to-host" in paths:
            near = SERVER_POD if paths & set(POD_PATHS) else None  # both servers on one node
            pods.append(iperf3_pod(HOST_SERVER, ns, SERVER_ARGV, node=server_node, near=near, host_network=True,
                                   serves=True, crr=crr, rr=rr))  # fmt: skip
            for placement in sorted(placements):
                same = placement == "same-node"
                node = server_node if same else client_node
                pods.append(iperf3_pod(HOST_CLIENT[placement], ns, SLEEP, node=node, near=HOST_SERVER if same else None,
                                       away_from=None if same else HOST_SERVER, host_network=True, rr=rr))  # fmt: skip
        manifests = [build.add(MANIFESTS / "50-east-west-pods.yaml", pods)]
        if "pod-to-service" in paths:
            manifests.append(
                build.add(MANIFESTS / "51-east-west-service.yaml", [service(ns, crr=crr, rr=rr is not None)])
            )
        names = [pod["metadata"]["name"] for pod in pods]
        repetitions: list[Repetition] = []
        trials = []
        shown: dict[str, str] = {}
        for name, point in zip(names_of_trials, points, strict=True):
            client, server = self._ends(point)
            planned = EAST_WEST.repetitions(
                settings, cni=build.cni.name, trial=name, numbers=numbers[name], run_dir=build.run_dir,
                target_ip=f"@{TARGET}@", expect={"client_node": None, "server_node": None, "client_ip": None,
                                                 "backend_ip": None},
            )  # fmt: skip
            base_argv = planned[0].command.argv  # the scenario's client (iperf3, sockperf, ab), the same every time
            container = SOCKPERF_CONTAINER if point.workload == "rr" else IPERF3_CONTAINER
            exec_argv = tuple(build.kubectl.argv("exec", client, "--container", container, "--", *base_argv))
            planned = build.finish(
                [dataclasses.replace(r, command=dataclasses.replace(r.command, argv=exec_argv)) for r in planned]
            )
            repetitions += planned
            shown[name] = f"-c {container} -- " + " ".join(base_argv)
            trials.append(
                build.trial(
                    name,
                    planned,
                    client_index=names.index(client),
                    server_index=names.index(server),
                    via_service=point.path == "pod-to-service",
                )
            )
        pinned = f"nodeSelector {HOSTNAME_LABEL}: server {server_node}" + (
            f", cross-node client {client_node}" if "cross-node" in placements else ""
        )
        build.steps.append(
            f"start pods {', '.join(names)} ({pins.IPERF3_IMAGE}"
            + (f"; the crr server {pins.ECHO_IMAGE} beside iperf3's" if crr else "")
            + (f"; sockperf from {rr.image}: TCP {RR_PORTS['tcp']} and UDP {RR_PORTS['udp']} servers beside iperf3's"
               f", a container to exec the client in" if rr is not None else "")
            + "; "
            + (pinned if server_node else "same-node clients by pod affinity to their server, cross-node by "
               "anti-affinity")
            + ("; the host servers and clients with hostNetwork: true" if "host-to-host" in paths else "")
            + "); wait until Ready; read their IPs and nodes"
        )  # fmt: skip
        if "pod-to-service" in paths:
            build.steps.append(
                f"create ClusterIP Service {SERVICE} (TCP and UDP {iperf3.DEFAULT_PORT}"
                + (f", TCP {CRR_PORT}" if crr else "")
                + (f", sockperf TCP {RR_PORTS['tcp']} and UDP {RR_PORTS['udp']}" if rr is not None else "")
                + f") -> {SERVER_POD}"
            )
        for name, point, trial in zip(names_of_trials, points, trials, strict=True):
            client, server = self._ends(point)
            idle = next(r for r in repetitions if r.scenario == name).command.idle_s
            build.steps.append(
                f"{name} ({point.code}{load_suffix(name)}): {len(trial['runs'])} x "
                + (f"(idle {idle:g} s on this machine, then) " if idle else "")
                + f"`kubectl exec {client} {shown[name]}` "
                f"(@{TARGET}@: "
                + ("the Service's ClusterIP" if point.path == "pod-to-service" else f"{server}'s IP")
                + (f"; the server must see {client}'s IP)" if point.workload == "stream" else ")")
            )
        build.scenarios.append(
            build.role(
                "east_west",
                manifests=[str(m) for m in manifests],
                pods=names,
                service=SERVICE if "pod-to-service" in paths else None,
                target=TARGET,
                trials=trials,
            )
        )
        return repetitions

    @staticmethod
    def _ends(point: Point) -> tuple[str, str]:
        """The client pod and the server pod of a trial."""
        if point.path == "host-to-host":
            return HOST_CLIENT[point.placement], HOST_SERVER
        return CLIENT_POD[point.placement], SERVER_POD


ADAPTERS.register(NAME, KubeEastWest())
