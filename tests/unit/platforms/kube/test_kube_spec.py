"""The kind and kubeconfig platforms' spec checks: bad input is one line naming the field, before anything runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from kube_examples import example_with

from cnibench import pins
from cnibench.errors import SpecError
from cnibench.platforms.kube.cnis import CNIS
from cnibench.platforms.kube.settings import kube_settings
from cnibench.spec import load_spec_data, parse_spec

ROOT = Path(__file__).resolve().parents[4]
KIND_EXAMPLE = ROOT / "examples" / "kind-antrea-vs-cilium.yaml"
KUBECONFIG_EXAMPLE = ROOT / "examples" / "kubeconfig.yaml"


def _kind(**changes: Any) -> dict[str, Any]:
    return example_with("kind-antrea-vs-cilium.yaml", **changes)


def test_kind_example_resolves_addresses_at_the_top_of_kinds_network():
    spec = parse_spec(load_spec_data(KIND_EXAMPLE))
    assert spec.on_kubernetes and kube_settings(spec).gateway_implementation == "envoy-gateway"
    assert str(spec.network.node_cidr) == "172.18.0.0/16"
    eg, ing = spec.scenarios.egress, spec.scenarios.ingress
    assert eg is not None and ing is not None
    assert (str(ing.lb_ip), str(eg.egress_ip), str(eg.server_ip)) == (
        "172.18.255.254",
        "172.18.255.253",
        "172.18.255.252",
    )
    assert kube_settings(spec).node_image == pins.KIND_NODE_IMAGE


def test_kind_defaults_node_cidr_to_kinds_network_when_not_given():
    spec = parse_spec(_kind(network=None))
    assert str(spec.network.node_cidr) == "172.18.0.0/16"


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        # weave (Weave Net, archived upstream): a CNI cnibench will not have; the valid ones are the registered ones
        ({"cnis": ["antrea", "weave"]}, "cnis[1]", f"unknown CNI 'weave' for platform kind; valid: {', '.join(CNIS)}"),
        (
            {"kubernetes__gateway_implementation": "cilium"},
            "kubernetes.gateway_implementation",
            "unsupported CNI/gateway combination",
        ),
        ({"kubernetes__gateway_implementation": "nginx"}, "kubernetes.gateway_implementation", "'envoy-gateway'"),
        ({"kubernetes__versions__cilium": "latest"}, "kubernetes.versions.cilium", "is not a version"),
        ({"kubernetes__versions__antrea": "2.7"}, "kubernetes.versions.antrea", "is not a version"),
        ({"kubernetes__node_image": "kindest/node:v1.35.0"}, "kubernetes.node_image", "pinned by digest"),
        ({"scenarios__egress__egress_ip": "10.0.0.5"}, "scenarios.egress.egress_ip", "outside kind's network"),
        ({"scenarios__egress__egress_ip": "172.18.0.3"}, "scenarios.egress.egress_ip", "docker gives"),
        (
            {"scenarios__egress__server_ip": "172.18.255.254"},
            "scenarios.egress.server_ip",
            "already the lb_ip",
        ),
        ({"scenarios__egress__external_cidr": "203.0.113.0/24"}, "scenarios.egress.external_cidr", "only on netns"),
        ({"kubernetes__namespace": "kube-system"}, "kubernetes.namespace", "not a kube- namespace"),
        ({"kubernetes__node_uplinks": 'eth0"'}, "kubernetes.node_uplinks", "quotes"),
        ({"network__node_cidr": "172.18.0.0/28"}, "network.node_cidr", "/27 or larger"),
    ],
)
def test_bad_kind_input_is_one_line_naming_the_field(changes, field, words):
    with pytest.raises(SpecError) as info:
        parse_spec(_kind(**changes), "kind.yaml")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"kind.yaml: {field}: ")
    assert words in message


def test_cilium_gateway_is_fine_when_every_cni_is_cilium():
    spec = parse_spec(_kind(cnis=["cilium"], kubernetes__gateway_implementation="cilium"))
    assert kube_settings(spec).gateway_implementation == "cilium"


def test_kubernetes_section_is_refused_on_netns():
    data = yaml.safe_load((ROOT / "examples" / "local.yaml").read_text())
    data["kubernetes"] = {"namespace": "x"}
    with pytest.raises(SpecError, match=r"kubernetes: only for the platforms kind, kubeconfig"):
        parse_spec(data)


def test_kubeconfig_needs_one_cni_and_the_egress_addresses():
    data = load_spec_data(KUBECONFIG_EXAMPLE)
    spec = parse_spec(data)
    assert spec.cnis == ["cilium"] and kube_settings(spec).namespace == "cnibench"
    with pytest.raises(SpecError, match=r"cnis: kubeconfig runs on one existing cluster"):
        parse_spec({**data, "cnis": ["cilium", "antrea"]})
    assert spec.scenarios.egress is not None and spec.scenarios.egress.egress_ip is None  # Cilium: the node's own
    with pytest.raises(SpecError, match=r"scenarios.egress.egress_ip: required on kubeconfig: .* Antrea"):
        parse_spec({**data, "cnis": ["antrea"]})
    del data["scenarios"]["egress"]["server_ip"]
    with pytest.raises(SpecError, match=r"scenarios.egress.server_ip: required on kubeconfig"):
        parse_spec(data)
