"""The Ansible collection's modules are thin: each runs the task of its own name (``cnibench.platforms.TASKS``, which
the platform families fill) with an argument spec its documentation describes, and says what its result is."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import cnibench
from cnibench.orchestration import tasks
from cnibench.platforms import TASKS

COLLECTIONS = Path(cnibench.__file__).parent / "ansible/collections"
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
    assert name in TASKS, f"no task {name} is registered"
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
    assert set(TASKS.names()) == set(NAMES)


def test_a_module_call_imports_only_its_own_familys_tasks():
    """The module helper looks the task up: that imports each family's tasks module, not the platforms (a module
    call costs its import of cnibench, once per repetition on Kubernetes)."""
    code = (
        "import sys\n"
        "from cnibench.platforms import TASKS\n"
        "TASKS.get('kube_measure')\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('cnibench.platforms'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [
        "cnibench.platforms", "cnibench.platforms.kube", "cnibench.platforms.kube.tasks",
        "cnibench.platforms.netns", "cnibench.platforms.netns.tasks",
    ]  # fmt: skip
