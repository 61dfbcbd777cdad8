"""Calico and Flannel on kind, on an existing cluster and (Calico) on AKS: what their descriptors render, checked
offline (no cluster can run here), and egress refused for them in one line naming the capability, exit 2, nothing
created."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from cnibench import cli, commands, pins
from cnibench.errors import SpecError
from cnibench.platforms.kube import cluster
from cnibench.platforms.kube.cnis import CNIS
from cnibench.platforms.kube.cnis.base import Capability, KindValues
from cnibench.spec import load_spec_data

EXAMPLES = Path(__file__).resolve().parents[5] / "examples"


def _spec(tmp_path: Path, example: str, cnis: list[str], *, egress: bool) -> Path:
    data = load_spec_data(EXAMPLES / example)
    data["cnis"] = cnis
    data["kubernetes"].pop("versions", None)
    if not egress:
        data["scenarios"].pop("egress", None)
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _render(tmp_path: Path, example: str, cnis: list[str]) -> tuple[Path, dict[str, dict[str, Any]]]:
    out = tmp_path / "out"
    assert commands.render(_spec(tmp_path, example, cnis, egress=False), out) == 0
    built = json.loads((out / "vars.json").read_text())["cnibench_clusters"]
    return out, {c["cni"]: c for c in built}


def test_pinned_versions_as_their_chart_repositories_spell_them():
    calico, flannel = CNIS.get("calico"), CNIS.get("flannel")
    assert (pins.CALICO, pins.FLANNEL) == ("3.32.1", "0.28.9")
    assert calico.chart_version(calico.version) == "v3.32.1" and flannel.chart_version(flannel.version) == "v0.28.9"
    # east-west and ingress (Envoy Gateway) need no more than the pod network; Calico enforces NetworkPolicy
    assert calico.capabilities == {Capability.POD_NETWORK, Capability.NETWORK_POLICY}
    assert flannel.capabilities == {Capability.POD_NETWORK}


def test_calico_is_the_operator_with_crds_first_and_an_installation_of_the_spec_pod_cidr(tmp_path):
    out, built = _render(tmp_path, "kind-antrea-vs-cilium.yaml", ["calico"])
    chart = built["calico"]["cni_chart"]
    assert (chart["chart_ref"], chart["repo"], chart["version"]) == (
        "tigera-operator",
        "https://docs.tigera.io/calico/charts",
        "v3.32.1",
    )
    assert (chart["namespace"], chart["agent"], chart["agent_namespace"]) == (
        "tigera-operator",
        "calico-node",
        "calico-system",
    )
    assert chart["crds"]["chart_ref"] == "crd.projectcalico.org.v1" and chart["crds"]["version"] == "v3.32.1"
    assert chart["ready"] == [
        {
            "api_version": "operator.tigera.io/v1",
            "kind": "TigeraStatus",
            "name": "calico",
            "type": "Available",
            "namespace": None,
        }
    ]
    # the chart renders no custom resources of its own: cnibench's Installation is the one
    values = yaml.safe_load(Path(chart["values"]).read_text())
    assert all(values[key] == {"enabled": False} for key in ("installation", "apiServer", "goldmane", "whisker"))
    (installation,) = yaml.safe_load_all(Path(chart["objects"]).read_text())
    assert (installation["kind"], installation["metadata"]["name"]) == ("Installation", "default")
    (pool,) = installation["spec"]["calicoNetwork"]["ipPools"]
    assert (pool["cidr"], pool["encapsulation"]) == ("10.244.0.0/16", "VXLAN")
    assert "kubernetesProvider" not in installation["spec"]  # detected on kind, as Calico's kind CI leaves it
    (namespace,) = yaml.safe_load_all(Path(chart["namespace_manifest"]).read_text())
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    config = yaml.safe_load((out / "rendered" / "calico" / "kind" / "config.yaml").read_text())
    assert config["networking"]["podSubnet"] == pool["cidr"] and "kubeProxyMode" not in config["networking"]
    assert all("extraMounts" not in node for node in config["nodes"])  # Calico brings its own CNI plugins


def test_calico_on_aks_is_tigeras_self_managed_installation(tmp_path):
    _, built = _render(tmp_path, "aks.yaml", ["calico"])
    (installation,) = yaml.safe_load_all(Path(built["calico"]["cni_chart"]["objects"]).read_text())
    spec = installation["spec"]
    assert spec["kubernetesProvider"] == "AKS" and spec["calicoNetwork"]["bgp"] == "Disabled"
    assert spec["calicoNetwork"]["ipPools"][0]["encapsulation"] == "VXLAN"


def test_flannel_is_its_chart_with_the_bridge_plugin_mounted_into_kind_nodes(tmp_path):
    out, built = _render(tmp_path, "kind-antrea-vs-cilium.yaml", ["flannel"])
    chart = built["flannel"]["cni_chart"]
    assert (chart["chart_ref"], chart["repo"], chart["version"], chart["namespace"]) == (
        "flannel",
        "https://flannel-io.github.io/flannel/",
        "v0.28.9",
        "kube-flannel",
    )
    assert chart["agent_namespace"] == "kube-flannel" and chart["crds"] is None and chart["objects"] is None
    assert yaml.safe_load(Path(chart["values"]).read_text()) == {"podCidr": "10.244.0.0/16",
                                                                  "flannel": {"backend": "vxlan"}}  # fmt: skip
    config = yaml.safe_load((out / "rendered" / "flannel" / "kind" / "config.yaml").read_text())
    plugins = built["flannel"]["create"]["cni_plugins"]
    for node in config["nodes"]:
        assert node["extraMounts"] == [
            {"hostPath": f"{plugins['dir']}/bin/bridge", "containerPath": "/opt/cni/bin/bridge", "readOnly": True}
        ]


def test_flannel_values_follow_the_spec_pod_cidr():
    flannel = CNIS.get("flannel")
    values = flannel.kind_values(KindValues(flannel.version, "x-control-plane", 6443, False, "10.32.0.0/16"))
    assert values["podCidr"] == "10.32.0.0/16"


@pytest.mark.parametrize(
    ("name", "daemonset", "namespace"),
    [("calico", "calico-node", "calico-system"), ("flannel", "kube-flannel-ds", "kube-flannel")],
)
def test_an_existing_cluster_running_it_is_recognised_with_its_version(name, daemonset, namespace):
    cni = CNIS.get(name)
    item = {
        "metadata": {"name": daemonset, "namespace": namespace},
        "spec": {"template": {"spec": {"containers": [{"name": cni.agent.container, "image": f"r/x:v{cni.version}"}]}}},
    }
    assert cluster.detect_cni({"items": [item]}) == (name, cni.version)
    assert cluster.cni_namespace({"items": [item]}, name) == namespace


@pytest.mark.parametrize(
    ("example", "cnis"),
    [("kind-antrea-vs-cilium.yaml", ["cilium", "flannel"]), ("kubeconfig.yaml", ["flannel"])],
)
def test_egress_with_flannel_is_one_line_exit_2_and_nothing_created(capsys, tmp_path, monkeypatch, example, cnis):
    monkeypatch.chdir(tmp_path)
    spec = _spec(tmp_path, example, cnis, egress=True)
    index = len(cnis) - 1
    for command in ("run", "plan"):
        assert cli.main([command, str(spec)]) == 2
        err = capsys.readouterr().err
        assert re.fullmatch(
            rf"cnibench: error: {re.escape(str(spec))}: cnis\[{index}\] \(line \d+\): flannel has no egress gateway "
            r"\(capability egress_gateway: Flannel has none\), which the egress scenario needs: leave flannel out, or "
            r"run only the other scenarios\n",
            err,
        ), err
    assert [p.name for p in tmp_path.iterdir()] == ["spec.yaml"]  # no results directory


def test_egress_with_calico_names_what_calico_lacks(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = _spec(tmp_path, "kind-antrea-vs-cilium.yaml", ["calico"], egress=True)
    assert cli.main(["plan", str(spec)]) == 2
    assert (
        ": calico has no egress gateway (capability egress_gateway: Calico's egress gateway is a "
        "Calico Enterprise and Calico Cloud feature)"
    ) in capsys.readouterr().err


def test_flannel_is_not_installed_on_aks(tmp_path):
    """Flannel on AKS bring-your-own-CNI is documented nowhere (its kube subnet manager needs each node's podCIDR)."""
    spec = _spec(tmp_path, "aks.yaml", ["flannel"], egress=False)
    with pytest.raises(SpecError, match=r"cnis\[0\] \(line \d+\): cnibench cannot install flannel on aks"):
        commands.render(spec, tmp_path / "out")
