"""The committed benchmarks still import against today's code (they are run by hand, not in CI: they measure)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.parametrize("name", sorted(p.stem for p in BENCHMARKS.glob("*.py") if not p.stem.startswith("_")))
def test_a_benchmark_imports_and_has_a_main(name, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    module = importlib.import_module(name)
    assert callable(module.main)
    assert (BENCHMARKS / "results" / f"{name}.json").is_file(), "its last measured figures are committed"
