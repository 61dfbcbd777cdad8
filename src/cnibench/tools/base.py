"""What every tool parser shares."""

from __future__ import annotations

import json
from typing import Any

from cnibench.errors import MeasurementError


def json_object(text: str, *, what: str, empty: str) -> dict[str, Any]:
    """A tool's JSON document as an object; :class:`MeasurementError` naming ``what`` when it is not one."""
    if not text.strip():
        raise MeasurementError(empty)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MeasurementError(f"{what} is not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(doc, dict):
        raise MeasurementError(f"{what} is not a JSON object")
    return doc
