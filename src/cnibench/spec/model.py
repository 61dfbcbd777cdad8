"""The spec's model: the sections every run has (name, platform, CNIs, nodes, network, metrics), the scenarios'
sections (from the scenario registry) and the platforms' own sections (from the platform registry).

Validation checks each field, then each platform's and scenario's checks across fields on the spec resolved with
the platform's defaults (:meth:`~cnibench.platforms.base.Platform.resolve`): the spec never changes itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, Optional

from pydantic import Field, ValidationInfo, create_model, field_validator, model_validator

from cnibench.spec.base import FieldError, LaxIPv4Network, Model, collect_errors, dns_label, prometheus_duration_s
from cnibench.spec.variant import CniEntry, CniVariant, check_entries, entry_cni, entry_name, entry_settings

if TYPE_CHECKING:
    from cnibench.platforms.base import Platform
    from cnibench.scenarios.base import ScenarioSettings


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


def _platform_checks(platform: type[Platform], spec: SpecBase) -> None:
    """A section of another platform is refused, naming the platforms it is for; then the platform's own checks
    (:meth:`~cnibench.platforms.base.Platform.check`). Raises FieldError."""
    from cnibench.platforms import PLATFORMS

    for name in spec.section_names():
        if getattr(spec, name, None) is not None and name not in platform.sections:
            users = [p.name for p in PLATFORMS.values() if name in p.sections]
            raise FieldError((name,), f"only for the platform{'s' if len(users) > 1 else ''} {', '.join(users)}")
    platform.check(spec)


def _platform(name: str) -> type[Platform]:
    from cnibench.platforms import PLATFORMS

    return PLATFORMS.get(name)


class SpecBase(Model):
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

    @field_validator("platform")
    @classmethod
    def _known_platform(cls, value: str) -> str:
        from cnibench.platforms import PLATFORMS

        if value not in PLATFORMS:
            raise ValueError(f"unknown platform {value!r}; valid: {', '.join(PLATFORMS.names())}")
        return value

    @field_validator("cnis")
    @classmethod
    def _known_cnis(cls, value: list[str | CniVariant], info: ValidationInfo) -> list[str | CniVariant]:
        """A field check, not a model check: it runs in the same pass as every other field's, so an unknown CNI
        is reported together with them (``platform`` is validated first; when it is invalid, that is the error)."""
        platform = info.data.get("platform")
        if platform is None:
            return value
        check_entries(value, _platform(platform), platform)
        return value

    @model_validator(mode="after")
    def _checks_across_fields(self) -> SpecBase:
        """The platform's and the scenarios' checks, on the spec resolved with the platform's defaults."""
        from cnibench.scenarios import SCENARIOS

        platform = _platform(self.platform)
        resolved = platform.resolve(self)
        checks: list[Callable[[], None]] = []
        for name in resolved.scenarios.enabled():
            settings = resolved.scenarios.get(name)
            assert settings is not None
            checks.append(partial(SCENARIOS.get(name).check, settings, resolved))
        checks.append(partial(_platform_checks, platform, resolved))
        collect_errors(checks)  # every independent error at once (FieldErrors), not one per attempt
        return self

    @classmethod
    def section_names(cls) -> tuple[str, ...]:
        """The platforms' own sections (``kubernetes``, ``aks``)."""
        return tuple(name for name in cls.model_fields if name not in SpecBase.model_fields)

    def section(self, name: str) -> Any:
        """A platform's own section (None when absent; a resolved spec has those of its platform)."""
        return getattr(self, name, None)

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

    @property
    def platform_class(self) -> type[Platform]:
        return _platform(self.platform)

    @property
    def on_kubernetes(self) -> bool:
        return self.platform_class.family == "kube"


def build_spec_model() -> type[SpecBase]:
    """The Spec model of the registered scenarios and platforms."""
    from cnibench.platforms import PLATFORMS
    from cnibench.scenarios import SCENARIOS

    scenario_fields: dict[str, Any] = {
        scenario.name: (Optional[scenario.settings_model], Field(None, description=scenario.description))  # noqa: UP045
        for scenario in SCENARIOS.values()
        if scenario.runnable
    }
    scenarios = create_model("ScenariosSpec", __base__=ScenariosBase, **scenario_fields)
    sections: dict[str, Any] = {}
    for platform in PLATFORMS.values():
        for name, model in platform.sections.items():
            users = [p.name for p in PLATFORMS.values() if name in p.sections]
            description = f"Settings of the platform{'s' if len(users) > 1 else ''} {', '.join(users)} " + (
                "(defaults filled in for them)."
            )
            sections.setdefault(name, (Optional[model], Field(None, description=description)))  # noqa: UP045
    return create_model("Spec", __base__=SpecBase, scenarios=(scenarios, ...), **sections)
