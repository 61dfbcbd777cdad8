"""The experiment spec: the only input of a run, validated completely before anything is created.

:data:`Spec` (the model to validate with) is built from the registered scenarios (their sections under
``scenarios``) and platforms (their own sections, such as ``kubernetes``) by :mod:`cnibench.spec.registered`; the
scenarios and platforms themselves type a spec as :class:`cnibench.spec.model.Spec`, its registry-free base, and
import nothing else of this package but :mod:`cnibench.spec.base`.
"""

from __future__ import annotations

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
from cnibench.spec.model import MetricsSpec, NetworkSpec, NodesSpec

if TYPE_CHECKING:
    from cnibench.spec.model import Spec
else:

    def __getattr__(name: str) -> Any:
        """``Spec`` is built from the registries on first use, not when this package is imported: the modules that
        register scenarios and platforms import :mod:`cnibench.spec.base`, which imports this package first."""
        if name == "Spec":
            from cnibench.spec.registered import spec_model

            return spec_model()
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
