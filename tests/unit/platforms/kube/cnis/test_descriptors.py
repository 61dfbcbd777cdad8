"""The contract every CNI descriptor keeps, checked for each registered CNI (a new CNI's module is checked here with
no edit): its pin and chart, its agent recognised on a cluster, a kind run of it rendered end to end, what teardown
deletes of it, and the spec refusing, in one line, what it cannot do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from cnibench import commands
from cnibench.errors import SpecError
from cnibench.platforms import get_platform
from cnibench.platforms.kube import cluster, gateways, teardown
from cnibench.platforms.kube.cnis import CNIS
from cnibench.platforms.kube.cnis.base import AksValues, EgressPolicy, KindValues
from cnibench.platforms.kube.settings import KubernetesVersions
from cnibench.spec import load_spec_data, parse_spec
from cnibench.spec.base import VERSION

NAMES = CNIS.names()
EXAMPLES = Path(__file__).resolve().parents[5] / "examples"


def example_with(example: str, *, cnis: list[str]) -> dict[str, Any]:
    """An example spec measuring ``cnis`` only (its pinned versions of the other CNIs left out: the defaults)."""
    data = load_spec_data(EXAMPLES / example)
    data["cnis"] = cnis
    data.get("kubernetes", {}).pop("versions", None)
    return data


@pytest.mark.parametrize("name", NAMES)
def test_every_cni_is_registered_under_its_name_with_its_pin(name):
    cni = CNIS.get(name)
    assert cni.name == name and cni.title and VERSION.match(cni.version)
    assert KubernetesVersions().chart(name) == cni.version  # kubernetes.versions.<name> defaults to its pin
    assert cni.chart.ref and cni.chart.namespace and cni.chart.release
    assert cni.agent.daemonset and cni.agent.container
    for platform in ("kind", "kubeconfig", "aks"):
        assert name in get_platform(platform).cnis()


@pytest.mark.parametrize("name", NAMES)
def test_its_agent_tells_the_cni_and_its_version_on_a_cluster(name):
    cni = CNIS.get(name)
    daemonset = {
        "metadata": {"name": cni.agent.daemonset, "namespace": cni.chart.namespace},
        "spec": {"template": {"spec": {"containers": [{"name": cni.agent.container, "image": f"x/y:v{cni.version}"}]}}},
    }
    assert cluster.detect_cni({"items": [daemonset]}) == (name, cni.version)


@pytest.mark.parametrize("name", NAMES)
def test_its_values_are_data_and_its_egress_objects_are_deleted_by_teardown(name):
    cni = CNIS.get(name)
    for values in (
        cni.kind_values(KindValues(cni.version, "cnib0000-x-control-plane", 6443, False, "10.244.0.0/16")),
        cni.aks_values(AksValues(cni.version, "10.244.0.0/16")),
    ):
        assert values is None or yaml.safe_load(yaml.safe_dump(values)) == values
    assert set(cni.cluster_kinds) <= set(teardown.cluster_kinds())
    if cni.egress is None:
        return
    policy = EgressPolicy("cnibench-egress", "cnibench", {"app": "client"}, "172.18.255.252/32", "172.18.255.253",
                          "cnibench.io/egress-gateway")  # fmt: skip
    objects = cni.egress_policy(policy)
    # cluster-scoped objects (no namespace) carry cnibench's label, and teardown knows their group
    groups = {kind.split(".", 1)[1] for kind in cni.cluster_kinds}
    for obj in objects:
        assert "namespace" not in obj["metadata"] and obj["metadata"]["labels"]
        assert obj["apiVersion"].split("/")[0] in groups


@pytest.mark.parametrize("name", NAMES)
def test_a_kind_run_of_it_renders_end_to_end(tmp_path, name):
    cni = CNIS.get(name)
    data = example_with("kind-antrea-vs-cilium.yaml", cnis=[name])
    if cni.egress is None:
        data["scenarios"].pop("egress")
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    assert commands.render(spec, out) == 0
    (built,) = json.loads((out / "vars.json").read_text())["cnibench_clusters"]
    chart = built["cni_chart"]
    assert (chart["release"], chart["namespace"], chart["agent"]) == (
        cni.chart.release,
        cni.chart.namespace,
        cni.agent.daemonset,
    )
    assert chart["version"] == cni.chart_version(cni.version) and built["expected_cni"] == name
    values = yaml.safe_load(Path(chart["values"]).read_text())
    context = KindValues(cni.version, f"{built['cluster']}-control-plane", 6443, False, "10.244.0.0/16")
    assert values == cni.kind_values(context)
    assert set(cni.images(cni.version)) <= set(built["create"]["preload"]["images"])
    config = yaml.safe_load((out / "rendered" / name / "kind" / "config.yaml").read_text())
    assert config["networking"]["disableDefaultCNI"] is True
    assert (config["networking"].get("kubeProxyMode") == "none") is cni.kube_proxy_replacement


@pytest.mark.parametrize("name", NAMES)
def test_what_it_cannot_do_is_refused_from_the_spec_in_one_line(name):
    cni = CNIS.get(name)
    spec = example_with("kind-antrea-vs-cilium.yaml", cnis=[name])
    if cni.egress is None:
        with pytest.raises(SpecError, match=rf"^kind\.yaml: cnis\[0\]: {name} has no egress gateway[^\n]*$"):
            parse_spec(spec, "kind.yaml")
        spec["scenarios"].pop("egress")
    parse_spec(spec, "kind.yaml")
    for implementation in gateways.implementations():
        owner = CNIS.get(implementation) if implementation in CNIS else None
        if owner is None or owner is cni:
            continue
        spec["kubernetes"]["gateway_implementation"] = implementation
        with pytest.raises(SpecError, match=r"^kind\.yaml: kubernetes\.gateway_implementation: unsupported CNI/gate"):
            parse_spec(spec, "kind.yaml")
    aks = example_with("aks.yaml", cnis=[name])
    if cni.aks_values(AksValues(cni.version, "10.244.0.0/16")) is None:
        with pytest.raises(SpecError, match=rf"^aks\.yaml: cnis\[0\]: cnibench cannot install {name} on aks"):
            parse_spec(aks, "aks.yaml")
    else:
        parse_spec(aks, "aks.yaml")


VALIDATOR = Path(__file__).resolve().parents[6] / "shared" / "tools" / "validate_manifests.py"


@pytest.mark.skipif(not VALIDATOR.exists(), reason="../shared (pinned schemas and validator) not here")
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("example", ["kind-antrea-vs-cilium.yaml", "aks.yaml"])
def test_every_object_it_renders_passes_the_upstream_schemas(tmp_path, name, example):
    """Its namespace, the objects its operator reads, its egress policy and everything the scenarios it supports
    apply, strictly against the pinned schemas (../shared/tools/validate_manifests.py)."""
    import subprocess
    import sys

    cni = CNIS.get(name)
    if example == "aks.yaml" and cni.aks_values(AksValues(cni.version, "10.244.0.0/16")) is None:
        pytest.skip(f"cnibench does not install {name} on AKS")
    data = example_with(example, cnis=[name])
    if cni.egress is None:
        data["scenarios"].pop("egress", None)
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    assert commands.render(spec, out) == 0
    manifests = sorted(map(str, out.glob("rendered/*/manifests/*.yaml")))
    result = subprocess.run([sys.executable, str(VALIDATOR), "--strict", "-v", *manifests],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 failed" in result.stdout
