"""The aks platform, checked offline: the Terraform module parses (python-hcl2) and is formatted (terraform fmt,
when terraform is here), every variable it uses is declared and every tfvars key cnibench writes is one of them,
the cluster is the thesis's (network_plugin "none", standard LoadBalancer, the spec's node pool), bad input is
one line, and nothing billable is created without a yes."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest
from hcl2 import SerializationOptions

from cnibench import commands, lifecycle
from cnibench.errors import PrerequisiteError, SpecError
from cnibench.plan import make_plan
from cnibench.platforms import get_platform
from cnibench.platforms.kube.aks import AKS_MODULE, aks_tfvars
from cnibench.platforms.kube.cnis import CNIS
from cnibench.spec import load_spec_data, parse_spec

ROOT = Path(__file__).resolve().parents[4]
EXAMPLE = ROOT / "examples" / "aks.yaml"
PLAIN = SerializationOptions(explicit_blocks=False, strip_string_quotes=True, with_comments=False)


def _module() -> dict[str, list[dict[str, Any]]]:
    merged: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(AKS_MODULE.glob("*.tf")):
        with path.open() as f:
            for key, blocks in hcl2.load(f, serialization_options=PLAIN).items():
                merged.setdefault(key, []).extend(blocks)
    return merged


def _blocks(module: dict[str, list[dict[str, Any]]], kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for block in module.get(kind, []):
        out.update(block)
    return out


def test_the_module_has_the_standard_layout_and_parses():
    assert {p.name for p in AKS_MODULE.glob("*.tf")} >= {"versions.tf", "variables.tf", "main.tf", "outputs.tf"}
    module = _module()
    providers = module["terraform"][0]["required_providers"][0]
    assert providers["azurerm"]["version"].startswith("~> 4.") and providers["azapi"]["version"].startswith("~> 2.")


def test_every_variable_used_is_declared_with_a_description_and_type():
    variables = _blocks(_module(), "variable")
    assert set(variables) == {"resource_group_location", "common_infix", "vm_type", "node_count", "username"}
    for name, body in variables.items():
        assert body.get("description") and body.get("type"), name
    used = set()
    for path in AKS_MODULE.glob("*.tf"):
        used |= set(re.findall(r"\bvar\.([a-z_]+)", path.read_text()))
    assert used <= set(variables), used - set(variables)


def test_the_cluster_is_the_thesis_one_with_the_default_cni_removed():
    resources = _blocks(_module(), "resource")
    cluster = resources["azurerm_kubernetes_cluster"]["k8s"]
    assert cluster["network_profile"][0] == {"network_plugin": "none", "load_balancer_sku": "standard"}
    assert cluster["identity"][0]["type"] == "SystemAssigned"
    pool = cluster["default_node_pool"][0]
    assert pool["vm_size"] == "${var.vm_type}" and pool["node_count"] == "${var.node_count}"
    key = cluster["linux_profile"][0]["ssh_key"][0]["key_data"]
    assert key == "${azapi_resource_action.ssh_public_key_gen.output.publicKey}"
    outputs = _blocks(_module(), "output")
    assert outputs["kube_config"]["sensitive"] is True


def test_tfvars_are_declared_variables_and_match_the_spec(tmp_path):
    spec = parse_spec({**load_spec_data(EXAMPLE), "aks": {"vm_type": "Standard_D2s_v5", "node_count": 3}})
    variables = _blocks(_module(), "variable")
    compiled = get_platform("aks").compile(make_plan(spec), run_dir=tmp_path, prefix="cnib0000")
    compiled.write()
    for cluster in compiled.extravars["cnibench_clusters"]:
        tfvars = json.loads(Path(cluster["create"]["terraform"]["vars_file"]).read_text())
        assert set(tfvars) <= set(variables)
        assert tfvars["vm_type"] == "Standard_D2s_v5" and tfvars["node_count"] == 3
        assert tfvars["common_infix"] == f"cnib0000{cluster['cni']}"
        # the module's own validations accept what cnibench writes
        for name, value in tfvars.items():
            for validation in variables[name].get("validation", []):
                pattern = re.search(r'regex\("(.*)", var\.', validation["condition"])
                if pattern:
                    assert re.search(pattern.group(1).replace("\\\\", "\\"), str(value)), (name, value)
        # credentials never in the results: the kubeconfig and Terraform's state live in the private state dir
        assert not Path(cluster["kubeconfig"]).is_relative_to(tmp_path)
        assert not Path(cluster["create"]["terraform"]["work_dir"]).is_relative_to(tmp_path)


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed")
def test_terraform_fmt_accepts_the_module():
    proc = subprocess.run(["terraform", "fmt", "-check", "-diff", str(AKS_MODULE)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"aks": {"vm_type": "A2_v2"}}, "aks.vm_type", "not an Azure VM size"),
        ({"aks": {"node_count": 0}}, "aks.node_count", "greater than or equal to 1"),
        ({"aks": {"location": "West Europe"}}, "aks.location", "not an Azure location name"),
        ({"aks": {"common_infix": "My-Run"}}, "aks.common_infix", "lower-case letters or digits"),
        (
            {"cnis": ["cilium"], "kubernetes": {"gateway_implementation": "cilium"}},
            "kubernetes.gateway_implementation",
            "unsupported on aks",
        ),
        ({"scenarios": {"egress": {}, "ingress": {}}}, "scenarios.egress", "not on aks"),
        ({"cnis": ["weave"]}, "cnis[0]", f"valid: {', '.join(CNIS)}"),
    ],
)
def test_bad_aks_input_is_one_line_naming_the_field(changes, field, words):
    with pytest.raises(SpecError) as info:
        parse_spec({**load_spec_data(EXAMPLE), **changes}, "aks.yaml")
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"aks.yaml: {field}: ") and words in message


def test_cilium_on_aks_uses_its_documented_byocni_settings(tmp_path):
    out = tmp_path / "out"
    assert commands.render(EXAMPLE, out) == 0
    import yaml

    cilium = yaml.safe_load((out / "rendered" / "cilium" / "helm" / "cilium.values.yaml").read_text())
    assert cilium["aksbyocni"] == {"enabled": True} and cilium["routingMode"] == "tunnel"
    assert cilium["ipam"]["operator"]["clusterPoolIPv4PodCIDRList"] == ["10.244.0.0/16"]
    antrea = yaml.safe_load((out / "rendered" / "antrea" / "helm" / "antrea.values.yaml").read_text())
    assert antrea["nodeIPAM"] == {"enable": True, "clusterCIDRs": ["10.244.0.0/16"]}
    assert not list(out.glob("rendered/*/manifests/10-metallb-pool.yaml"))  # Azure's LoadBalancer, no MetalLB


def test_nothing_billable_without_a_yes(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(lifecycle, "require", lambda *args, **kwargs: None)
    with pytest.raises(PrerequisiteError, match="confirm with --yes"):
        commands.run(EXAMPLE, stdin=io.StringIO(""))  # not a terminal
    out = capsys.readouterr().out
    assert "resource group rg<run>antrea, AKS cluster cluster<run>antrea with 2 x Standard_A2_v2" in out

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert commands.run(EXAMPLE, stdin=Terminal("no\n")) == 2
    assert "not confirmed: nothing was created" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_tfvars_helper_writes_only_module_variables():
    spec = parse_spec(load_spec_data(EXAMPLE))
    assert set(aks_tfvars(spec, "x")) <= set(_blocks(_module(), "variable"))


def test_a_pod_cidr_in_aks_own_ranges_and_a_bad_username_are_refused():
    data = load_spec_data(EXAMPLE)
    with pytest.raises(SpecError, match=r"network.pod_cidr: 10.0.0.0/16 overlaps 10.0.0.0/16, which AKS uses itself"):
        parse_spec({**data, "network": {"pod_cidr": "10.0.0.0/16"}})
    with pytest.raises(SpecError, match=r"aks.username: must be a Linux user name"):
        parse_spec({**data, "aks": {"username": "_admin"}})


def test_the_subscription_is_pinned_once_per_run_and_given_to_terraform(tmp_path, monkeypatch):
    """azurerm 4.x requires a subscription id (PR #26621); a run's apply, destroy and later clean use one."""
    import os
    import stat

    from cnibench.platforms.kube import azure

    monkeypatch.setenv("PATH", str(tmp_path / "no-az"))
    monkeypatch.delenv("ARM_CLIENT_ID", raising=False)
    monkeypatch.setenv("ARM_SUBSCRIPTION_ID", "0f0e0d0c-0000-4000-8000-00000000abcd")
    state = tmp_path / "cnib0000"
    pinned = azure.pin_subscription(state)
    assert pinned.id.endswith("abcd") and pinned.source == "ARM_SUBSCRIPTION_ID" and pinned.name is None
    path = state / azure.SUBSCRIPTION_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    monkeypatch.setenv("ARM_SUBSCRIPTION_ID", "11111111-0000-4000-8000-000000000000")  # changed mid-run
    assert azure.pin_subscription(state).id.endswith("abcd")
    assert azure.pinned_subscription(state) == {"ARM_SUBSCRIPTION_ID": "0f0e0d0c-0000-4000-8000-00000000abcd"}
    spec_id = "22222222-0000-4000-8000-000000000000"
    assert azure.resolve_subscription(spec_id, environ=os.environ).id == spec_id  # the spec's wins


def test_a_subscription_id_in_the_spec_must_be_one():
    data = load_spec_data(EXAMPLE)
    with pytest.raises(SpecError, match=r"aks.subscription_id: .*must be a subscription id"):
        parse_spec({**data, "aks": {"subscription_id": "Thesis subscription"}})
