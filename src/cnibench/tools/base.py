"""What every tool parser shares."""

from __future__ import annotations

import json
import math
from typing import Any

from cnibench.errors import MeasurementError


class _NotANumber(ValueError):
    """A ``NaN``/``Infinity`` token: not JSON (RFC 8259 has no such numbers), though Python's json reads it."""


def _refuse_constant(token: str) -> Any:
    raise _NotANumber(token)


def _finite(token: str) -> float:
    value = float(token)
    if not math.isfinite(value):  # 1e400: valid JSON syntax, but no finite double
        raise _NotANumber(token)
    return value


def json_documents(text: str, *, what: str, empty: str) -> list[Any]:
    """Every JSON document in ``text``, in order (a tool that printed its document twice gives two: iperf3 3.16 and
    3.17 with ``-J``, esnet/iperf#1688 and #1716). Raises :class:`MeasurementError` naming ``what`` when the text
    is empty, is not JSON, or holds a ``NaN``/``Infinity`` token or a number too large for a double (``1e400``):
    no figure that is not a finite number gets into a sample."""
    if not text.strip():
        raise MeasurementError(empty)
    decoder = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite)
    docs: list[Any] = []
    index = 0
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            return docs
        try:
            doc, index = decoder.raw_decode(text, index)
        except _NotANumber as exc:
            raise MeasurementError(f"{what} holds {exc} where a number belongs (not a JSON number)") from None
        except json.JSONDecodeError as exc:
            raise MeasurementError(f"{what} is not JSON ({exc.msg} at line {exc.lineno})") from None
        docs.append(doc)


def json_object(text: str, *, what: str, empty: str) -> dict[str, Any]:
    """A tool's JSON document as an object; :class:`MeasurementError` naming ``what`` when it is not one (or when
    the text holds several different documents; identical copies are read as one)."""
    docs = json_documents(text, what=what, empty=empty)
    if any(doc != docs[0] for doc in docs[1:]):
        raise MeasurementError(f"{what} holds {len(docs)} different JSON documents; one was expected")
    doc = docs[0]
    if not isinstance(doc, dict):
        raise MeasurementError(f"{what} is not a JSON object")
    return doc


def section(parent: dict[str, Any], key: str, what: str) -> dict[str, Any]:
    """``parent[key]`` when it is a JSON object, ``{}`` when it is absent or null; :class:`MeasurementError`
    naming ``what`` (its path in the document) when it is something else (a list, a string)."""
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MeasurementError(f"{what} is a JSON {_json_type(value)}, not an object")
    return value


def items(parent: dict[str, Any], key: str, what: str) -> list[Any]:
    """``parent[key]`` when it is a JSON array, ``[]`` when absent or null; :class:`MeasurementError` otherwise."""
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MeasurementError(f"{what} is a JSON {_json_type(value)}, not an array")
    return value


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    names: dict[type, str] = {str: "string", list: "array", dict: "object"}
    return names.get(type(value), type(value).__name__)
