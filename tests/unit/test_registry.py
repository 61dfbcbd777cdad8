"""Registries (scenarios, platforms, netns datapaths) and the contract every registered part keeps."""

from __future__ import annotations

import os
import subprocess
import sys
import typing

import pydantic
import pytest

from cnibench.platforms import PLATFORMS, get_platform
from cnibench.platforms.base import Platform
from cnibench.platforms.netns.datapaths import DATAPATHS
from cnibench.platforms.netns.scenarios import ADAPTERS
from cnibench.registry import Registry, UnknownName
from cnibench.scenarios import SCENARIOS, all_metrics, scenario_of
from cnibench.spec import Spec
from cnibench.spec.model import ScenarioSettings


def test_an_unknown_name_lists_the_valid_ones():
    with pytest.raises(UnknownName) as error:
        SCENARIOS.get("pod-to-moon")
    assert str(error.value) == f"unknown scenario 'pod-to-moon'; valid: {', '.join(SCENARIOS.names())}"
    with pytest.raises(UnknownName, match="unknown platform 'minikube'; valid: netns, "):
        get_platform("minikube")


def test_the_first_modules_lead_whatever_was_imported_before():
    """A module imported before the registry's first use (a test importing kind's module, a plug-in) registers its
    part early; the default platform still leads every list."""
    code = (
        "import cnibench.platforms.kube.aks\n"
        "from cnibench.platforms import PLATFORMS\n"
        "print(','.join(PLATFORMS.names()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().split(",")[:4] == ["netns", "kind", "kubeconfig", "aks"]


def test_the_order_is_the_discoverys_whichever_module_was_imported_first():
    """The scenarios' order (every list, every message naming them) does not depend on what a test or plug-in
    imported first: a later module imported early still takes its place by name."""
    listing = "from cnibench.scenarios import SCENARIOS\nprint(','.join(SCENARIOS.names()))\n"
    fresh = subprocess.run([sys.executable, "-c", listing], capture_output=True, text=True, check=True).stdout
    early = subprocess.run([sys.executable, "-c", "import cnibench.scenarios.network_policy\n" + listing],
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert early == fresh and fresh.split(",")[:2] == ["egress", "ingress"]


def test_two_parts_of_one_name_are_a_programming_error():
    registry: Registry[object] = Registry("thing")
    first = registry.register("a", object())
    assert registry.register("a", first) is first  # the same part again (a module imported twice) is fine
    with pytest.raises(ValueError, match="two things named 'a'"):
        registry.register("a", object())


def test_discovery_imports_the_first_modules_first():
    assert PLATFORMS.names()[0] == "netns"  # the default platform leads every list
    assert set(PLATFORMS.names()) >= {"netns", "kind", "kubeconfig", "aks"}
    assert set(DATAPATHS.names()) >= {"hostgw", "vxlan"}


RUNNABLE = [name for name in SCENARIOS.names() if SCENARIOS.get(name).runnable]  # not: ingested (cnibench ingest)


@pytest.mark.parametrize("name", RUNNABLE)
def test_every_scenario_keeps_the_contract(name):
    scenario = SCENARIOS.get(name)
    assert scenario.name == name and scenario.trials and scenario.description
    assert issubclass(scenario.settings_model, ScenarioSettings)  # --repeat and --duration apply to it
    defaults = scenario.settings_model()
    assert defaults.duration > 0 and defaults.repetitions >= 1
    for trial in scenario.trials:
        assert scenario_of(trial) is scenario
        # a sample says which trial it is: the sample model accepts this scenario's trials (at any load), no other's
        field = scenario.sample_model.model_fields["scenario"]
        accepts = pydantic.TypeAdapter(typing.Annotated[field.annotation, field])
        accepts.validate_python(trial)
        for other in (t for s in SCENARIOS.values() if s is not scenario for t in s.trials):
            with pytest.raises(pydantic.ValidationError):
                accepts.validate_python(other)
    fields = scenario.sample_model.model_fields
    for metric in (*scenario.metrics, *(scenario.rate_metrics or ())):
        assert metric.name in fields, f"{metric.name} is not a field of {scenario.sample_model.__name__}"
        assert metric.label and metric.scale > 0 and metric.better in ("higher", "lower")  # unit "": a count
    assert scenario.tools
    assert name in Spec.model_fields["scenarios"].annotation.model_fields  # the spec has its section


@pytest.mark.parametrize("name", RUNNABLE)
def test_every_scenario_runs_on_netns(name):
    assert ADAPTERS.get(name).scenario == name


def test_metrics_are_named_once_across_scenarios():
    names = [m.name for m in all_metrics()]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("name", PLATFORMS.names())
def test_every_platform_is_registered_under_its_own_name(name):
    platform = PLATFORMS.get(name)
    assert issubclass(platform, Platform) and platform.name == name


def test_a_nested_registry_finds_every_familys_parts_and_a_module_filter_imports_only_those(tmp_path):
    """Platforms live one level down (``platforms/<family>/<module>``), their tasks in ``<family>/tasks.py``: found
    without a list, ``first`` in its order, and a filtered registry imports no other module of a family."""
    root = tmp_path / "regtoy"
    for family, modules in {"b": ("two", "one", "tasks", "base"), "a": ("three", "tasks")}.items():
        (root / family).mkdir(parents=True)
        (root / family / "__init__.py").write_text("")
        for module in modules:
            (root / family / f"{module}.py").write_text(
                f"from regtoy import PARTS, TASKS\n"
                f"(TASKS if {module!r} == 'tasks' else PARTS).register('{family}.{module}', __name__)\n"
            )
    (root / "__init__.py").write_text(
        "from cnibench.registry import Registry\n"
        "PARTS = Registry('part', __name__, first=('b.two', 'b'), nested=True)\n"
        "TASKS = Registry('task', __name__, nested=True, module='tasks')\n"
    )
    code = (
        "import sys\n"
        "import regtoy\n"
        "print(','.join(regtoy.TASKS.names()))\n"
        "print(','.join(sorted(m for m in sys.modules if m.startswith('regtoy.'))))\n"
        "print(','.join(regtoy.PARTS.names()))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    tasks, imported, parts = out.stdout.split()
    assert set(tasks.split(",")) == {"a.tasks", "b.tasks"}
    assert imported == "regtoy.a,regtoy.a.tasks,regtoy.b,regtoy.b.tasks"  # no part's module: only the tasks
    assert parts == "b.two,b.one,a.three"  # first's order, then the rest as found; base is skipped
