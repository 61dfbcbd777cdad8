"""Prerequisites of the Kubernetes platforms (the shared ones, and each platform's and CNI's own): found or not, new
enough or not, and how to get what is missing."""

from __future__ import annotations

import sys
from pathlib import Path

from cnibench import cli
from cnibench.platforms.kube import aks, kind, prerequisites
from cnibench.platforms.kube.cnis import CNIS, antrea

ROOT = Path(__file__).resolve().parents[4]


def _fake_tool(directory: Path, name: str, output: str, code: int = 0) -> None:
    """A stand-in for a tool that cannot run here (kind, helm, docker): it prints what the real one prints."""
    path = directory / name
    path.write_text(f"#!/bin/sh\necho '{output}'\nexit {code}\n")
    path.chmod(0o755)


def test_too_old_and_missing_tools_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))  # no venv bindir either
    _fake_tool(tmp_path, "kind", "kind v0.19.0 go1.20 linux/amd64")
    _fake_tool(tmp_path, "helm", "v3.19.0+g3d8990f")
    old = kind.check_kind()
    assert not old.ok and old.detail == "0.19.0 is too old (need 0.31+)" and "go install sigs.k8s.io/kind" in old.hint
    assert prerequisites.versioned("helm").ok
    missing = prerequisites.check_docker()
    assert not missing.ok and missing.detail == "not found" and "docs.docker.com" in missing.hint


def test_a_docker_without_its_daemon_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    _fake_tool(tmp_path, "docker", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock.", code=1)
    check = prerequisites.check_docker()
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
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    _fake_tool(tmp_path, "helm", "v4.0.1+g1234567")
    check = prerequisites.versioned("helm")
    assert not check.ok and check.detail == "4.0.1 is not supported (need below 4.0)" and "Helm 3" in check.hint


def test_kind_clusters_of_earlier_runs_must_go_first(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    _fake_tool(tmp_path, "kind", "kind\ncnib1a2b-cilium\nmy-dev-cluster")
    check = kind.check_no_kept_clusters()
    assert not check.ok and "cnib1a2b-cilium" in check.detail and "my-dev-cluster" not in check.detail
    assert check.hint.startswith("cnibench clean")
    _fake_tool(tmp_path, "kind", "my-dev-cluster")
    assert kind.check_no_kept_clusters().ok


def test_the_azure_subscription_is_named_never_its_secrets(tmp_path, monkeypatch):
    """The doctor names the subscription that will be billed and where it comes from, never its id."""
    monkeypatch.setenv("PATH", str(tmp_path))
    for name in ("ARM_SUBSCRIPTION_ID", "ARM_CLIENT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    missing = aks.check_subscription()
    assert not missing.ok and "az not found" in missing.detail and "az login" in missing.hint
    _fake_tool(tmp_path, "az", "Please run 'az login' to setup account.", code=1)
    check = aks.check_subscription()
    assert not check.ok and check.detail.startswith("no subscription selected") and "az account set" in check.hint
    account = '{"id": "0f0e0d0c-0000-4000-8000-00000000abcd", "name": "Thesis subscription", "isDefault": true}'
    _fake_tool(tmp_path, "az", account)
    check = aks.check_subscription()
    assert check.ok and check.detail == "billed: 'Thesis subscription', from the Azure CLI's selected subscription"
    monkeypatch.setenv("ARM_SUBSCRIPTION_ID", "0f0e0d0c-0000-4000-8000-00000000abcd")
    check = aks.check_subscription()
    assert check.detail == "billed: 'Thesis subscription', from ARM_SUBSCRIPTION_ID" and "abcd" not in check.detail
    assert aks.check_subscription("0f0e0d0c-0000-4000-8000-00000000abcd").detail.endswith(
        "from aks.subscription_id in the spec"
    )
    monkeypatch.delenv("ARM_SUBSCRIPTION_ID")
    monkeypatch.setenv("ARM_CLIENT_ID", "a-service-principal")
    check = aks.check_subscription()
    assert not check.ok and "ARM_SUBSCRIPTION_ID is not" in check.detail


def _docker_info(directory: Path, cgroup: str, kernel: str) -> None:
    """A stand-in for `docker` answering `docker info --format '{{.CgroupVersion}}'` or `'{{.KernelVersion}}'` as
    Docker does (the field's value alone on one line), and `docker version` for the daemon check."""
    path = directory / "docker"
    path.write_text(
        "#!/bin/sh\n"
        'case "$*" in\n'
        f'  *CgroupVersion*) echo "{cgroup}" ;;\n'
        f'  *KernelVersion*) echo "{kernel}" ;;\n'
        '  version*) echo "29.1.3" ;;\n'
        "esac\n"
    )
    path.chmod(0o755)


def test_kind_refuses_a_cgroup_v1_host(tmp_path, monkeypatch):
    """Kubernetes 1.35's kubelet (kind v0.31's node image) does not start on cgroup v1 (KEP-5573, kind PR #4077)."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    _docker_info(tmp_path, "1", "5.10.0-8-amd64")
    check = kind.check_cgroup_v2()
    assert not check.ok and check.detail.startswith("Docker runs on cgroup v1") and "KEP-5573" in check.detail
    assert "systemd.unified_cgroup_hierarchy=1" in check.hint
    _docker_info(tmp_path, "2", "6.1.0-40-amd64")
    assert kind.check_cgroup_v2().ok
    names = [c.name for c in kind.kind_checks(port_mappings=False, cnis=[CNIS.get("cilium")])]
    assert "cgroup v2" in names and "openvswitch (Antrea)" not in names
    antrea = kind.kind_checks(port_mappings=False, cnis=[CNIS.get("antrea")])
    assert "openvswitch (Antrea)" in [c.name for c in antrea]  # Antrea's descriptor asks for it


def test_antrea_on_kind_needs_the_openvswitch_module(tmp_path, monkeypatch):
    """Antrea docs/kind.md: the agent needs the host kernel's openvswitch module (missing on WSL 2's kernel)."""
    import os

    bindir = tmp_path / "bin"
    bindir.mkdir()
    monkeypatch.setenv("PATH", str(bindir))
    monkeypatch.setattr(sys, "executable", str(bindir / "python"))
    kernel = os.uname().release
    _docker_info(bindir, "2", kernel)
    sys_module, modules = tmp_path / "sys-module", tmp_path / "lib-modules"
    (modules / kernel).mkdir(parents=True)
    sys_module.mkdir()
    (modules / kernel / "modules.dep").write_text("kernel/net/bridge/bridge.ko: kernel/net/802/stp.ko\n")
    (modules / kernel / "modules.builtin").write_text("kernel/net/ipv4/tcp_cubic.ko\n")
    check = antrea.check_openvswitch(sys_module=sys_module, modules=modules)
    assert not check.ok and "has no openvswitch module" in check.detail and "linux-modules-extra" in check.hint
    (modules / kernel / "modules.dep").write_text(
        "kernel/net/openvswitch/openvswitch.ko: kernel/net/nsh/nsh.ko kernel/net/netfilter/nf_conncount.ko\n"
    )
    assert antrea.check_openvswitch(sys_module=sys_module, modules=modules).detail == "kernel module available"
    (sys_module / "openvswitch").mkdir()
    assert antrea.check_openvswitch(sys_module=sys_module, modules=modules).detail == "kernel module loaded"
    _docker_info(bindir, "2", "6.6.87.2-microsoft-standard-WSL2")  # Docker Desktop's VM: not this kernel
    check = antrea.check_openvswitch(sys_module=sys_module, modules=modules)
    assert check.ok and check.detail.startswith("not checked: Docker's kernel 6.6.87.2-microsoft-standard-WSL2")


def test_kind_with_rr_needs_docker_to_build_the_sockperf_image_and_says_so(capsys, tmp_path):
    """doctor --spec: kind's rr builds cnibench's sockperf image here; no Docker daemon runs here, so the check
    fails with what it is for and the way around it (an image built and pushed elsewhere)."""
    import yaml

    data = yaml.safe_load((ROOT / "examples" / "kind-antrea-vs-cilium.yaml").read_text())
    data["scenarios"] = {"east-west": {"workloads": ["rr"], "protocols": ["tcp"]}}
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(data))
    assert cli.main(["doctor", "--spec", str(spec)]) == 2
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if "docker build (east-west rr)" in line)
    assert line.lstrip().startswith("MISSING") and "builds the rr workload's sockperf image localhost/cnibench/" in line
    assert "kubernetes.sockperf_image" in out  # the hint: build and push elsewhere, name it in the spec
    data["kubernetes"] = {"sockperf_image": "registry.example/sockperf@sha256:" + "ab" * 32}
    spec.write_text(yaml.safe_dump(data))
    cli.main(["doctor", "--spec", str(spec)])
    assert "docker build (east-west rr)" not in capsys.readouterr().out  # a pushed image: nothing to build here
