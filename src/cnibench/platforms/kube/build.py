"""One CNI's cluster while a Kubernetes run is compiled (:class:`ClusterBuild`), and what the platform and the scenario
adapters share about it: the platform as the adapters see it (:class:`KubeHost`), a server outside the cluster,
the nodes' free addresses. The leaf below the platforms (:mod:`cnibench.platforms.kube.base`), the adapters
(:mod:`cnibench.platforms.kube.scenarios`) and monitoring: it imports none of them.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from cnibench.platforms.kube.kubectl import Kubectl
from cnibench.repetition import MetricsWindow, Repetition
from cnibench.scenarios.load import without_idle

if TYPE_CHECKING:
    from cnibench.platforms.kube.cnis.base import Cni
    from cnibench.platforms.kube.settings import KubernetesSettingsBase
    from cnibench.spec.base import Loc
    from cnibench.spec.model import Spec

#: The collection the roles are in.
COLLECTION = "cnibench.bench"


class NodeAddresses(Protocol):
    """A platform's plan of free addresses on the nodes' network (kind: the top of kind's docker network), from
    which the scenarios take their defaults and which checks the addresses they claim."""

    def top(self, n: int) -> ipaddress.IPv4Address:
        """The ``n``-th address below the broadcast address (1: the highest usable one)."""
        ...

    def claim(self, loc: Loc, ip: ipaddress.IPv4Address, *, default: bool) -> None:
        """Note that the spec field at ``loc`` uses ``ip`` (``default``: the address :meth:`top` gave it); the
        platform checks every claim after the adapters' checks (defaults first: a clash names the field set by
        hand)."""
        ...


@dataclass(frozen=True)
class ExternalServer:
    """A server outside the cluster that a scenario needs, for the platform to place: ``tool`` (its name), its
    command (``argv(bind)``: bound to an address, or to none), the ``image`` it runs from in a container, its address
    and port, and how ``plan`` shows it."""

    tool: str
    argv: Callable[[str | None], list[str]]
    image: str
    ip: str
    port: int
    shown: str


class KubeHost:
    """What the scenario adapters may ask of the Kubernetes platform a cluster runs on (a
    :class:`~cnibench.platforms.kube.base.KubePlatform` is one): facts about its clusters, and the few things only
    it knows how to do (name the workers before they exist, place a server outside the cluster). A scenario's own
    deployment is its adapter's business, never a hook here."""

    name: ClassVar[str]
    #: The cluster is not cnibench's (kubeconfig): the CNI is detected, not installed; what is missing is installed
    #: and what cnibench installed is removed, nothing else.
    existing_cluster: ClassVar[bool] = False
    #: Why a CNI's kube-proxy replacement is not available on this platform's clusters (None: it is, or it is the
    #: existing cluster's business, checked at run time).
    no_kube_proxy_replacement: ClassVar[str | None] = None
    #: Who assigns LoadBalancer IPs here, when the spec may not choose one (None: the spec's ``lb_ip`` is used, and
    #: cnibench gives the cluster MetalLB with a pool of exactly that address).
    load_balancer_assigns: ClassVar[str | None] = None
    #: Why no external server can run for this platform's clusters (None: :meth:`external_server` places one).
    no_external_server: ClassVar[str | None] = None
    #: Where the external server is, in words, and whether it runs on this machine (then its tool is checked here).
    external_server_where: ClassVar[str] = ""
    external_server_here: ClassVar[bool] = False
    #: The nodes are Docker containers on this machine, on the nodes' network (``network.node_cidr``) by their
    #: ``eth0`` (kind): cnibench can add an address to a node (``docker exec``).
    node_containers: ClassVar[bool] = False
    #: The nodes run images from this machine's Docker (kind loads them): cnibench can build a pod image here
    #: (:mod:`cnibench.platforms.kube.tool_images`); elsewhere the nodes pull from a registry.
    local_images: ClassVar[bool] = False

    @classmethod
    def k6_in_container(cls, kube: KubernetesSettingsBase | None) -> bool:
        """k6 runs as a container next to the cluster (kind on macOS and Windows), not on this machine."""
        return False

    def worker_names(self, build: ClusterBuild) -> list[str] | None:
        """The worker nodes' names as known before the cluster runs (kind's), or None: known only at run time."""
        return None

    def external_server(self, build: ClusterBuild, server: ExternalServer) -> tuple[dict[str, Any], str]:
        """Place a server outside the cluster: the role step's variables (``kind``: ``container`` or ``process``)
        and where it is, in words. Raises NotImplementedError where none can run (:attr:`no_external_server`)."""
        raise NotImplementedError(f"{self.name}: {self.no_external_server}")


@dataclass
class ClusterBuild:
    """One CNI's cluster while a Kubernetes run is compiled: the platform and the adapters add rendered files, the
    playbook's variables, role steps and the steps ``plan`` shows."""

    #: the platform the cluster runs on, as the adapters see it
    platform: KubeHost
    spec: Spec
    kube: KubernetesSettingsBase
    cni: Cni
    prefix: str
    #: the run's private state directory (kubeconfigs, Terraform's state: never in the run directory)
    state: Path
    run_dir: Path
    #: rendered file (relative to :attr:`rendered`) -> its content (a mapping or list: YAML; a string: as is)
    files: dict[str, Any] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)
    steps: list[str] = field(default_factory=list)
    #: role steps run before the CNI is installed, and the scenarios' role steps (in run order)
    before_cni: list[dict[str, Any]] = field(default_factory=list)
    scenarios: list[dict[str, Any]] = field(default_factory=list)
    #: what ``kube_cluster_info`` is asked besides the CNI (pick the egress gateway node, check the CNI's Gateway)
    info: dict[str, Any] = field(
        default_factory=lambda: {
            "pick_gateway_node": False,
            "preferred_gateway": None,
            "cni_gateway": False,
            "cni_egress": False,
            "envoy_gateway": False,
        }
    )
    #: containers the teardown removes (kind: the external server)
    containers: list[str] = field(default_factory=list)
    #: what the scenarios leave outside cnibench's namespace that the teardown removes, in words for ``plan`` (on an
    #: existing cluster, which outlives the run)
    outside_namespace: list[str] = field(default_factory=list)
    #: what the run records about the cluster before it runs (environment.json)
    facts: dict[str, Any] = field(default_factory=dict)
    #: the CNI implements the run's Gateway (its values switch its Gateway API on)
    cni_gateway: bool = False
    #: the plan's round this cluster is built for (every round gets a fresh cluster)
    round: int = 1

    @property
    def rendered(self) -> Path:
        return self.run_dir / "rendered" / self.cni.name

    @property
    def kubectl(self) -> Kubectl:
        """kubectl as the run will call it (kubeconfig and context of this cluster, cnibench's namespace)."""
        return Kubectl(self.vars.get("kubeconfig"), self.vars.get("context"), self.kube.namespace)

    def add(self, name: str | Path, content: Any) -> Path:
        """Render ``content`` at ``name`` (relative to :attr:`rendered`); returns where it will be."""
        self.files[str(name)] = content
        return self.rendered / name

    def shown(self, path: Path) -> Path:
        """A rendered file as ``plan`` names it (relative to the run directory)."""
        return path.relative_to(self.run_dir)

    @staticmethod
    def role(role: str, tasks_from: str = "main.yml", **data: Any) -> dict[str, Any]:
        """A role step for the playbook: it includes ``role`` of the collection (``tasks_from`` it) with the step's
        ``data`` as the variable ``step``."""
        return {"role": f"{COLLECTION}.{role}", "tasks_from": tasks_from, **data}

    def finish(self, repetitions: list[Repetition]) -> list[Repetition]:
        """The repetitions as they run: in this cluster's round; after its tool, each queries the in-cluster
        Prometheus over its window (the warm-up left out), when the run has metrics."""
        repetitions = [dataclasses.replace(rep, round=self.round) for rep in repetitions]
        monitoring = self.vars.get("monitoring")
        if not monitoring:
            return [without_idle(rep) for rep in repetitions]  # no CPU cost without metrics: no idle baseline
        metrics = monitoring["metrics"]
        out = []
        for rep in repetitions:
            window = MetricsWindow(
                out=rep.artifact.parent / f"rep-{rep.repetition:02d}.metrics",
                warmup_s=rep.warmup_s,
                scrape_interval_s=float(metrics["scrape_interval_s"]),
                access={k: v for k, v in metrics.items() if k != "scrape_interval_s"},
                idle_s=rep.command.idle_s,
            )
            out.append(dataclasses.replace(rep, command=dataclasses.replace(rep.command, metrics=window)))
        return out

    def trial(self, trial: str, repetitions: list[Repetition], **extra: Any) -> dict[str, Any]:
        """One trial for the playbook: its repetitions (``runs``) and what its role needs besides."""
        return {"cni": self.cni.name, "scenario": trial, **extra, "runs": [rep.to_vars() for rep in repetitions]}
