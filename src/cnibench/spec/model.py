"""The spec's model: the sections every run has (name, platform, CNIs, nodes, network, metrics), the base of a
scenario's section, and what the spec asks of a platform (:class:`PlatformRules`). It knows no registry: the model
with the registered scenarios' and platforms' sections, and the checks that need them, is built above it
(:mod:`cnibench.spec.registered`), so that scenarios and platforms can take a :class:`Spec` without a circle.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from pydantic import Field, ValidationInfo, field_validator, model_validator

from cnibench.spec.base import FieldError, LaxIPv4Network, Model, dns_label, prometheus_duration_s
from cnibench.spec.variant import CniEntry, entry_cni, entry_name, entry_settings

if TYPE_CHECKING:
    from cnibench.estimate import Priors


class ScenarioSettings(Model):
    """A scenario's section of the spec. Every scenario repeats a measurement of a given length (``--repeat`` and
    ``--duration`` override these for every scenario of a spec)."""

    duration: int = Field(10, gt=0, le=3600, description="Measured seconds per repetition.")
    repetitions: int = Field(3, ge=1, le=1000)


class PlatformRules(Protocol):
    """What the spec and the plan ask of a platform class (:class:`cnibench.platforms.base.Platform` is one): its
    family, sections, defaults and pairing, its CNIs, how it resolves and checks a spec and its priors."""

    name: ClassVar[str]
    family: ClassVar[str]
    sections: ClassVar[dict[str, type[Model]]]
    default_rounds: ClassVar[int]
    pairs_trials: ClassVar[bool]
    cpu_scope: ClassVar[str]

    @classmethod
    def cnis(cls) -> tuple[str, ...]: ...

    @classmethod
    def resolve(cls, spec: Spec) -> Spec: ...

    @classmethod
    def check(cls, spec: Spec) -> None: ...

    @classmethod
    def priors(cls, spec: Spec) -> Priors: ...

    @classmethod
    def configuration_warnings(cls, spec: Spec) -> list[str]: ...


class NodesSpec(Model):
    """The local cluster's shape: a control plane plus ``workers`` worker nodes (like the thesis's kind config)."""

    workers: int = Field(
        2,
        ge=1,
        le=16,
        description="Worker nodes; the first one is the egress gateway node (egress and east-west cross-node need 2).",
    )


class NetworkSpec(Model):
    """Address plan of the cluster (defaults follow kind: a docker-like node network and 10.244.0.0/16 pods)."""

    node_cidr: LaxIPv4Network = Field(
        ipaddress.IPv4Network("172.18.0.0/24"), description="Node network (the shared bridge the nodes sit on)."
    )
    pod_cidr: LaxIPv4Network = Field(
        ipaddress.IPv4Network("10.244.0.0/16"), description="Cluster pod CIDR; every node gets one /24 of it."
    )

    @field_validator("pod_cidr")
    @classmethod
    def _pod_cidr_room(cls, value: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
        if value.prefixlen > 20:
            raise ValueError("must be /20 or larger: every node gets a /24 out of it")
        return value

    @model_validator(mode="after")
    def _disjoint(self) -> NetworkSpec:
        if self.node_cidr.overlaps(self.pod_cidr):
            raise FieldError(("pod_cidr",), f"{self.pod_cidr} overlaps node_cidr {self.node_cidr}")
        if self.node_cidr.num_addresses < 32:
            raise FieldError(("node_cidr",), "must be /27 or larger")
        return self


class MetricsSpec(Model):
    """Node metrics: node_exporter on every node and one Prometheus, queried over every measurement window."""

    enabled: bool = True
    scrape_interval: str = Field("1s", description="Prometheus scrape interval, e.g. 1s or 500ms (0.1 s to 60 s).")

    @field_validator("scrape_interval")
    @classmethod
    def _interval(cls, value: str) -> str:
        seconds = prometheus_duration_s(value)
        if seconds is None:
            raise ValueError("must be a duration such as 1s or 500ms")
        if not 0.1 <= seconds <= 60:
            raise ValueError("must be between 100ms and 60s")
        return value

    @property
    def interval_s(self) -> float:
        seconds = prometheus_duration_s(self.scrape_interval)
        assert seconds is not None  # validated
        return seconds


class ScenariosBase(Model):
    """The ``scenarios`` section: one optional field per registered scenario (built in :func:`build_spec_model`)."""

    def get(self, name: str) -> ScenarioSettings | None:
        """The section of scenario ``name`` (None: not in the spec)."""
        settings: ScenarioSettings | None = getattr(self, name, None)
        return settings

    def enabled(self) -> list[str]:
        return [name for name in type(self).model_fields if getattr(self, name) is not None]

    @model_validator(mode="after")
    def _at_least_one(self) -> ScenariosBase:
        if not self.enabled():
            raise ValueError(f"at least one scenario is needed ({', '.join(type(self).model_fields)})")
        return self


class Spec(Model):
    """One experiment: which CNIs (datapaths) to compare, on which platform, in which scenarios."""

    version: Literal[1] = 1
    name: str = Field(..., description="DNS-1123 label naming the experiment (used in run ids).")
    platform: str = Field("netns", description="Where the cluster runs (see `cnibench doctor --help`).")
    cnis: list[CniEntry] = Field(
        ...,
        min_length=1,
        description="CNIs to compare; on netns the datapaths hostgw and vxlan. An entry is a CNI's name or a named "
        "variant of one with its own settings: {name: cilium-wg, cni: cilium, set: {encryption: wireguard}}.",
    )
    nodes: NodesSpec = Field(default_factory=NodesSpec)
    network: NetworkSpec = Field(default_factory=NetworkSpec)
    metrics: MetricsSpec = Field(default_factory=MetricsSpec)
    rounds: int | None = Field(
        None,
        ge=1,
        le=50,
        description="Rounds: each round runs every CNI once on a fresh cluster, the CNI order alternating between "
        "rounds (ABBA), so that drift over the run does not land on one CNI. A scenario's repetitions are per "
        "round. Default: the platform's (netns 2; Kubernetes 1, where a cluster costs minutes).",
    )
    reference: str | None = Field(
        None,
        description="The CNI every other CNI is compared with (default: the first of cnis).",
    )
    margin: float = Field(
        0.05,
        gt=0,
        lt=1,
        description="Equivalence margin, a fraction: two CNIs are called equivalent when the simultaneous 95% "
        "interval of their ratio lies within 1 +- margin (default 0.05, i.e. +-5%).",
    )
    scenarios: ScenariosBase

    @field_validator("reference")
    @classmethod
    def _reference_is_compared(cls, value: str | None, info: ValidationInfo) -> str | None:
        cnis = [entry_name(entry) for entry in info.data.get("cnis") or []]
        if value is not None and cnis and value not in cnis:
            raise ValueError(f"{value!r} is not one of cnis ({', '.join(cnis)})")
        return value

    @field_validator("name")
    @classmethod
    def _dns_label(cls, value: str) -> str:
        return dns_label(value)

    @property
    def cni_names(self) -> list[str]:
        """The names results, verdicts and reports show, in the spec's order (a variant's own name)."""
        return [entry_name(entry) for entry in self.cnis]

    def base_cni(self, name: str) -> str:
        """The CNI that ``name`` (one of :attr:`cni_names`) installs: a variant's ``cni``, else ``name``."""
        return next((entry_cni(entry) for entry in self.cnis if entry_name(entry) == name), name)

    def cni_settings(self, name: str) -> dict[str, Any]:
        """The settings of ``name`` (one of :attr:`cni_names`): a variant's ``set``, else none."""
        return next((entry_settings(entry) for entry in self.cnis if entry_name(entry) == name), {})

    @classmethod
    def section_names(cls) -> tuple[str, ...]:
        """The platforms' own sections (``kubernetes``, ``aks``)."""
        return tuple(name for name in cls.model_fields if name not in Spec.model_fields)

    def section(self, name: str) -> Any:
        """A platform's own section (None when absent; a resolved spec has those of its platform)."""
        return getattr(self, name, None)

    @property
    def platform_class(self) -> type[PlatformRules]:
        """The class of the spec's platform (the registered model provides the lookup)."""
        return type(self).platform_named(self.platform)

    #: The platform class of a name: the registered model's (:mod:`cnibench.spec.registered`); raises UnknownName.
    platform_named: ClassVar[Callable[[str], type[PlatformRules]]]

    @property
    def on_kubernetes(self) -> bool:
        return self.platform_class.family == "kube"
