"""What a CNI is to the Kubernetes platforms: a descriptor that declares its Helm chart and pinned version, its agent
DaemonSet, its Helm values on each platform that installs it (kind, aks), its egress policy objects (or none: no
egress gateway), the cluster-wide kinds it may create, the images kind preloads for it, its prerequisites on this
machine and its capabilities. The platforms, the scenario adapters, the spec checks and the teardown ask the
descriptor; none of them branches on a CNI's name (a capability a CNI lacks is refused from the spec, naming it).
"""

from __future__ import annotations

from abc import ABC
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from cnibench.doctor import Check
    from cnibench.platforms.kube.kubectl import Kubectl


@dataclass(frozen=True)
class Chart:
    """A Helm chart: its reference (a name in ``repository``, or an ``oci://`` reference with no repository), the
    namespace and the name of the release cnibench installs."""

    ref: str
    repository: str
    namespace: str
    release: str

    def to_vars(self) -> dict[str, str]:
        """The fields ``kubernetes.core.helm`` takes (the playbook's roles read these names)."""
        return {"chart_ref": self.ref, "repo": self.repository, "namespace": self.namespace, "release": self.release}


@dataclass(frozen=True)
class Agent:
    """The DaemonSet that runs the CNI on every node (rolled out: the CNI is ready everywhere) and its container,
    whose image tag is the CNI's version (how the CNI of an existing cluster is recognised)."""

    daemonset: str
    container: str


@dataclass(frozen=True)
class EgressGateway:
    """The CNI's egress gateway. ``kinds``: its policy objects, in words (for ``plan``); ``assigns_ip``: the CNI puts
    the egress IP on the gateway node itself (if not, cnibench adds it where it can: kind's node containers);
    ``ip_optional``: a policy may go without an egress IP (the gateway node's own address is used then)."""

    kinds: str
    assigns_ip: bool
    ip_optional: bool


@dataclass(frozen=True)
class EgressPolicy:
    """What an egress policy says: the pods in ``namespace`` with ``pod_labels`` send their traffic to
    ``destination`` (a CIDR) out through the node labelled ``gateway_label=true``, SNATed to ``egress_ip`` (None: the
    gateway node's own address); its objects are called ``name``."""

    name: str
    namespace: str
    pod_labels: dict[str, str]
    destination: str
    egress_ip: str | None
    gateway_label: str


@dataclass(frozen=True)
class GatewayApi:
    """The CNI's own Gateway API implementation: its GatewayClass ``controller`` name; whether it needs the CNI's
    kube-proxy replacement; whether the Gateway API CRDs must exist before the CNI starts (installed first where
    cnibench installs the CNI); and what an existing cluster must already have for it (in words, for ``plan``)."""

    controller: str
    needs_kube_proxy_replacement: bool
    crds_before_cni: bool
    existing_cluster_requirement: str


@dataclass(frozen=True)
class KindValues:
    """What a CNI's Helm values on kind depend on: the chart ``version``, the API server's address inside the
    cluster (``api_host``, ``api_port``: a CNI without kube-proxy must reach it directly) and whether the CNI
    implements the run's Gateway (``gateway_api``)."""

    version: str
    api_host: str
    api_port: int
    gateway_api: bool


@dataclass(frozen=True)
class AksValues:
    """What a CNI's Helm values on AKS (bring your own CNI) depend on: the chart ``version`` and the pod CIDR."""

    version: str
    pod_cidr: str


class Cni(ABC):
    """One CNI. A subclass sets the class attributes and overrides what it has; the defaults say "it has none"."""

    name: ClassVar[str]
    #: Its name in prose ("Cilium").
    title: ClassVar[str]
    chart: ClassVar[Chart]
    #: The chart version installed by default (from :mod:`cnibench.pins`; ``kubernetes.versions.<name>`` overrides).
    version: ClassVar[str]
    agent: ClassVar[Agent]
    egress: ClassVar[EgressGateway | None] = None
    gateway_api: ClassVar[GatewayApi | None] = None
    #: It replaces kube-proxy where cnibench installs it on a cluster created without kube-proxy (kind).
    kube_proxy_replacement: ClassVar[bool] = False
    #: Cluster-scoped kinds (``<plural>.<group>``) cnibench may create for it, labelled managed-by cnibench: the
    #: teardown of an existing cluster deletes those.
    cluster_kinds: ClassVar[tuple[str, ...]] = ()
    #: What to tell the user when it is installed on AKS (empty: nothing).
    aks_note: ClassVar[str] = ""

    @property
    def chart_description(self) -> str:
        return f"{self.title} Helm chart ({self.chart.repository.rstrip('/') or self.chart.ref})."

    def kind_values(self, cluster: KindValues) -> dict[str, Any] | None:
        """Its Helm values on kind; None: cnibench cannot install it there."""
        return None

    def aks_values(self, cluster: AksValues) -> dict[str, Any] | None:
        """Its Helm values on AKS bring-your-own-CNI; None: cnibench cannot install it there."""
        return None

    def egress_policy(self, policy: EgressPolicy) -> list[dict[str, Any]]:
        """The objects of an egress policy (only for a CNI with :attr:`egress`)."""
        raise NotImplementedError(f"{self.name} has no egress gateway")

    def images(self, version: str) -> list[str]:
        """The Docker Hub images its chart of ``version`` deploys, which kind preloads (the nodes pull the rest)."""
        return []

    def kind_prerequisites(self) -> list[Check]:
        """What this machine needs for it on kind (checked by ``run`` and ``doctor --spec``)."""
        return []

    def gateway_problems(self, kubectl: Kubectl, agent_namespace: str) -> list[str]:
        """What keeps its own Gateway API from serving cnibench's Gateway on an existing cluster (only for a CNI
        with :attr:`gateway_api`); each problem a phrase, none when it is ready."""
        return []
