"""Prerequisites of the Kubernetes platforms: found or not, new enough or not, and how to get what is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnibench import cli, doctor

ROOT = Path(__file__).resolve().parents[2]


def _fake_tool(directory: Path, name: str, output: str, code: int = 0) -> None:
    """A stand-in for a tool that cannot run here (kind, helm, docker): it prints what the real one prints."""
    path = directory / name
    path.write_text(f"#!/bin/sh\necho '{output}'\nexit {code}\n")
    path.chmod(0o755)


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("kind v0.31.0 go1.25.5 linux/amd64", (0, 31, 0)),
        ("v3.19.0+g3d8990f", (3, 19, 0)),
        ('{"clientVersion": {"gitVersion": "v1.37.0"}}', (1, 37, 0)),
        ("no version here", None),
    ],
)
def test_versions_are_read_from_the_tools_output(text, version):
    assert doctor.parse_version(text) == version


def test_too_old_and_missing_tools_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(doctor.sys, "executable", str(tmp_path / "python"))  # no venv bindir either
    _fake_tool(tmp_path, "kind", "kind v0.19.0 go1.20 linux/amd64")
    _fake_tool(tmp_path, "helm", "v3.19.0+g3d8990f")
    old = doctor.check_versioned("kind", ["kind", "version"])
    assert not old.ok and old.detail == "0.19.0 is too old (need 0.31+)" and "go install sigs.k8s.io/kind" in old.hint
    assert doctor.check_versioned("helm", ["helm", "version", "--short"]).ok
    missing = doctor.check_docker()
    assert not missing.ok and missing.detail == "not found" and "docs.docker.com" in missing.hint


def test_a_docker_without_its_daemon_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(doctor.sys, "executable", str(tmp_path / "python"))
    _fake_tool(tmp_path, "docker", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock.", code=1)
    check = doctor.check_docker()
    assert not check.ok and "daemon is not reachable: Cannot connect to the Docker daemon" in check.detail


def test_doctor_kind_here_lists_what_is_missing(capsys):
    """No Docker daemon can run here: whether its client is installed or not, docker is reported missing."""
    assert cli.main(["doctor", "--platform", "kind"]) == 2
    out = capsys.readouterr().out
    assert "MISSING docker" in out
    assert "-> install Docker Engine" in out or "daemon is not reachable: Cannot connect to the Docker daemon" in out
    assert "ok      kubernetes.core" in out  # bundled by the ansible package


def test_run_on_kind_refuses_before_creating_anything(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = cli.main(["run", str(ROOT / "examples" / "kind-antrea-vs-cilium.yaml")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("cnibench: error: docker: ") and "(see `cnibench doctor`)" in err
    assert list(tmp_path.iterdir()) == []


def test_helm_4_is_refused_until_kubernetes_core_supports_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(doctor.sys, "executable", str(tmp_path / "python"))
    _fake_tool(tmp_path, "helm", "v4.0.1+g1234567")
    check = doctor.check_versioned("helm", ["helm", "version", "--short"])
    assert not check.ok and check.detail == "4.0.1 is not supported (need below 4.0)" and "Helm 3" in check.hint


def test_kind_clusters_of_earlier_runs_must_go_first(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(doctor.sys, "executable", str(tmp_path / "python"))
    _fake_tool(tmp_path, "kind", "kind\ncnib1a2b-cilium\nmy-dev-cluster")
    check = doctor.check_no_kept_clusters()
    assert not check.ok and "cnib1a2b-cilium" in check.detail and "my-dev-cluster" not in check.detail
    assert check.hint.startswith("cnibench clean")
    _fake_tool(tmp_path, "kind", "my-dev-cluster")
    assert doctor.check_no_kept_clusters().ok


def test_the_azure_subscription_is_named_never_its_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("ARM_SUBSCRIPTION_ID", raising=False)
    monkeypatch.setattr(doctor.sys, "executable", str(tmp_path / "python"))
    missing = doctor.check_subscription()
    assert not missing.ok and "az not found" in missing.detail and "az login" in missing.hint
    _fake_tool(tmp_path, "az", "Please run 'az login' to setup account.", code=1)
    check = doctor.check_subscription()
    assert not check.ok and check.detail.startswith("no subscription selected") and "az account set" in check.hint
    _fake_tool(tmp_path, "az", "Thesis subscription")
    assert doctor.check_subscription().detail == "selected: Thesis subscription"
    monkeypatch.setenv("ARM_SUBSCRIPTION_ID", "00000000-0000-0000-0000-000000000000")
    assert "0000" not in doctor.check_subscription().detail
