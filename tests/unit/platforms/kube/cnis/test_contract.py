"""The descriptor contract beyond Antrea's and Cilium's needs, exercised with a stand-in descriptor (Antrea's with the
new fields set): a CNI whose agent runs in another namespace than its release, whose release lives in a namespace of
its own, whose CRDs come from a chart applied server-side first, whose operator reads objects applied after the
release and reports readiness, that needs reference CNI plugins kind's nodes lack, and that lacks a capability. All of
it is declared in the descriptor; the platform renders it without knowing the CNI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from cnibench import commands, pins
from cnibench.errors import SpecError
from cnibench.platforms.kube.base import check_capabilities
from cnibench.platforms.kube.cnis import CNIS
from cnibench.platforms.kube.cnis.antrea import Antrea
from cnibench.platforms.kube.cnis.base import (
    Agent,
    Capability,
    Chart,
    Condition,
    CrdChart,
    EgressGateway,
    KindValues,
)
from cnibench.platforms.kube.render import PRIVILEGED
from cnibench.spec import load_spec_data, parse_spec
from cnibench.spec.base import FieldError

EXAMPLES = Path(__file__).resolve().parents[5] / "examples"


def write_example(directory: Path, example: str, *, cnis: list[str], egress: bool = True) -> Path:
    """An example spec measuring ``cnis`` (their versions the defaults), with or without egress, as a file."""
    data = load_spec_data(EXAMPLES / example)
    data["cnis"] = cnis
    data["kubernetes"].pop("versions", None)
    if not egress:
        data["scenarios"].pop("egress")
    path = directory / "spec.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


class OperatorCni(Antrea):
    """Antrea's descriptor dressed as an operator-installed CNI with no egress gateway (a stand-in: the registry's
    ``antrea`` entry is swapped for it in these tests)."""

    chart: ClassVar[Chart] = Chart("op", "https://charts.example.org", "op-operator", "op", version_prefix="v",
                                   create_namespace=True)  # fmt: skip
    agent: ClassVar[Agent] = Agent("op-node", "op-node", namespace="op-system")
    crds: ClassVar[CrdChart | None] = CrdChart("op-crds", "https://charts.example.org", "op-crds")
    ready: ClassVar[tuple[Condition, ...]] = (Condition("example.org/v1", "OpStatus", "op", "Available"),)
    kind_cni_plugins: ClassVar[tuple[str, ...]] = ("bridge",)
    egress: ClassVar[EgressGateway | None] = None
    lacks: ClassVar[dict[Capability, str]] = {Capability.EGRESS_GATEWAY: "a paid feature"}

    def kind_objects(self, cluster: KindValues) -> list[dict[str, Any]]:
        return [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "op"}, "data": {"cidr": cluster.pod_cidr}}
        ]


@pytest.fixture
def operator_cni(monkeypatch: pytest.MonkeyPatch) -> OperatorCni:
    CNIS.names()  # discover the registered CNIs first
    stand_in = OperatorCni()
    monkeypatch.setitem(CNIS._parts, "antrea", stand_in)
    return stand_in


def test_capabilities_follow_the_descriptor():
    for cni in CNIS.values():
        assert Capability.POD_NETWORK in cni.capabilities
        assert (Capability.EGRESS_GATEWAY in cni.capabilities) is (cni.egress is not None)
        assert (Capability.GATEWAY_API in cni.capabilities) is (cni.gateway_api is not None)
        assert (Capability.NETWORK_POLICY in cni.capabilities) is cni.network_policy
    assert OperatorCni().capabilities == {Capability.POD_NETWORK, Capability.NETWORK_POLICY}
    assert {n for n in CNIS.names() if Capability.NETWORK_POLICY in CNIS.get(n).capabilities} == {
        "antrea",
        "calico",
        "cilium",
    }


def test_a_missing_capability_is_one_line_naming_the_cni_the_capability_and_why():
    cilium = CNIS.get("cilium")
    check_capabilities([cilium], "egress", (Capability.POD_NETWORK, Capability.EGRESS_GATEWAY))
    with pytest.raises(FieldError) as caught:
        check_capabilities([cilium, OperatorCni()], "egress", (Capability.POD_NETWORK, Capability.EGRESS_GATEWAY))
    assert caught.value.loc == ("cnis", 1)
    assert str(caught.value) == (
        "antrea has no egress gateway (capability egress_gateway: a paid feature), which the egress scenario needs: "
        "leave antrea out, or run only the other scenarios"
    )
    check_capabilities([OperatorCni()], "ingress", (Capability.POD_NETWORK,))


def test_flannel_is_refused_for_network_policy_naming_why():
    needs = (Capability.POD_NETWORK, Capability.NETWORK_POLICY)
    check_capabilities([CNIS.get(n) for n in ("antrea", "calico", "cilium")], "network-policy", needs)
    with pytest.raises(FieldError) as caught:
        check_capabilities([CNIS.get("cilium"), CNIS.get("flannel")], "network-policy", needs)
    assert caught.value.loc == ("cnis", 1)
    assert str(caught.value) == (
        "flannel has no NetworkPolicy enforcement (capability network_policy: Flannel does not implement "
        'NetworkPolicy; its README: "For network policy, other projects such as Calico can be used"), which the '
        "network-policy scenario needs: leave flannel out, or run only the other scenarios"
    )


def test_the_spec_refuses_egress_for_a_cni_without_an_egress_gateway(tmp_path, operator_cni):
    spec = yaml.safe_load(write_example(tmp_path, "kind-antrea-vs-cilium.yaml", cnis=["cilium", "antrea"]).read_text())
    with pytest.raises(SpecError, match=r"^kind\.yaml: cnis\[1\]: antrea has no egress gateway \(capability "
                       r"egress_gateway: a paid feature\), which the egress scenario needs[^\n]*$"):  # fmt: skip
        parse_spec(spec, "kind.yaml")
    spec["scenarios"].pop("egress")
    parse_spec(spec, "kind.yaml")


def test_what_the_descriptor_declares_is_rendered_for_the_playbook(tmp_path, operator_cni):
    spec = write_example(tmp_path, "kind-antrea-vs-cilium.yaml", cnis=["antrea"], egress=False)
    out = tmp_path / "out"
    assert commands.render(spec, out) == 0
    (built,) = json.loads((out / "vars.json").read_text())["cnibench_clusters"]
    chart = built["cni_chart"]
    assert chart["version"] == f"v{operator_cni.version}"  # as the chart repository spells it
    assert (chart["namespace"], chart["agent"], chart["agent_namespace"]) == ("op-operator", "op-node", "op-system")
    assert chart["crds"]["chart_ref"] == "op-crds" and chart["crds"]["version"] == f"v{operator_cni.version}"
    assert chart["ready"] == [
        {"api_version": "example.org/v1", "kind": "OpStatus", "name": "op", "type": "Available", "namespace": None}
    ]
    (namespace,) = yaml.safe_load_all(Path(chart["namespace_manifest"]).read_text())
    assert (
        namespace["metadata"]["name"] == "op-operator" and PRIVILEGED.items() <= namespace["metadata"]["labels"].items()
    )
    (objects,) = yaml.safe_load_all(Path(chart["objects"]).read_text())
    assert objects["data"] == {"cidr": "10.244.0.0/16"}  # the spec's pod CIDR reached the descriptor
    plugins = built["create"]["cni_plugins"]
    assert set(plugins["downloads"]) == {"x86_64", "aarch64"}
    assert plugins["downloads"]["x86_64"] == {
        "url": "https://github.com/containernetworking/plugins/releases/download/v1.9.1/cni-plugins-linux-amd64-"
        "v1.9.1.tgz",
        "checksum": f"sha256:{pins.CNI_PLUGINS_SHA256['amd64']}",
    }
    config = yaml.safe_load((out / "rendered" / "antrea" / "kind" / "config.yaml").read_text())
    mounts = [node["extraMounts"] for node in config["nodes"]]
    assert len(mounts) == 3 and all(m == mounts[0] for m in mounts)
    assert mounts[0] == [
        {"hostPath": f"{plugins['dir']}/bin/bridge", "containerPath": "/opt/cni/bin/bridge", "readOnly": True}
    ]


def test_a_cni_that_declares_none_of_it_renders_as_before(tmp_path):
    spec = write_example(tmp_path, "kind-antrea-vs-cilium.yaml", cnis=["cilium"])
    out = tmp_path / "out"
    assert commands.render(spec, out) == 0
    (built,) = json.loads((out / "vars.json").read_text())["cnibench_clusters"]
    chart = built["cni_chart"]
    assert chart["version"] == pins.CILIUM and chart["agent_namespace"] == "kube-system"
    assert chart["crds"] is None and chart["namespace_manifest"] is None and chart["objects"] is None
    assert chart["ready"] == [] and built["create"]["cni_plugins"] is None
    config = yaml.safe_load((out / "rendered" / "cilium" / "kind" / "config.yaml").read_text())
    assert all("extraMounts" not in node for node in config["nodes"])
