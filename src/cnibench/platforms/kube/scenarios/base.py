"""What a scenario deploys on the Kubernetes platforms: an adapter per scenario (registered in
:data:`cnibench.platforms.kube.scenarios.ADAPTERS`) that resolves and checks its settings on a platform, names the
images kind preloads for it, renders what its trials apply, adds its role steps to the playbook's variables and
compiles its repetitions, on a :class:`~cnibench.platforms.kube.build.ClusterBuild` the platform hands it.

What differs between the platforms (where the external server runs, who assigns the LoadBalancer IP, whether the
nodes are containers...) the adapter reads of the platform as :class:`~cnibench.platforms.kube.build.KubeHost`
shows it; what the scenario deploys (the egress gateway, MetalLB for its LoadBalancer) is the adapter's own.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

from cnibench.platforms.kube.cnis.base import Capability
from cnibench.spec.model import ScenarioSettings

if TYPE_CHECKING:
    from cnibench.doctor import Check
    from cnibench.platforms.kube.build import ClusterBuild, KubeHost, NodeAddresses
    from cnibench.platforms.kube.settings import KubernetesSettingsBase
    from cnibench.repetition import Repetition
    from cnibench.spec.model import Spec

S = TypeVar("S", bound=ScenarioSettings)


class KubeAdapter(ABC, Generic[S]):
    """A scenario on the Kubernetes platforms."""

    scenario: ClassVar[str]
    #: What it needs of every CNI of the spec (checked with the spec, before its own :meth:`check`): pod networking,
    #: which every CNI has, unless it says more.
    needs: ClassVar[tuple[Capability, ...]] = (Capability.POD_NETWORK,)

    def resolve(self, settings: S, addresses: NodeAddresses | None) -> S:
        """``settings`` with the addresses the platform picks filled in (a new model, pure)."""
        return settings

    def check(self, settings: S, spec: Spec, platform: type[KubeHost], addresses: NodeAddresses | None) -> None:
        """What the scenario needs of the platform and of every CNI of the spec; raises
        :class:`~cnibench.spec.base.FieldError` naming the field."""

    def local_checks(self, settings: S | None, platform: type[KubeHost], kube: KubernetesSettingsBase | None
                     ) -> list[Check]:  # fmt: skip
        """What it runs on this machine (``settings`` None: the defaults), for ``doctor`` and ``run``."""
        return []

    def measured_notes(self, settings: S, kube: KubernetesSettingsBase) -> list[str]:
        """What its numbers mean on the Kubernetes platforms besides the platform's notes (which hops are in its
        path), one sentence each, for the report and ``plan``."""
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
