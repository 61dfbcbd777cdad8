"""The experiment spec: the only input of a run, validated completely before anything is created.

:data:`Spec` is built from the registered scenarios (their sections under ``scenarios``) and platforms (their own
sections, such as ``kubernetes``); modules imported while it is built (scenarios, platforms) import
:mod:`cnibench.spec.base` only.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from cnibench.spec.base import SPEC_VERSION, FieldError, Model
from cnibench.spec.load import (
    MAX_SPEC_BYTES,
    KeyLines,
    apply_overrides,
    default_spec_data,
    json_schema,
    load_spec,
    load_spec_data,
    load_spec_document,
    parse_spec,
    read_spec_text,
    spec_to_yaml,
)
from cnibench.spec.model import MetricsSpec, NetworkSpec, NodesSpec, SpecBase, build_spec_model

if TYPE_CHECKING:
    Spec = SpecBase
else:

    @functools.cache
    def _spec_model() -> type[SpecBase]:
        return build_spec_model()

    def __getattr__(name: str) -> Any:
        """``Spec`` is built from the registries on first use, not when this package is imported: the modules that
        register scenarios and platforms import :mod:`cnibench.spec.base`, which imports this package first."""
        if name == "Spec":
            return _spec_model()
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "MAX_SPEC_BYTES",
    "SPEC_VERSION",
    "FieldError",
    "KeyLines",
    "MetricsSpec",
    "Model",
    "NetworkSpec",
    "NodesSpec",
    "Spec",
    "SpecBase",
    "apply_overrides",
    "default_spec_data",
    "json_schema",
    "load_spec",
    "load_spec_data",
    "load_spec_document",
    "parse_spec",
    "read_spec_text",
    "spec_to_yaml",
]
