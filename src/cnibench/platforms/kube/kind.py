"""The kind platform: a fresh kind cluster per CNI (control plane + workers, default CNI disabled, the thesis's
config; kube-proxy off for a CNI that replaces it), the CNI by Helm, no load balancer of its own (the ingress adapter
adds MetalLB for the LoadBalancer IP), the external server as a container on kind's network, the images pulled once
on this machine and loaded into every cluster; and what kind needs on this machine."""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from cnibench import pins
from cnibench.doctor import Check, check_versioned, tool_output
from cnibench.platforms import PLATFORMS
from cnibench.platforms.kube import render
from cnibench.platforms.kube.base import KubePlatform, cluster_name
from cnibench.platforms.kube.build import ClusterBuild, ExternalServer, NodeAddresses
from cnibench.platforms.kube.cnis import spec_cni
from cnibench.platforms.kube.cnis.base import KindValues
from cnibench.platforms.kube.prerequisites import HINTS, check_docker, docker_info
from cnibench.platforms.kube.settings import kube_settings
from cnibench.platforms.kube.teardown import remove_kind
from cnibench.platforms.kube.tool_images import build_context
from cnibench.proc import tool_path
from cnibench.spec.base import FieldError, Loc

if TYPE_CHECKING:
    from cnibench.platforms.kube.cnis.base import Cni
    from cnibench.platforms.kube.settings import KubernetesSettingsBase
    from cnibench.spec.model import Spec

#: kind's docker network as kind creates it by default (checked against ``docker network inspect kind``).
KIND_NETWORK = "172.18.0.0/16"
#: Addresses of kind's network the nodes get: docker hands them out from the bottom.
KIND_DOCKER_HOSTS = 16
API_SERVER_PORT = 6443


class KindAddresses(NodeAddresses):
    """The free addresses at the top of kind's network (the nodes take theirs from the bottom), and the addresses
    the scenarios claim of it: each inside it, above the nodes', and used once."""

    def __init__(self, node_cidr: ipaddress.IPv4Network) -> None:
        self.node_cidr = node_cidr
        self.claims: list[tuple[Loc, ipaddress.IPv4Address, bool]] = []

    def top(self, n: int) -> ipaddress.IPv4Address:
        return self.node_cidr.broadcast_address - n

    def claim(self, loc: Loc, ip: ipaddress.IPv4Address, *, default: bool) -> None:
        self.claims.append((loc, ip, default))

    def check(self) -> None:
        """Raises FieldError naming the first bad claim (defaults first: a clash names the field set by hand)."""
        node_cidr = self.node_cidr
        top = node_cidr.broadcast_address
        docker_hosts = (node_cidr.network_address + 1, node_cidr.network_address + KIND_DOCKER_HOSTS)
        where = f"kind's network (network.node_cidr {node_cidr})"
        taken: dict[ipaddress.IPv4Address, str] = {}
        for loc, ip, _ in sorted(self.claims, key=lambda claim: not claim[2]):
            if ip not in node_cidr:
                raise FieldError(loc, f"{ip} is outside {where}")
            if ip in (node_cidr.network_address, top) or docker_hosts[0] <= ip <= docker_hosts[1]:
                raise FieldError(
                    loc, f"{ip} is reserved in {where}: docker gives {docker_hosts[0]}-{docker_hosts[1]} to the nodes"
                )
            if ip in taken:
                raise FieldError(loc, f"{ip} is already the {taken[ip]}")
            taken[ip] = str(loc[-1])


# ---- what kind needs on this machine -----------------------------------------------------------------------------
KIND_HINT = (
    f"install kind v{pins.KIND_VERSION} or newer (the pinned node image is its own): "
    f"`go install sigs.k8s.io/kind@v{pins.KIND_VERSION}`, or download the binary as in "
    "https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
)
#: The oldest kind the playbooks are written for: the one whose node image is pinned in cnibench.pins.
KIND_MIN_VERSION = (int(pins.KIND_VERSION.split(".")[0]), int(pins.KIND_VERSION.split(".")[1]))


def check_kind() -> Check:
    """kind itself, new enough for the pinned node image."""
    return check_versioned("kind", ["kind", "version"], KIND_HINT, minimum=KIND_MIN_VERSION)


def check_cgroup_v2() -> Check:
    """kind: the node image pinned for kind v0.31 is Kubernetes 1.35, whose kubelet refuses to start on cgroup v1
    by default (failCgroupV1 true since 1.35, kubernetes PR #134298, KEP-5573; kind PR #4077 dropped its cgroup v1
    CI for it). Docker reports the host's version as ``CgroupVersion``."""
    ok, text = docker_info(".CgroupVersion")
    if not ok:
        return Check("cgroup v2", False, f"docker info failed: {text.splitlines()[-1][:160] if text else 'no answer'}",
                     HINTS["docker"])  # fmt: skip
    if text.strip() == "2":
        return Check("cgroup v2", True, "Docker runs on cgroup v2")
    return Check(
        "cgroup v2",
        False,
        f"Docker runs on cgroup v{text.strip() or '?'}: the kubelet of Kubernetes 1.35 (kind v0.31's node image) does "
        "not start on cgroup v1 (KEP-5573)",
        "boot the host with cgroup v2 (systemd.unified_cgroup_hierarchy=1; the default of current distributions), "
        "or use an older kind and node image at your own risk",
    )


def check_no_kept_clusters() -> Check:
    """kind: clusters of earlier runs (kept with --keep, or left by a crash) hold the same addresses on kind's
    network as the next run's: they must go first."""
    kind = tool_path("kind")
    if kind is None:
        return Check("earlier clusters", False, "kind not found", KIND_HINT)
    ok, text = tool_output([kind, "get", "clusters"])
    if not ok:
        return Check("earlier clusters", False, f"kind get clusters failed: {text[:200]}", HINTS["docker"])
    left = [name for name in text.split() if re.match(r"^cnib[0-9a-f]{4}-", name)]
    if left:
        return Check(
            "earlier clusters",
            False,
            f"kind cluster(s) of an earlier cnibench run are up: {', '.join(left)}; they hold the addresses on "
            "kind's network this run needs",
            "cnibench clean (or kind delete cluster --name NAME)",
        )
    return Check("earlier clusters", True, "no cnibench kind cluster is up")


def check_ports_free(ports: tuple[int, ...] = (80, 443)) -> Check:
    """kind with the thesis's port mappings: 127.0.0.1:80 and :443 must be free for the control plane."""
    busy = []
    for port in ports:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                busy.append(port)
    if busy:
        return Check(
            "ports 80/443",
            False,
            f"something listens on 127.0.0.1:{', '.join(map(str, busy))}, where kind maps the control plane's ports",
            "stop it, or set kubernetes.kind_port_mappings: false in the spec",
        )
    return Check("ports 80/443", True, "free on 127.0.0.1 (the thesis's port mappings)")


def kind_checks(*, port_mappings: bool, cnis: Sequence[Cni] = ()) -> list[Check]:
    """kind: Docker's daemon on cgroup v2, what the ``cnis`` need of Docker's kernel, kind itself, no cluster of an
    earlier run, the mapped ports free."""
    kind = check_kind()
    docker = check_docker()
    checks = [docker, kind]
    if docker.ok:
        checks.append(check_cgroup_v2())
        checks += [check for cni in cnis for check in cni.kind_prerequisites()]
    if kind.ok:
        checks.append(check_no_kept_clusters())
    if port_mappings:
        checks.append(check_ports_free())
    return checks


class KindPlatform(KubePlatform):
    name: ClassVar[str] = "kind"
    description: ClassVar[str] = "a kind cluster per CNI on this machine's Docker (the thesis's local setup)"
    cluster_s: ClassVar[float] = 420.0
    teardown_s: ClassVar[float] = 30.0  # kind delete cluster
    cpu_scope: ClassVar[str] = "machine"  # the nodes are containers sharing this machine's kernel and CPUs
    measured_notes: ClassVar[tuple[str, ...]] = (
        "every node is a container on this machine: a node's CPU is the whole machine's, k6 and the external iperf3 "
        "server included; the nodes' network is Docker's bridge on this machine",
    )
    external_server_where: ClassVar[str] = "on kind's network"
    node_containers: ClassVar[bool] = True
    local_images: ClassVar[bool] = True
    recorded_tools: ClassVar[dict[str, list[str]]] = {
        "kind": ["kind", "version"],
        "docker": ["docker", "version", "--format", "{{.Server.Version}}"],
    }
    leftover_what: ClassVar[str] = "its kind clusters and containers"

    # ---- the spec -------------------------------------------------------------------------------------------------
    @classmethod
    def resolve_platform(cls, spec: Spec) -> Spec:
        """kind's network as the node network; the scenarios take free addresses at its top (the LoadBalancer IP
        .254, the egress IP .253, the external server .252)."""
        if "node_cidr" in spec.network.model_fields_set:
            return spec
        network = spec.network.model_copy(update={"node_cidr": ipaddress.IPv4Network(KIND_NETWORK)})
        return spec.model_copy(update={"network": network})

    @classmethod
    def check_platform(cls, spec: Spec) -> None:
        node_cidr = spec.network.node_cidr
        if node_cidr.overlaps(spec.network.pod_cidr):
            raise FieldError(("network", "pod_cidr"), f"{spec.network.pod_cidr} overlaps node_cidr {node_cidr}")
        if node_cidr.num_addresses < 2 * KIND_DOCKER_HOSTS:
            raise FieldError(("network", "node_cidr"), "kind's network must be /27 or larger")

    @classmethod
    def node_addresses(cls, spec: Spec) -> KindAddresses:
        return KindAddresses(spec.network.node_cidr)

    @classmethod
    def check_addresses(cls, addresses: NodeAddresses) -> None:
        assert isinstance(addresses, KindAddresses)
        addresses.check()

    @classmethod
    def cni_values(
        cls, cni: Cni, kube: KubernetesSettingsBase, spec: Spec, *, cluster: str, cni_gateway: bool
    ) -> dict[str, Any] | None:
        return cni.with_knobs(cni.kind_values(cls._cni_context(cni, kube, spec, cluster=cluster,
                                                               cni_gateway=cni_gateway)))  # fmt: skip

    @classmethod
    def cni_objects(cls, cni: Cni, kube: KubernetesSettingsBase, spec: Spec, *, cluster: str) -> list[dict[str, Any]]:
        return cni.kind_objects(cls._cni_context(cni, kube, spec, cluster=cluster, cni_gateway=False))

    @staticmethod
    def _cni_context(cni: Cni, kube: KubernetesSettingsBase, spec: Spec, *, cluster: str, cni_gateway: bool
                     ) -> KindValues:  # fmt: skip
        # without kube-proxy a CNI's agents reach the API server directly: the control plane's container
        return KindValues(kube.versions.chart(cni.base), f"{cluster}-control-plane", API_SERVER_PORT, cni_gateway,
                          str(spec.network.pod_cidr))  # fmt: skip

    @classmethod
    def k6_in_container(cls, kube: KubernetesSettingsBase | None) -> bool:
        return kube is not None and kube.k6_in_container

    # ---- before a run ---------------------------------------------------------------------------------------------
    @classmethod
    def machine_checks(cls, spec: Spec | None) -> list[Check]:
        if spec is None:
            return kind_checks(port_mappings=True)
        cnis = [spec_cni(spec, name) for name in spec.cni_names]
        return kind_checks(port_mappings=kube_settings(spec).kind_port_mappings, cnis=cnis)

    # ---- compile hooks --------------------------------------------------------------------------------------------
    def create_cluster(self, build: ClusterBuild, images: list[list[str]]) -> None:
        """kind create cluster from the rendered config (kubeconfig in the private state directory), kind's docker
        network checked at once, the images preloaded."""
        spec, kube, cni, v = build.spec, build.kube, build.cni, build.vars
        name = cluster_name(build.prefix, cni.name)
        v["cluster"] = name
        v["kubeconfig"] = str(build.state / f"kubeconfig-{cni.name}")
        v["context"] = f"kind-{name}"
        plugins = self._cni_plugins(build)
        config = build.add(
            render.KIND_CONFIG,
            render.kind_config(
                name=name,
                workers=spec.nodes.workers,
                node_image=kube.node_image,
                pod_cidr=str(spec.network.pod_cidr),
                kube_proxy=not cni.kube_proxy_replacement,
                port_mappings=kube.kind_port_mappings,
                node_mounts=plugins["mounts"] if plugins else None,
            ),
        )
        preload = cni.images(kube.versions.chart(cni.base))
        if spec.metrics.enabled:
            preload += [pins.NODE_EXPORTER_IMAGE, pins.PROMETHEUS_IMAGE]
        preload += [image for scenario in images for image in scenario]
        v["create"] = build.role(
            "kind",
            cluster=name,
            kind_config=str(config),
            node_cidr=str(spec.network.node_cidr),
            preload={"images": preload, "archive_dir": str(build.state / "images")},
            cni_plugins=plugins,
        )
        build.facts["kind_node_image"] = kube.node_image
        build.steps.append(
            f"create kind cluster {name}: control plane + {spec.nodes.workers} workers, {kube.node_image}, default CNI "
            f"disabled{', no kube-proxy' if cni.kube_proxy_replacement else ''}; kubeconfig in {v['kubeconfig']}"
            + (f"; {cni.title}: {cni.kind_note}" if cni.kind_note else "")
        )
        if plugins:
            build.steps.append(
                f"before that, download the reference CNI plugins v{pins.CNI_PLUGINS_VERSION} for Docker's "
                f"architecture (SHA-256 pinned) into {plugins['dir']} and mount {', '.join(cni.kind_cni_plugins)} "
                f"into every node's /opt/cni/bin ({cni.title} delegates to them; kind's node image lacks them)"
            )
        build.steps.append(
            f"check kind's docker network is network.node_cidr {spec.network.node_cidr} (at once, before minutes go "
            "into the CNI)"
        )
        built = [image for image in preload if build_context(image) is not None]
        pulled = [image for image in preload if image not in built]
        build.steps.append(
            f"preload {len(pulled)} Docker Hub images: each pulled once on this machine (only if missing, for "
            "Docker's platform), saved once and loaded into every node (kind load image-archive), so the nodes of "
            f"the run's clusters pull none of them; digests recorded in environment.json: {', '.join(pulled)}"
        )
        for image in built:
            build.steps.append(
                f"build {image} once on this machine (docker build {build_context(image)}: "
                f"{pins.SOCKPERF_BASE_IMAGE} + Debian's sockperf {pins.SOCKPERF_PACKAGE_VERSION}) and load it into "
                "every node the same way (its pods never pull it); its image ID recorded in environment.json"
            )

    @staticmethod
    def _cni_plugins(build: ClusterBuild) -> dict[str, Any] | None:
        """The reference CNI plugins the CNI needs that kind's node image lacks (None: none): the pinned release per
        Docker architecture, unpacked on this machine into the run's state directory, each named plugin mounted into
        every node's /opt/cni/bin (the rest of kind's own plugins stay), as Flannel's kind test does."""
        names = build.cni.kind_cni_plugins
        if not names:
            return None
        directory = build.state / "cni-plugins"
        downloads = {
            docker: {"url": pins.cni_plugins_url(arch), "checksum": f"sha256:{pins.CNI_PLUGINS_SHA256[arch]}"}
            for docker, arch in pins.DOCKER_ARCHITECTURES.items()
        }
        return {
            "dir": str(directory),
            "downloads": downloads,
            "mounts": {f"/opt/cni/bin/{name}": str(directory / "bin" / name) for name in names},
        }

    def end_cluster(self, build: ClusterBuild, *, keep: bool) -> tuple[dict[str, str], str | None]:
        """The cluster deleted, or (``--keep``, the run's last cluster only: every cluster of a run uses the same
        addresses on kind's network) left running, with a note saying how to reach and delete it."""
        name = build.vars["cluster"]
        build.vars["teardown"] = build.role("teardown", kind_cluster=name)
        build.steps.append(
            "--keep: leave the cluster and the server container running"
            if keep
            else "delete the kind cluster and the external containers"
            + (" (--keep keeps the last CNI's cluster only: they share kind's addresses)" if self.keep else "")
        )
        note = (
            f"kept kind cluster {name}: kubectl --kubeconfig {build.vars['kubeconfig']} get pods -A; delete it with "
            f"`cnibench clean` (or kind delete cluster --name {name})"
        )
        return {"cni": build.cni.name, "cluster": name}, note

    def worker_names(self, build: ClusterBuild) -> list[str] | None:
        """kind names its nodes itself: ``<cluster>-worker``, ``<cluster>-worker2``..."""
        return render.kind_node_names(build.vars["cluster"], build.spec.nodes.workers)[1:]

    def external_server(self, build: ClusterBuild, server: ExternalServer) -> tuple[dict[str, Any], str]:
        """A container on kind's network. ``docker run --ip`` needs a network created with --subnet, which kind's is
        not: the container gets docker's address and cnibench adds the spec's server IP to its eth0 (it answers ARP
        for it)."""
        container = f"{build.prefix}-{build.cni.name}-{server.tool}"
        build.containers.append(container)
        variables = {
            "kind": "container",
            "name": container,
            "argv": [
                "docker", "run", "--detach", "--name", container, "--network", "kind", "--cap-add", "NET_ADMIN",
                "--label", "app.kubernetes.io/managed-by=cnibench", server.image, *server.argv(None),
            ],
            "add_address": [
                "docker", "exec", container, "ip", "address", "add",
                f"{server.ip}/{build.spec.network.node_cidr.prefixlen}", "dev", "eth0",
            ],
            "remove": ["docker", "rm", "--force", container],
        }  # fmt: skip
        return variables, f"a container {container} on kind's network, with {server.ip} added to its eth0"

    # ---- the end of a run -----------------------------------------------------------------------------------------
    @classmethod
    def remove_run(cls, prefix: str, directory: Path, run_dir: str | None, *, kept: dict[str, str] | None) -> list[str]:
        """The run's kind clusters (but the kept one) and its containers."""
        return remove_kind(prefix, keep_cluster=(kept or {}).get("cluster"))


PLATFORMS.register(KindPlatform.name, KindPlatform)
