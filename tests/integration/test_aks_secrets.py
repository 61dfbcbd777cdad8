"""The aks path for real as far as this machine lets it go, with the one thing that cannot run here (Terraform
talking to Azure) replaced by a stand-in that answers as Terraform does and hands out a kubeconfig full of
credentials. The playbook provisions, writes the kubeconfig, fails at the first step that needs the cluster (no
Helm here), destroys, and not one secret reaches the run directory: results, logs, Ansible's artifacts, report."""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from pathlib import Path

import pytest

from cnibench import commands, lifecycle
from cnibench.platforms.kube import azure

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("helm") is not None, reason="helm is installed: the run would go further"),
]

TOKEN = "cnibench-test-token-3f9a1c7e5b2d"
SUBSCRIPTION = "5ab1c0de-0000-4000-8000-00000000c0de"
CLIENT_KEY = "Y25pYmVuY2gtdGVzdC1jbGllbnQta2V5LWRhdGE="
CLIENT_SECRET = "cnibench-test-client-secret-9d8e7f"
KUBECONFIG = f"""apiVersion: v1
kind: Config
clusters:
- name: clustercnibtest
  cluster: {{server: "https://dnscnibtest.hcp.westeurope.azmk8s.io:443"}}
users:
- name: clusterUser
  user: {{token: {TOKEN}, client-key-data: {CLIENT_KEY}}}
"""

FAKE_TERRAFORM = r'''#!{python}
"""Answers like terraform 1.11 for the commands community.general.terraform and cnibench run; logs each call."""
import json, os, sys
args = sys.argv[1:]
cwd = os.getcwd()
if args and args[0].startswith("-chdir="):
    cwd = args[0].split("=", 1)[1]
    args = args[1:]
with open(os.environ["FAKE_TERRAFORM_LOG"], "a") as log:
    log.write(" ".join(args) + " [ARM_SUBSCRIPTION_ID=" + os.environ.get("ARM_SUBSCRIPTION_ID", "") + "]\n")
state = os.path.join(cwd, "terraform.tfstate")
if args[:2] == ["version", "-json"]:
    print(json.dumps({{"terraform_version": "1.11.4"}}))
elif args[:2] == ["workspace", "list"]:
    print("* default")
elif args[0] == "plan":
    out = [a for a in args if a.startswith("-out")]
    sys.exit(2)
elif args[0] == "apply":
    resources = [{{"type": "azurerm_kubernetes_cluster", "name": "k8s"}}]
    json.dump({{"version": 4, "resources": resources}}, open(state, "w"))
    print("Apply complete! Resources: 4 added, 0 changed, 0 destroyed.")
elif args[0] == "destroy":
    json.dump({{"version": 4, "resources": []}}, open(state, "w"))
    print("Destroy complete! Resources: 4 destroyed.")
elif args[0] == "output" and "-raw" in args:
    sys.stdout.write(os.environ["FAKE_KUBECONFIG"])
elif args[0] == "output":
    kube_config = {{"sensitive": True, "type": "string", "value": os.environ["FAKE_KUBECONFIG"]}}
    group = {{"sensitive": False, "type": "string", "value": "rgx"}}
    print(json.dumps({{"kube_config": kube_config, "resource_group_name": group}}))
'''


@pytest.fixture
def fake_terraform(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "terraform"
    script.write_text(FAKE_TERRAFORM.format(python=sys.executable))
    script.chmod(0o755)
    log = tmp_path / "terraform.log"
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_TERRAFORM_LOG", str(log))
    monkeypatch.setenv("FAKE_KUBECONFIG", KUBECONFIG)
    return log


def test_the_kubeconfig_is_written_privately_and_never_returned(tmp_path, fake_terraform):
    dest = tmp_path / "state" / "kubeconfig-cilium"
    azure.write_kubeconfig(tmp_path, dest)
    assert dest.read_text() == KUBECONFIG
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600


def test_no_secret_reaches_the_run_directory(tmp_path, monkeypatch, capsys, fake_terraform):
    monkeypatch.setenv("CNIBENCH_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("ARM_CLIENT_SECRET", CLIENT_SECRET)  # as a service principal's credentials would be
    monkeypatch.setenv("ARM_SUBSCRIPTION_ID", SUBSCRIPTION)
    monkeypatch.setattr(lifecycle, "require", lambda *args, **kwargs: None)  # no az, no helm here
    results_dir = tmp_path / "results"
    spec = tmp_path / "aks.yaml"
    spec.write_text((ROOT / "examples" / "aks.yaml").read_text().replace("cnis: [antrea, cilium]", "cnis: [cilium]"))
    code = commands.run(spec, results_dir=results_dir, progress=False, yes=True, repeat=1, duration=1)
    out = capsys.readouterr().out
    assert code == 1
    run_dir = next(p for p in results_dir.iterdir() if p.is_dir() and not p.is_symlink())
    results = json.loads((run_dir / "results.json").read_text())
    assert results["status"] == "failed" and results["error"].startswith("Install the CNI chart: ")
    calls = fake_terraform.read_text().splitlines()
    assert any(c.startswith("apply") for c in calls) and any(c.startswith("destroy") for c in calls)
    # the pinned subscription reaches Terraform's apply and destroy (azurerm 4.x requires one, PR #26621)
    for command in ("apply", "destroy"):
        assert all(c.endswith(f"[ARM_SUBSCRIPTION_ID={SUBSCRIPTION}]") for c in calls if c.startswith(command))
    assert calls.index(next(c for c in calls if c.startswith("destroy"))) > calls.index(
        next(c for c in calls if c.startswith("apply"))
    )
    assert "terraform.tfvars.json" in {p.name for p in run_dir.rglob("*")}
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert (run_dir / "ansible.log").is_file() and any("job_events" in str(p) for p in files)
    for path in files:
        text = path.read_text(errors="replace")
        for secret in (TOKEN, CLIENT_KEY, CLIENT_SECRET, SUBSCRIPTION):
            assert secret not in text, f"{secret} leaked into {path.relative_to(run_dir)}"
    for secret in (TOKEN, CLIENT_KEY, CLIENT_SECRET, SUBSCRIPTION):
        assert secret not in out
    assert list((tmp_path / "state").glob("cnib*")) == []  # kubeconfig and Terraform state gone after destroy
