"""The Ansible collection's modules are thin: each runs the task of its own name in ``cnibench.orchestration.tasks``
with an argument spec its documentation describes, and says what its result is."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
import yaml

from cnibench.orchestration import tasks

COLLECTIONS = Path(tasks.__file__).parents[1] / "ansible/collections"
MODULES = COLLECTIONS / "ansible_collections/cnibench/bench/plugins/modules"
NAMES = sorted(p.stem for p in MODULES.glob("*.py"))


def test_there_are_modules():
    assert len(NAMES) >= 10


@pytest.mark.parametrize("name", NAMES)
def test_a_module_runs_the_task_of_its_name_and_nothing_else(name):
    tree = ast.parse((MODULES / f"{name}.py").read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "run_task"]
    assert len(calls) == 1
    assert ast.literal_eval(calls[0].args[0]) == name
    assert callable(getattr(tasks, name, None)), f"orchestration.tasks has no {name}"
    functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert functions == ["main"]  # the work is in the task, not here


@pytest.mark.parametrize("name", NAMES)
def test_a_modules_documentation_matches_its_argument_spec_and_its_kind(name, monkeypatch):
    monkeypatch.syspath_prepend(str(COLLECTIONS))
    module = importlib.import_module(f"ansible_collections.cnibench.bench.plugins.modules.{name}")
    spec = module.ARGUMENT_SPEC
    documentation = yaml.safe_load(module.DOCUMENTATION)
    assert documentation["module"] == name
    options = documentation.get("options") or {}
    assert set(options) == set(spec)
    for option, argument in spec.items():
        assert options[option]["type"] == argument["type"], option
        assert bool(options[option].get("required", False)) == bool(argument.get("required", False)), option
    kind = yaml.safe_load(module.RETURN)["kind"]["description"]
    assert any(f"C({each})" in kind for each in tasks.KINDS), kind


def test_every_task_has_its_module():
    public = {
        name
        for name, value in vars(tasks).items()
        if callable(value) and not name.startswith("_") and getattr(value, "__module__", "") == tasks.__name__
    }
    assert public == set(NAMES)
