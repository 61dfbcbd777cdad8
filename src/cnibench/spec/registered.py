"""The spec of the registered parts: :class:`RegisteredSpec` adds to :class:`~cnibench.spec.model.Spec` the checks
that need the registries (the platform and its CNIs exist; every scenario's and the platform's checks across fields
on the spec resolved with the platform's defaults: :meth:`~cnibench.platforms.base.Platform.resolve`, the spec
never changes itself), and :func:`build_spec_model` adds one section per registered scenario and platform section.
It sits above the scenarios and platforms, which take a plain :class:`~cnibench.spec.model.Spec`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar, Optional

from pydantic import Field, ValidationInfo, create_model, field_validator, model_validator

from cnibench.platforms import PLATFORMS
from cnibench.platforms.base import Platform
from cnibench.scenarios import SCENARIOS
from cnibench.spec.base import FieldError, collect_errors
from cnibench.spec.model import PlatformRules, ScenariosBase, Spec
from cnibench.spec.variant import CniVariant, check_entries


def _platform_checks(platform: type[Platform], spec: Spec) -> None:
    """A section of another platform is refused, naming the platforms it is for; then the platform's own checks
    (:meth:`~cnibench.platforms.base.Platform.check`). Raises FieldError."""
    for name in spec.section_names():
        if getattr(spec, name, None) is not None and name not in platform.sections:
            users = [p.name for p in PLATFORMS.values() if name in p.sections]
            raise FieldError((name,), f"only for the platform{'s' if len(users) > 1 else ''} {', '.join(users)}")
    platform.check(spec)


class RegisteredSpec(Spec):
    """A :class:`~cnibench.spec.model.Spec` checked against the registered platforms and scenarios."""

    platform_named: ClassVar[Callable[[str], type[PlatformRules]]] = PLATFORMS.get

    @field_validator("platform")
    @classmethod
    def _known_platform(cls, value: str) -> str:
        if value not in PLATFORMS:
            raise ValueError(f"unknown platform {value!r}; valid: {', '.join(PLATFORMS.names())}")
        return value

    @field_validator("cnis")
    @classmethod
    def _known_cnis(cls, value: list[str | CniVariant], info: ValidationInfo) -> list[str | CniVariant]:
        """A field check, not a model check: it runs in the same pass as every other field's, so an unknown CNI
        is reported together with them (``platform`` is validated first; when it is invalid, that is the error);
        a variant's settings are checked against its CNI's knobs (:func:`~cnibench.spec.variant.check_entries`)."""
        platform = info.data.get("platform")
        if platform is None:
            return value
        check_entries(value, PLATFORMS.get(platform), platform)
        return value

    @model_validator(mode="after")
    def _checks_across_fields(self) -> RegisteredSpec:
        """The platform's and the scenarios' checks, on the spec resolved with the platform's defaults."""
        platform = PLATFORMS.get(self.platform)
        resolved = platform.resolve(self)
        checks: list[Callable[[], None]] = []
        for name in resolved.scenarios.enabled():
            settings = resolved.scenarios.get(name)
            assert settings is not None
            checks.append(partial(SCENARIOS.get(name).check, settings, resolved))
        checks.append(partial(_platform_checks, platform, resolved))
        collect_errors(checks)  # every independent error at once (FieldErrors), not one per attempt
        return self


@functools.cache
def spec_model() -> type[RegisteredSpec]:
    """The Spec model (:func:`build_spec_model`), built once on first use (after the registries have discovered
    their parts)."""
    return build_spec_model()


def build_spec_model() -> type[RegisteredSpec]:
    """The Spec model of the registered scenarios and platforms."""
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
    return create_model("Spec", __base__=RegisteredSpec, scenarios=(scenarios, ...), **sections)
