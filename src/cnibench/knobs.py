"""The settings a CNI (or a netns datapath) declares for its variants: each :class:`Knob` is typed, lists its valid
values, maps a value onto what the CNI is configured with (Helm chart values on Kubernetes) and names its upstream
source. A spec's variant (``{name: cilium-wg, cni: cilium, set: {encryption: wireguard}}``) is checked against them
with :func:`check_settings`; a combination upstream forbids is refused by the descriptor's own check, with the reason.

Imports nothing of cnibench: descriptors, platforms and the spec's checks all use it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: What a knob's value maps onto: Helm values to merge over the CNI's own (empty for a netns datapath).
ValuesOf = Callable[[Any], dict[str, Any]]


def _no_values(value: Any) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Knob:
    """One setting of a CNI. ``kind``: ``bool``, ``int`` or ``str``; ``choices``: the valid values of a ``str``
    knob (None: any within ``minimum``..``maximum`` for an ``int``); ``default``: the value the CNI has when the knob
    is not set (what cnibench installs); ``values``: the chart values a value maps onto; ``source``: where upstream
    documents it (the chart's values key and a docs URL)."""

    name: str
    kind: type
    description: str
    default: Any
    source: str
    choices: tuple[str, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None
    values: ValuesOf = field(default=_no_values, compare=False)

    def valid(self) -> str:
        """The valid values in words: ``none, wireguard, ipsec`` / ``true, false`` / ``an integer 576..9000``."""
        if self.kind is bool:
            return "true, false"
        if self.choices is not None:
            return ", ".join(self.choices)
        if self.kind is int:
            return f"an integer {self.minimum}..{self.maximum}"
        return "text"

    def check(self, value: Any) -> Any:
        """``value`` if it is valid for this knob; ValueError naming the valid values."""
        wrong = (
            (self.kind is bool and not isinstance(value, bool))
            or (self.kind is int and (isinstance(value, bool) or not isinstance(value, int)))
            or (self.kind is str and not isinstance(value, str))
        )
        if wrong:
            raise ValueError(f"{value!r} is not valid; valid: {self.valid()}")
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{value!r} is not valid; valid: {self.valid()}")
        if self.kind is int and (
            (self.minimum is not None and value < self.minimum) or (self.maximum is not None and value > self.maximum)
        ):
            raise ValueError(f"{value!r} is out of range; valid: {self.valid()}")
        return value


class SettingError(ValueError):
    """A variant's setting that cannot be: ``knob`` is the one it is about (the spec names ``set.<knob>``)."""

    def __init__(self, knob: str, message: str) -> None:
        super().__init__(message)
        self.knob = knob


def check_settings(
    owner: str, knobs: tuple[Knob, ...], settings: Mapping[str, Any], unavailable: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """``settings`` checked against ``knobs`` (of CNI ``owner``), in the knobs' order. Raises :class:`SettingError`
    for an unknown knob (listing the valid ones; for a knob ``unavailable`` names, why ``owner`` has none) or an
    invalid value (listing the valid values)."""
    by_name = {knob.name: knob for knob in knobs}
    for name in settings:
        if name not in by_name:
            valid = ", ".join(by_name) or "none: it has no settings"
            why = (unavailable or {}).get(name)
            raise SettingError(name, f"{owner} has no setting {name!r}{f': {why}' if why else ''}; valid: {valid}")
    out: dict[str, Any] = {}
    for knob in knobs:
        if knob.name in settings:
            try:
                out[knob.name] = knob.check(settings[knob.name])
            except ValueError as exc:
                raise SettingError(knob.name, str(exc)) from None
    return out


def effective(knobs: tuple[Knob, ...], settings: Mapping[str, Any]) -> dict[str, Any]:
    """Every knob's value: the set ones, the others at their defaults."""
    return {knob.name: settings.get(knob.name, knob.default) for knob in knobs}


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` merged into ``base`` key by key (nested mappings merged, anything else replaced), as Helm merges
    ``--set`` over values files; neither is changed."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def chart_values(knobs: tuple[Knob, ...], settings: Mapping[str, Any]) -> dict[str, Any]:
    """The chart values of the set knobs, merged in the knobs' order."""
    out: dict[str, Any] = {}
    for knob in knobs:
        if knob.name in settings:
            out = merge(out, knob.values(settings[knob.name]))
    return out
