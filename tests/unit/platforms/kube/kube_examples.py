"""Example specs with changes, for the Kubernetes platforms' tests (imported by name: pytest puts this directory
on the path)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from cnibench.spec import load_spec_data

ROOT = Path(__file__).resolve().parents[4]


def example_with(example: str, **changes: Any) -> dict[str, Any]:
    """An example spec with ``a__b=value`` changes (``None`` removes the key)."""
    data = load_spec_data(ROOT / "examples" / example)
    for dotted, value in changes.items():
        target = data
        *path, last = dotted.split("__")
        for key in path:
            target = target.setdefault(key, {})
        if value is None:
            target.pop(last, None)
        else:
            target[last] = value
    return data


def write_example(directory: Path, example: str, **changes: Any) -> Path:
    path = directory / "spec.yaml"
    path.write_text(yaml.safe_dump(example_with(example, **changes)))
    return path


def step(cluster: dict[str, Any], role: str) -> dict[str, Any]:
    """The role step of ``role`` (``egress``, ``ingress``, ``metallb``) among a compiled cluster's scenario steps."""
    (found,) = [s for s in cluster["scenarios"] if s["role"] == f"cnibench.bench.{role}"]
    return found
