"""What every part of the spec is built from: the strict model base, the error a cross-field check raises, and
small value checks shared by sections. Imported by the scenarios and platforms that own spec sections, so it
imports nothing of theirs."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

SPEC_VERSION = 1
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
VERSION = re.compile(r"^v?[0-9]+\.[0-9]+\.[0-9]+$")
_PROM_DURATION = re.compile(r"^([0-9]+)(ms|s)$")

LaxIPv4Address = Annotated[ipaddress.IPv4Address, Field(strict=False)]
LaxIPv4Network = Annotated[ipaddress.IPv4Network, Field(strict=False)]
Loc = tuple[str | int, ...]


class FieldError(ValueError):
    """A check that names the field it is about (pydantic only knows the model's location): ``loc`` is the path from
    the top of the spec when raised by a platform's or scenario's check, or from the model being validated."""

    def __init__(self, loc: Loc, message: str) -> None:
        super().__init__(message)
        self.loc = loc


class FieldErrors(ValueError):
    """Several independent :class:`FieldError` at once (each scenario's and the platform's checks are run even when
    another one failed), so that a spec's errors are reported together, not one per attempt."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__("; ".join(str(error) for error in errors))
        self.errors = list(errors)


def collect_errors(checks: Iterable[Callable[[], None]]) -> None:
    """Run every check of ``checks`` (independent of each other) and raise what they found together: the one
    :class:`FieldError`, or :class:`FieldErrors` when there are several. Other exceptions pass through."""
    found: list[FieldError] = []
    for check in checks:
        try:
            check()
        except FieldErrors as exc:
            found += exc.errors
        except FieldError as exc:
            found.append(exc)
    if len(found) == 1:
        raise found[0]
    if found:
        raise FieldErrors(found)


def whole_number_text(value: Any) -> Any:
    """A YAML integer where text is expected (``bitrate: 0``, ``bitrate: 1000000``) as that text; anything else
    unchanged (for the field's own check to judge)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


class Model(BaseModel):
    """A section of the spec. Strict: YAML gives real ints, bools and strings, and "10" for a number is a mistake
    worth reporting; an unknown key is refused."""

    model_config = ConfigDict(extra="forbid", strict=True, validate_default=True)


def dns_label(value: str) -> str:
    """``value`` if it is a DNS-1123 label (RFC 1123: lower-case letters, digits, '-', at most 63); ValueError."""
    if len(value) > 63 or not DNS1123_LABEL.match(value):
        raise ValueError(
            "must be a DNS-1123 label: lower-case letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 characters"
        )
    return value


def prometheus_duration_s(text: str) -> float | None:
    """``1s`` -> 1.0, ``500ms`` -> 0.5; None if it is not such a duration."""
    match = _PROM_DURATION.match(text)
    if not match:
        return None
    return int(match.group(1)) / (1000 if match.group(2) == "ms" else 1)
