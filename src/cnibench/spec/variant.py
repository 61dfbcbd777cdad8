"""A CNI entry of the spec: a CNI's name (``cilium``), or a named variant of a CNI with its own settings
(``{name: cilium-wg, cni: cilium, set: {encryption: wireguard}}``). The settings are checked against the knobs the
CNI's descriptor declares (:mod:`cnibench.knobs`) by the platform, with the other registry checks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Protocol

from pydantic import Discriminator, Field, StrictBool, StrictInt, StrictStr, Tag, field_validator

from cnibench.knobs import SettingError
from cnibench.spec.base import FieldError, Model, dns_label


class CniVariant(Model):
    """A named variant of a CNI: results, verdicts and reports show ``name``; ``cni`` is the CNI it configures."""

    name: str = Field(..., description="What results, verdicts and reports call it (a DNS-1123 label).")
    cni: str = Field(..., description="The CNI (on netns: the datapath) it is a variant of.")
    set: dict[str, StrictBool | StrictInt | StrictStr] = Field(
        default_factory=dict, description="The CNI's settings (`cnibench plan` lists each CNI's knobs)."
    )

    @field_validator("name")
    @classmethod
    def _dns_label(cls, value: str) -> str:
        return dns_label(value)


#: The tag pydantic puts in an error's location inside a variant (``cnis[1].<tag>.set``): the spec's errors leave it
#: out (:mod:`cnibench.spec.load`).
VARIANT_TAG = "cni-variant"

#: An entry of ``cnis``: a CNI's name or a variant (told apart by type, so that an error names one of them only).
CniEntry = Annotated[
    Annotated[StrictStr, Tag("name")] | Annotated[CniVariant, Tag(VARIANT_TAG)],
    Discriminator(lambda value: "name" if isinstance(value, str) else VARIANT_TAG),
]


def entry_name(entry: str | CniVariant) -> str:
    """What the entry is called in results (a plain CNI's name, or the variant's)."""
    return entry if isinstance(entry, str) else entry.name


def entry_cni(entry: str | CniVariant) -> str:
    """The CNI the entry installs."""
    return entry if isinstance(entry, str) else entry.cni


def entry_settings(entry: str | CniVariant) -> dict[str, Any]:
    """The entry's settings (none for a plain CNI)."""
    return {} if isinstance(entry, str) else dict(entry.set)


class _Platform(Protocol):
    """What :func:`check_entries` asks of a platform (:class:`~cnibench.platforms.base.Platform`)."""

    @classmethod
    def cnis(cls) -> tuple[str, ...]: ...

    @classmethod
    def check_settings(cls, cni: str, settings: Mapping[str, Any]) -> dict[str, Any]: ...


def check_entries(entries: Sequence[str | CniVariant], platform: type[_Platform], platform_name: str) -> None:
    """Every entry names a CNI of ``platform`` and a variant's settings are valid for its CNI; the names are unique
    and a variant's name is no CNI's. Raises FieldError located below ``cnis`` (``(1, "set", "encryption")``)."""
    valid = platform.cnis()
    for index, entry in enumerate(entries):
        cni = entry_cni(entry)
        if cni not in valid:
            where: tuple[str | int, ...] = (index,) if isinstance(entry, str) else (index, "cni")
            raise FieldError(where, f"unknown CNI {cni!r} for platform {platform_name}; valid: {', '.join(valid)}")
        if isinstance(entry, CniVariant):
            if entry.name in valid and (entry.name != entry.cni or entry.set):
                raise FieldError((index, "name"), f"{entry.name!r} is a CNI's name: a variant needs its own")
            try:
                platform.check_settings(cni, entry.set)
            except SettingError as exc:
                raise FieldError((index, "set", exc.knob), str(exc)) from None
    names = [entry_name(entry) for entry in entries]
    if len(set(names)) != len(names):
        raise ValueError("each CNI may appear only once")
