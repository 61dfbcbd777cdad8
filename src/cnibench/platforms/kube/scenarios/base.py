"""What a scenario deploys on the Kubernetes platforms: an adapter per scenario (registered in
:data:`cnibench.platforms.kube.scenarios.ADAPTERS`) that resolves and checks its settings on a platform, names the
images kind preloads for it, renders what its trials apply, adds its role steps to the playbook's variables and
compiles its repetitions, on a :class:`ClusterBuild` the platform hands it.

What differs between the platforms (where the external server runs, who assigns the LoadBalancer IP, which node is
the egress gateway...) the adapter asks the platform's hooks (:class:`~cnibench.platforms.kube.base.KubePlatform`).
"""

from __future__ import annotations

import dataclasses
import ipaddress
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from cnibench.platforms.kube.cnis.base import Capability
from cnibench.platforms.kube.kubectl import Kubectl
from cnibench.repetition import MetricsWindow, Repetition
from cnibench.scenarios.base import ScenarioSettings
from cnibench.scenarios.load import without_idle

if TYPE_CHECKING:
    from cnibench.doctor import Check
    from cnibench.platforms.kube.base import KubePlatform
    from cnibench.platforms.kube.cnis.base import Cni
    from cnibench.platforms.kube.settings import KubernetesSettingsBase
    from cnibench.spec import Spec
    from cnibench.spec.base import Loc

S = TypeVar("S", bound=ScenarioSettings)
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


@dataclass
class ClusterBuild:
    """One CNI's cluster while a Kubernetes run is compiled: the platform and the adapters add rendered files, the
    playbook's variables, role steps and the steps ``plan`` shows."""

    platform: KubePlatform
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


class KubeAdapter(ABC, Generic[S]):
    """A scenario on the Kubernetes platforms."""

    scenario: ClassVar[str]
    #: What it needs of every CNI of the spec (checked with the spec, before its own :meth:`check`): pod networking,
    #: which every CNI has, unless it says more.
    needs: ClassVar[tuple[Capability, ...]] = (Capability.POD_NETWORK,)

    def resolve(self, settings: S, addresses: NodeAddresses | None) -> S:
        """``settings`` with the addresses the platform picks filled in (a new model, pure)."""
        return settings

    def check(self, settings: S, spec: Spec, platform: type[KubePlatform], addresses: NodeAddresses | None) -> None:
        """What the scenario needs of the platform and of every CNI of the spec; raises
        :class:`~cnibench.spec.base.FieldError` naming the field."""

    def local_checks(self, settings: S | None, platform: type[KubePlatform], kube: KubernetesSettingsBase | None
                     ) -> list[Check]:  # fmt: skip
        """What it runs on this machine (``settings`` None: the defaults), for ``doctor`` and ``run``."""
        return []

    def images(self, settings: S, build: ClusterBuild) -> list[str]:
        """The Docker Hub images its trials run, which kind preloads."""
        return []

    def before_cni(self, settings: S, build: ClusterBuild) -> None:
        """What it needs before the CNI is installed (role steps, the CNI's values, checks of an existing
        cluster)."""

    @abstractmethod
    def compile(self, settings: S, build: ClusterBuild, numbers: Mapping[str, range]) -> list[Repetition]:
        """Render what its trials (``{trial: repetition numbers}`` of this cluster's round) apply, add its role
        steps to ``build`` and return their repetitions, in run order (trial by trial)."""
