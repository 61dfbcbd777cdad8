"""What a first real run on kind, AKS or an existing cluster would have hit (issue 12), checked on what cnibench
renders and on the roles it runs: each test fails on the code before the fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from kube_examples import step, write_example

from cnibench import commands, pins
from cnibench.plan import make_plan
from cnibench.platforms import get_platform
from cnibench.spec import load_spec_data, parse_spec

ROOT = Path(__file__).resolve().parents[4]
ROLES = ROOT / "src" / "cnibench" / "ansible" / "collections" / "ansible_collections" / "cnibench" / "bench" / "roles"


def _render(tmp_path: Path, example: str, **changes: Any) -> Path:
    out = tmp_path / "out"
    assert commands.render(write_example(tmp_path, example, **changes), out) == 0
    return out


def _tasks(path: Path) -> list[dict[str, Any]]:
    return list(yaml.safe_load(path.read_text()))


def _cluster(out: Path, cni: str) -> dict[str, Any]:
    clusters = json.loads((out / "vars.json").read_text())["cnibench_clusters"]
    return next(c for c in clusters if c["cni"] == cni)


def test_envoy_gateway_crds_are_rendered_and_applied_server_side_never_a_helm_release(tmp_path):
    """gateway-crds-helm v1.7.5 as a Helm release: a 1.58 MB Secret, over the 1 MiB limit (envoyproxy/gateway#6105)."""
    tasks = _tasks(ROLES / "ingress" / "tasks" / "envoy.yml")
    helm_charts = [t["kubernetes.core.helm"]["chart_ref"] for t in tasks if "kubernetes.core.helm" in t]
    assert helm_charts == ["{{ step.envoy_gateway.chart_ref }}"]  # the controller only
    template = next(t["kubernetes.core.helm_template"] for t in tasks if "kubernetes.core.helm_template" in t)
    assert template["chart_ref"] == "{{ step.envoy_gateway.crds.chart_ref }}"
    apply = next(t for t in tasks if "kubernetes.core.k8s" in t)["kubernetes.core.k8s"]
    assert apply["apply"] is True and apply["server_side_apply"] == {"field_manager": "cnibench"}
    assert apply["wait_condition"] == {"type": "Established", "status": "True"}
    install = next(t["kubernetes.core.helm"] for t in tasks if "kubernetes.core.helm" in t)
    assert install["skip_crds"] is True
    out = _render(tmp_path, "kind-antrea-vs-cilium.yaml")
    crds = step(_cluster(out, "antrea"), "ingress")["envoy_gateway"]["crds"]
    assert crds["chart_ref"] == "oci://docker.io/envoyproxy/gateway-crds-helm" and crds["version"] == "v1.7.5"
    assert Path(crds["dest"]).is_relative_to(out / "rendered" / "antrea")  # kept with the run, re-appliable
    values = yaml.safe_load(Path(crds["values"]).read_text())
    assert values == {"crds": {"gatewayAPI": {"enabled": False}, "envoyGateway": {"enabled": True}}}


def test_metallb_runs_without_frr_k8s(tmp_path):
    out = _render(tmp_path, "kind-antrea-vs-cilium.yaml")
    metallb = step(_cluster(out, "cilium"), "metallb")
    merged: dict[str, Any] = {}
    for path in metallb["values"]:
        merged.update(yaml.safe_load(Path(path).read_text()))
    assert merged["frrk8s"] == {"enabled": False} and merged["crds"] == {"enabled": True}
    (task,) = [t for t in _tasks(ROLES / "metallb" / "tasks" / "main.yml") if "kubernetes.core.helm" in t]
    assert task["kubernetes.core.helm"]["values_files"] == "{{ step.values }}"


def test_cnibench_namespace_is_privileged_for_node_exporter(tmp_path):
    out = _render(tmp_path, "kubeconfig.yaml")
    (namespace,) = yaml.safe_load_all((out / "rendered" / "cilium" / "manifests" / "00-namespace.yaml").read_text())
    labels = namespace["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "privileged"
    assert labels["app.kubernetes.io/managed-by"] == "cnibench"


@pytest.mark.parametrize("port", [None, 19555])
def test_node_exporter_listens_on_cnibench_own_port(tmp_path, port):
    changes = {} if port is None else {"kubernetes__node_exporter_port": port}
    out = _render(tmp_path, "kubeconfig.yaml", **changes)
    expected = port or 19100
    docs = list(yaml.safe_load_all((out / "rendered" / "cilium" / "manifests" / "20-monitoring.yaml").read_text()))
    daemonset = next(d for d in docs if d["kind"] == "DaemonSet")
    (container,) = daemonset["spec"]["template"]["spec"]["containers"]
    assert f"--web.listen-address=:{expected}" in container["args"]
    assert container["ports"] == [{"name": "metrics", "containerPort": expected}]
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"  # "address already in use" in the status
    config = yaml.safe_load(next(d for d in docs if d["kind"] == "ConfigMap")["data"]["prometheus.yml"])
    assert {"replacement": f"$1:{expected}"}.items() <= config["scrape_configs"][0]["relabel_configs"][1].items()
    assert _cluster(out, "cilium")["monitoring"]["metrics"]["exporter_port"] == expected


def test_a_node_exporter_port_outside_the_range_is_one_line():
    from cnibench.errors import SpecError

    data = load_spec_data(ROOT / "examples" / "kubeconfig.yaml")
    data["kubernetes"]["node_exporter_port"] = 40000
    with pytest.raises(SpecError, match=r"^k.yaml: kubernetes.node_exporter_port: .*less than or equal to 32767"):
        parse_spec(data, "k.yaml")


def test_kind_checks_its_network_right_after_creating_the_cluster_and_preloads_images(capsys):
    assert commands.plan(ROOT / "examples" / "kind-antrea-vs-cilium.yaml") == 0
    steps = [
        line.split(". ", 1)[1]
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("  ") and ". [" in line
    ]
    antrea = [s for s in steps if s.startswith("[antrea]")]
    assert antrea[0].startswith("[antrea] create kind cluster")
    assert antrea[1].startswith("[antrea] check kind's docker network is network.node_cidr 172.18.0.0/16")
    assert antrea[2].startswith("[antrea] preload 8 Docker Hub images")
    assert antrea[3].startswith("[antrea] helm install antrea")
    envoy = next(i for i, s in enumerate(antrea) if "render Envoy Gateway v1.7.5's own CRDs" in s)
    assert "apply them server-side" in antrea[envoy] and antrea[envoy + 1].endswith("--skip-crds")


def test_the_images_preloaded_are_those_the_cluster_runs(tmp_path):
    spec = parse_spec(load_spec_data(ROOT / "examples" / "kind-antrea-vs-cilium.yaml"))
    compiled = get_platform("kind").compile(make_plan(spec), run_dir=tmp_path, prefix="cnib0000")
    compiled.write()
    antrea_cluster = compiled.extravars["cnibench_clusters"][0]
    antrea = antrea_cluster["create"]["preload"]["images"]
    assert antrea[:2] == ["antrea/antrea-agent-ubuntu:v2.7.0", "antrea/antrea-controller-ubuntu:v2.7.0"]
    assert "docker.io/envoyproxy/envoy:distroless-v1.37.5" in antrea and "docker.io/envoyproxy/gateway:v1.7.5" in antrea
    assert pins.IPERF3_IMAGE in antrea and pins.ECHO_IMAGE in antrea
    only_ingress = get_platform("kind").compile(make_plan(spec, ["ingress"]), run_dir=tmp_path, prefix="cnib0000")
    cilium = only_ingress.extravars["cnibench_clusters"][1]["create"]["preload"]["images"]
    assert not any("antrea" in i or "netshoot" in i for i in cilium) and pins.ECHO_IMAGE in cilium
    assert not Path(antrea_cluster["create"]["preload"]["archive_dir"]).is_relative_to(tmp_path)  # not the results
    # the Antrea chart deploys exactly the tags that were preloaded
    values = yaml.safe_load(Path(antrea_cluster["cni_chart"]["values"]).read_text())
    deployed = [f"{values[k]['repository']}:{values[k]['tag']}" for k in ("agentImage", "controllerImage")]
    assert deployed == antrea[:2]


def test_kubeconfig_with_cilium_gateway_is_checked_before_anything_is_created(tmp_path):
    out = _render(tmp_path, "kubeconfig.yaml", kubernetes__gateway_implementation="cilium", scenarios__egress=None)
    cluster = _cluster(out, "cilium")
    assert cluster["info"]["cni_gateway"] is True
    (info, namespace, encryption) = _tasks(ROLES / "cluster" / "tasks" / "main.yml")
    assert "cnibench.bench.kube_encryption" in encryption  # reads, creates nothing
    assert info["cnibench.bench.kube_cluster_info"]["cni_gateway"] == "{{ cluster.info.cni_gateway }}"
    assert "kubernetes.core.k8s" in namespace  # the first thing created comes after the check
    (tmp_path / "envoy").mkdir()
    assert _cluster(_render(tmp_path / "envoy", "kubeconfig.yaml"), "cilium")["info"]["cni_gateway"] is False


def test_aks_runs_pin_their_subscription_and_pass_it_to_apply_and_destroy(tmp_path):
    spec = parse_spec(load_spec_data(ROOT / "examples" / "aks.yaml"))
    compiled = get_platform("aks").compile(make_plan(spec), run_dir=tmp_path, prefix="cnib0000")
    terraform = compiled.extravars["cnibench_clusters"][0]["create"]["terraform"]
    assert terraform["subscription_id"] is None and not Path(terraform["state_dir"]).is_relative_to(tmp_path)
    assert any("pin the subscription billed for the whole run" in step for step in compiled.steps)
    main = _tasks(ROLES / "aks" / "tasks" / "main.yml")
    assert "cnibench.bench.aks_subscription" in main[0]
    for tasks in (main, _tasks(ROLES / "aks" / "tasks" / "destroy.yml")):
        (terraform_task,) = [t for t in tasks if "community.general.terraform" in t]
        assert "azure-subscription" in terraform_task["environment"]["ARM_SUBSCRIPTION_ID"]


def test_k6_reaches_the_gateway_without_a_proxy(tmp_path):
    out = _render(tmp_path, "kind-antrea-vs-cilium.yaml", kubernetes__k6_in_container=True)
    (trial,) = step(_cluster(out, "cilium"), "ingress")["trials"]
    for run in trial["runs"]:
        assert run["no_proxy"] == ["@address@"]
        assert "NO_PROXY=@address@" in run["argv"]  # k6 in a container: Docker's own proxy settings
    (task,) = _tasks(ROLES / "measure" / "tasks" / "main.yml")
    assert task["cnibench.bench.kube_measure"]["no_proxy"] == "{{ run.no_proxy }}"
