"""The kind playbook for real, as far as this machine lets it go: Ansible loads kube.yml, its roles and the project's
modules with the compiled variables, the first step fails because kind is not installed here, and the run ends as
a user would see it: one line naming the step, the teardown tried, nothing left behind."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cnibench import lifecycle
from cnibench.plan import make_plan
from cnibench.spec import load_spec_data, parse_spec

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("kind") is not None, reason="kind is installed: this test needs it missing"),
]


def test_a_kind_run_without_kind_fails_at_its_first_step_and_leaves_nothing(tmp_path, monkeypatch):
    state = tmp_path / "state"
    monkeypatch.setenv("CNIBENCH_STATE_DIR", str(state))
    monkeypatch.setattr(lifecycle, "require", lambda *args, **kwargs: None)  # let it get past the prerequisite check
    spec = parse_spec(load_spec_data(ROOT / "examples" / "kind-antrea-vs-cilium.yaml"))
    outcome = lifecycle.execute(spec, make_plan(spec), results_dir=tmp_path / "results", progress=False)
    results = outcome.results
    assert results.status == "failed" and results.samples == []
    assert results.error is not None and "\n" not in results.error
    assert results.error.startswith("List the kind clusters: ")
    assert "kind" in results.error and "ansible.log" in results.error
    run_dir = tmp_path / "results" / results.run_id
    assert (run_dir / "rendered" / "antrea" / "kind" / "config.yaml").is_file()
    log = (run_dir / "ansible.log").read_text()
    assert "Remove what the run created" in log  # the teardown ran although the first step failed
    assert list(state.glob("cnib*")) == []  # run state and the kubeconfig directory are gone
    assert outcome.exit_code == 1
    environment = results.environment
    assert environment["tools"]["kubernetes.core"] and environment["images"]["kind_node_image"].startswith("kindest/")


def test_clean_forgets_a_dead_kind_run_that_created_nothing(tmp_path, monkeypatch, capsys):
    """A kind run killed before its cluster existed: `clean` finds its state, removes it and marks the run."""
    import json
    import os

    from cnibench import commands
    from cnibench.platforms import get_platform

    monkeypatch.setenv("CNIBENCH_STATE_DIR", str(tmp_path / "state"))
    run_dir = tmp_path / "results" / "r1"
    run_dir.mkdir(parents=True)
    (run_dir / "results.json").write_text(
        json.dumps(
            {
                "schema_version": 4,
                "run_id": "r1",
                "name": "t",
                "platform": "kind",
                "status": "running",
                "started_at": 1.0,
                "cnibench_version": "0",
                "spec": {},
                "environment": {},
            }
        )
    )
    child = os.fork()
    if child == 0:  # an owner that is gone by the time clean runs
        os._exit(0)
    os.waitpid(child, 0)
    prefix = get_platform("kind").reserve(run_dir, child)
    assert commands.clean() == 0
    out = capsys.readouterr().out
    assert f"removed {prefix} (kind, run {run_dir})" in out
    assert list((tmp_path / "state").glob("cnib*")) == []
    assert json.loads((run_dir / "results.json").read_text())["status"] == "interrupted"
