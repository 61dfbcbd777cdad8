"""What a CNI is to the Kubernetes platforms: a descriptor that declares its Helm chart and pinned version (and the
chart of CRDs applied server-side before it, the namespace created for it), its agent DaemonSet (and the namespace
it runs in when an operator puts it elsewhere), its Helm values and the objects its operator reads on each platform
that installs it (kind, aks), what tells it is ready, its egress policy objects (or none: no egress gateway), the
cluster-wide kinds it may create, the images kind preloads for it, the reference CNI plugins kind's nodes lack for
it, its prerequisites on this machine and its capabilities; a variant's knobs, the key Secrets generated before its
chart (Cilium's IPsec key) and how its agents are asked what encryption they have. The platforms, the scenario
adapters, the spec checks and the teardown ask the descriptor; none of them branches on a CNI's name (a capability a
CNI lacks is refused from the spec, naming it).
"""

from __future__ import annotations

import copy
from abc import ABC
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

from cnibench.knobs import Knob, chart_values, effective, merge

if TYPE_CHECKING:
    from cnibench.doctor import Check
    from cnibench.platforms.kube.encryption import KeySecret, NodeEncryption
    from cnibench.platforms.kube.kubectl import Kubectl


class Capability(StrEnum):
    """What a CNI can do that a scenario may need (its adapter's :attr:`~cnibench.platforms.kube.scenarios.base.
    KubeAdapter.needs`); the spec refuses a scenario for a CNI that lacks one, naming the capability."""

    #: Pods reach pods and Services, on the same node and across nodes: what every CNI does.
    POD_NETWORK = "pod_network"
    #: Selected pods' traffic leaves through a chosen node, SNATed to an egress IP (:attr:`Cni.egress`).
    EGRESS_GATEWAY = "egress_gateway"
    #: Its own Gateway API implementation (:attr:`Cni.gateway_api`).
    GATEWAY_API = "gateway_api"
    #: It enforces ``networking.k8s.io/v1`` NetworkPolicy objects (:attr:`Cni.network_policy`).
    NETWORK_POLICY = "network_policy"

    @property
    def words(self) -> str:
        """In words, as the spec's error names it ("egress gateway")."""
        return {"pod_network": "pod network", "egress_gateway": "egress gateway", "gateway_api": "Gateway API "
                "implementation", "network_policy": "NetworkPolicy enforcement"}[self.value]  # fmt: skip


@dataclass(frozen=True)
class Chart:
    """A Helm chart: its reference (a name in ``repository``, or an ``oci://`` reference with no repository), the
    namespace and the name of the release cnibench installs. ``version_prefix``: what its versions start with in the
    repository (Calico's and Flannel's are ``v3.32.1``, ``v0.28.9``; the spec's versions have no ``v``);
    ``create_namespace``: cnibench creates the namespace first, at the privileged Pod Security level (a namespace
    of the chart's own, whose agents use the host network)."""

    ref: str
    repository: str
    namespace: str
    release: str
    version_prefix: str = ""
    create_namespace: bool = False

    def to_vars(self) -> dict[str, str]:
        """The fields ``kubernetes.core.helm`` takes (the playbook's roles read these names)."""
        return {"chart_ref": self.ref, "repo": self.repository, "namespace": self.namespace, "release": self.release}


@dataclass(frozen=True)
class CrdChart:
    """A chart of CRDs the CNI needs before its release, of the CNI's version: rendered with ``helm template`` and
    applied server-side (too big for a Helm release's Secret or a client-side apply, as Envoy Gateway's and, since
    v3.32, Calico's are), then waited for until established. ``release``: the name it is rendered under."""

    ref: str
    repository: str
    release: str


@dataclass(frozen=True)
class Agent:
    """The DaemonSet that runs the CNI on every node (rolled out: the CNI is ready everywhere) and its container,
    whose image tag is the CNI's version (how the CNI of an existing cluster is recognised). ``namespace``: where it
    runs when that is not the release's namespace (an operator creates it elsewhere: Calico's in calico-system)."""

    daemonset: str
    container: str
    namespace: str | None = None


@dataclass(frozen=True)
class Condition:
    """An object whose status condition ``type`` must be ``True`` before the CNI counts as ready (an operator's own
    report, e.g. Calico's TigeraStatus ``calico`` Available); waited for until it exists and has it."""

    api_version: str
    kind: str
    name: str
    type: str
    namespace: str | None = None


@dataclass(frozen=True)
class EgressGateway:
    """The CNI's egress gateway. ``kinds``: its policy objects, in words (for ``plan``); ``assigns_ip``: the CNI puts
    the egress IP on the gateway node itself (if not, cnibench adds it where it can: kind's node containers);
    ``ip_optional``: a policy may go without an egress IP (the gateway node's own address is used then);
    ``existing_cluster_requirement``: what an existing cluster's configuration must switch on for it (in words, for
    ``plan``; checked by :meth:`Cni.egress_problems`), empty when it is on wherever the CNI runs;
    ``owner_status``: the policy's resource and its ``status`` field that name the node holding the egress IP (the
    active gateway; egress-change's failover fails that node), None for a CNI that reports none (it then uses the
    first matching node by name, as Cilium does)."""

    kinds: str
    assigns_ip: bool
    ip_optional: bool
    existing_cluster_requirement: str = ""
    owner_status: tuple[str, str] | None = None


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
    cluster (``api_host``, ``api_port``: a CNI without kube-proxy must reach it directly), whether the CNI
    implements the run's Gateway (``gateway_api``) and the pod CIDR (kind's ``networking.podSubnet``)."""

    version: str
    api_host: str
    api_port: int
    gateway_api: bool
    pod_cidr: str


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
    #: It enforces ``networking.k8s.io/v1`` NetworkPolicy objects as installed by cnibench (or found on an existing
    #: cluster), with no extra component: what the network-policy scenario needs.
    network_policy: ClassVar[bool] = False
    #: It replaces kube-proxy where cnibench installs it on a cluster created without kube-proxy (kind).
    kube_proxy_replacement: ClassVar[bool] = False
    #: Cluster-scoped kinds (``<plural>.<group>``) cnibench may create for it, labelled managed-by cnibench: the
    #: teardown of an existing cluster deletes those.
    cluster_kinds: ClassVar[tuple[str, ...]] = ()
    #: What to tell the user when it is installed on AKS (empty: nothing).
    aks_note: ClassVar[str] = ""
    #: What to tell the user when it is installed on kind (empty: nothing): a node setup its own kind scripts do that
    #: cnibench does not, and why.
    kind_note: ClassVar[str] = ""
    #: CRDs applied server-side before its release (None: its chart carries what it needs).
    crds: ClassVar[CrdChart | None] = None
    #: What says it is ready besides its agent's rollout (an operator's status objects).
    ready: ClassVar[tuple[Condition, ...]] = ()
    #: Reference CNI plugins (containernetworking/plugins) its CNI configuration delegates to that kind's node image
    #: lacks (kind ships only host-local, loopback, ptp and portmap: kind images/base/Dockerfile at v0.31.0);
    #: cnibench mounts them from the pinned release into every node.
    kind_cni_plugins: ClassVar[tuple[str, ...]] = ()
    #: Why it lacks a capability, for the spec's error (e.g. "a Calico Enterprise feature"); empty: no reason given.
    lacks: ClassVar[dict[Capability, str]] = {}

    #: How a run reads the encryption between nodes its agents have (:meth:`encryption_seen`), by encryption mode, in
    #: words for ``plan``; a mode not here cannot be checked.
    encryption_check: ClassVar[dict[str, str]] = {}
    #: What a variant may set (:mod:`cnibench.knobs`), each mapped onto the chart's values with its source.
    knobs: ClassVar[tuple[Knob, ...]] = ()
    #: A variant's settings (checked by the spec); empty: cnibench's defaults.
    settings: Mapping[str, Any] = MappingProxyType({})

    @property
    def base(self) -> str:
        """The CNI it is (its registered name; a variant's :attr:`name` is the variant's)."""
        return type(self).name

    def variant(self, name: str, settings: Mapping[str, Any]) -> Cni:
        """The CNI as variant ``name`` with ``settings`` (checked by the spec): a copy called ``name`` whose values
        carry the settings (:meth:`with_knobs`) and whose capabilities follow them (:meth:`configure`); itself for
        a plain entry."""
        if name == self.name and not settings:
            return self
        out = copy.copy(self)
        setattr(out, "name", name)  # noqa: B010 - an instance's name over the class's
        out.settings = MappingProxyType(dict(settings))
        out.configure()
        return out

    def configure(self) -> None:
        """Adjust this copy to :attr:`settings` (what a setting takes away: kube-proxy replacement, the egress
        gateway...). Nothing by default."""
        return None

    def forbidden(self, settings: Mapping[str, Any], platform: str) -> None:
        """Refuse valid settings that upstream forbids together (or that cnibench cannot install on ``platform``),
        with the reason: raises :class:`~cnibench.knobs.SettingError`. Nothing by default."""
        return None

    def problems(self) -> list[str]:
        """What is known to be wrong with this variant's configuration before it is installed (a pod MTU above
        the underlay's minus the encapsulation), each a line; none by default."""
        return []

    @property
    def effective_settings(self) -> dict[str, Any]:
        """Every knob's value in effect (the variant's, the others at cnibench's defaults)."""
        return effective(self.knobs, self.settings)

    def with_knobs(self, values: dict[str, Any] | None) -> dict[str, Any] | None:
        """``values`` (its Helm values on a platform; None: cannot install there) with the variant's settings'
        chart values merged over them; unchanged for a plain CNI."""
        if values is None or not self.settings:
            return values
        return merge(values, chart_values(self.knobs, self.settings))

    @property
    def chart_description(self) -> str:
        return f"{self.title} Helm chart ({self.chart.repository.rstrip('/') or self.chart.ref})."

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What it can do: pod networking always, the others as its descriptor declares them."""
        has = {Capability.POD_NETWORK}
        if self.egress is not None:
            has.add(Capability.EGRESS_GATEWAY)
        if self.gateway_api is not None:
            has.add(Capability.GATEWAY_API)
        if self.network_policy:
            has.add(Capability.NETWORK_POLICY)
        return frozenset(has)

    @property
    def agent_namespace(self) -> str:
        """Where its agent DaemonSet runs when cnibench installs it."""
        return self.agent.namespace or self.chart.namespace

    def chart_version(self, version: str) -> str:
        """``version`` (the spec's, no ``v``) as its chart repository spells it."""
        return f"{self.chart.version_prefix}{version}"

    def kind_values(self, cluster: KindValues) -> dict[str, Any] | None:
        """Its Helm values on kind; None: cnibench cannot install it there."""
        return None

    def aks_values(self, cluster: AksValues) -> dict[str, Any] | None:
        """Its Helm values on AKS bring-your-own-CNI; None: cnibench cannot install it there."""
        return None

    def kind_objects(self, cluster: KindValues) -> list[dict[str, Any]]:
        """Objects applied after its release on kind (what its operator reads: Calico's Installation)."""
        return []

    def aks_objects(self, cluster: AksValues) -> list[dict[str, Any]]:
        """Objects applied after its release on AKS."""
        return []

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

    @property
    def requested_encryption(self) -> str:
        """The encryption between nodes this variant asks for (its ``encryption`` knob: ``none``, ``wireguard``,
        ``ipsec``); ``none`` for a CNI without the knob."""
        return str(self.effective_settings.get("encryption", "none"))

    def key_secrets(self) -> tuple[KeySecret, ...]:
        """Secrets holding a key generated per cluster at run time that must exist before its chart is installed
        (Cilium's IPsec key); none by default."""
        return ()

    def encryption_seen(self, kubectl: Kubectl, agent_namespace: str) -> list[NodeEncryption] | None:
        """What each node's agent reports about encryption between nodes, read once the CNI runs (before anything is
        measured); None: this CNI cannot be asked. Raises CommandError, PlatformError or ValueError (an output
        that is not what upstream prints)."""
        return None

    def egress_problems(self, kubectl: Kubectl, agent_namespace: str) -> list[str]:
        """What keeps its egress gateway from working on an existing cluster as installed (a feature switched off in
        its configuration); each problem a phrase, none when it is ready. Read before anything is created."""
        return []
