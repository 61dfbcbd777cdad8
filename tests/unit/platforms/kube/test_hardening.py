"""Issue 25's Kubernetes items: an existing cluster's Cilium checked for its egress gateway before anything is
created, the egress source the server sees stated in the spec.

No cluster can run here: the ConfigMaps are built field for field as the Cilium 1.19 chart's
install/kubernetes/cilium/templates/cilium-configmap.yaml renders them (only the keys cnibench reads), and
``kubectl`` is replaced by a function that answers from those documents and records every command."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from kube_documents import KIND_NODES
from kube_examples import write_example

from cnibench import commands
from cnibench.errors import PlatformError
from cnibench.platforms.kube import cluster as cluster_module
from cnibench.platforms.kube import kubectl as kubectl_module
from cnibench.platforms.kube.cnis import cilium
from cnibench.platforms.kube.kubectl import Kubectl

ROOT = Path(__file__).resolve().parents[4]
ROLES = ROOT / "src" / "cnibench" / "ansible" / "collections" / "ansible_collections" / "cnibench" / "bench" / "roles"

#: cilium-config of a Cilium 1.19 installed with the chart's defaults (``egressGateway.enabled: false``,
#: ``kubeProxyReplacement: false``, ``bpf.masquerade`` unset): the template writes no enable-egress-gateway and no
#: enable-bpf-masquerade key, and kube-proxy-replacement "false".
DEFAULT_CILIUM_CONFIG = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "cilium-config", "namespace": "kube-system"},
    "data": {
        "kube-proxy-replacement": "false",
        "enable-ipv4-masquerade": "true",
        "routing-mode": "tunnel",
        "tunnel-protocol": "vxlan",
        "ipam": "cluster-pool",
    },
}
#: The same with ``egressGateway.enabled=true bpf.masquerade=true kubeProxyReplacement=true`` (cnibench's kind values).
EGRESS_CILIUM_CONFIG = {
    **DEFAULT_CILIUM_CONFIG,
    "data": {
        **DEFAULT_CILIUM_CONFIG["data"],
        "kube-proxy-replacement": "true",
        "enable-bpf-masquerade": "true",
        "enable-egress-gateway": "true",
    },
}
CILIUM_DAEMONSETS = {
    "items": [
        {
            "metadata": {"name": "cilium", "namespace": "kube-system"},
            "spec": {"template": {"spec": {"containers": [{"name": "cilium-agent",
                                                           "image": "quay.io/cilium/cilium:v1.19.4"}]}}},
        }
    ]
}  # fmt: skip


def test_a_default_cilium_config_names_each_missing_key():
    problems = cilium.egress_problems(DEFAULT_CILIUM_CONFIG)
    assert problems == [
        'cilium-config has no enable-egress-gateway: "true" (Helm: egressGateway.enabled=true; Cilium ships with it '
        "off)",
        "cilium-config has enable-bpf-masquerade: 'unset', the egress gateway needs \"true\" (Helm: "
        "bpf.masquerade=true)",
        "cilium-config has kube-proxy-replacement: 'false', the egress gateway needs \"true\" (Helm: "
        "kubeProxyReplacement=true)",
    ]
    assert cilium.egress_problems(EGRESS_CILIUM_CONFIG) == []
    older = {"data": {**EGRESS_CILIUM_CONFIG["data"], "enable-ipv4-egress-gateway": "true"}}
    del older["data"]["enable-egress-gateway"]
    assert cilium.egress_problems(older) == []  # the key's name before Cilium 1.19
    assert cilium.egress_problems(None) == ["ConfigMap cilium-config not found"]


def _fake_kubectl(monkeypatch, documents: dict[str, Any]) -> list[list[str]]:
    """Replace kubectl: ``get <resource> [<name>]`` answers from ``documents`` (by resource or resource/name),
    anything else fails the test. Returns the list every command is appended to."""
    calls: list[list[str]] = []

    def run(argv: Sequence[str], **_: Any) -> subprocess.CompletedProcess[str]:
        args = list(argv)
        calls.append(args)
        assert args[0] == "kubectl" and args[1] in ("get", "version"), f"not a read: {args}"
        if args[1] == "version":
            return subprocess.CompletedProcess(args, 0, json.dumps({"serverVersion": {"gitVersion": "v1.35.0"}}), "")
        named = len(args) > 3 and not args[3].startswith("-")
        found = documents.get(f"{args[2]}/{args[3]}" if named else args[2])
        if found is None:  # kubectl prints nothing for a missing object (--ignore-not-found), an empty list for a list
            return subprocess.CompletedProcess(args, 0, "" if named else json.dumps({"items": []}), "")
        return subprocess.CompletedProcess(args, 0, json.dumps(found), "")

    monkeypatch.setattr(kubectl_module, "run", run)
    monkeypatch.setattr(cluster_module, "run", run)
    return calls


def test_cluster_info_refuses_cilium_without_its_egress_gateway_reading_only(monkeypatch):
    calls = _fake_kubectl(
        monkeypatch,
        {"nodes": KIND_NODES, "daemonsets": CILIUM_DAEMONSETS, "configmap/cilium-config": DEFAULT_CILIUM_CONFIG},
    )
    with pytest.raises(PlatformError) as raised:
        cluster_module.cluster_info(
            Kubectl(kubeconfig=None, context=None, namespace="cnibench"),
            expected_cni="cilium", pick_gateway=True, preferred_gateway=None, cni_egress=True,
        )  # fmt: skip
    message = str(raised.value)
    assert message.startswith(
        "the egress scenario needs Cilium's egress gateway on, checked before anything is created: cilium-config has "
        'no enable-egress-gateway: "true"'
    )
    assert "enable-bpf-masquerade: 'unset'" in message and "kube-proxy-replacement: 'false'" in message
    assert message.endswith("(enable it and restart the agents and the operator, or leave the egress scenario out: "
                            "--only ingress)")  # fmt: skip
    assert "\n" not in message
    assert all(call[1] == "get" for call in calls)  # nothing but reads


def test_cluster_info_accepts_cilium_with_its_egress_gateway(monkeypatch):
    _fake_kubectl(
        monkeypatch,
        {"nodes": KIND_NODES, "daemonsets": CILIUM_DAEMONSETS, "configmap/cilium-config": EGRESS_CILIUM_CONFIG},
    )
    info = cluster_module.cluster_info(
        Kubectl(kubeconfig=None, context=None, namespace="cnibench"),
        expected_cni="cilium", pick_gateway=True, preferred_gateway=None, cni_egress=True,
    )  # fmt: skip
    assert info["gateway_node"] == "c-worker"


def _tasks(path: Path) -> list[dict[str, Any]]:
    return list(yaml.safe_load(path.read_text()))


def test_kubeconfig_egress_checks_the_cni_before_its_first_object(tmp_path):
    out = tmp_path / "out"
    assert commands.render(write_example(tmp_path, "kubeconfig.yaml", scenarios__ingress=None), out) == 0
    (cluster,) = json.loads((out / "vars.json").read_text())["cnibench_clusters"]
    assert cluster["info"]["cni_egress"] is True and cluster["before_cni"] == []
    info, namespace = _tasks(ROLES / "cluster" / "tasks" / "main.yml")[:2]
    assert info["cnibench.bench.kube_cluster_info"]["cni_egress"] == "{{ cluster.info.cni_egress }}"
    assert "kubernetes.core.k8s" in namespace  # the first object is created after the check
    kind_out = tmp_path / "kind"
    assert commands.render(write_example(tmp_path, "kind-antrea-vs-cilium.yaml"), kind_out) == 0
    assert not any(
        c["info"]["cni_egress"] for c in json.loads((kind_out / "vars.json").read_text())["cnibench_clusters"]
    )


# ---- item 2: who the external server sees, stated in the spec ---------------------------------------------------


def _fake_cluster_for_egress(monkeypatch, data_dir: Path, capture: str) -> list[list[str]]:
    """kubectl answering the nodes and the client pod's node; the probe (``kubectl exec ... iperf3``) answers with a
    real captured iperf3 output, whose server saw the address in its own JSON."""
    from cnibench.platforms.kube import waits

    probe_answer = (data_dir / "iperf3" / capture).read_text()
    calls: list[list[str]] = []

    def run(argv: Sequence[str], **_: Any) -> subprocess.CompletedProcess[str]:
        args = list(argv)
        calls.append(args)
        if "exec" in args:
            return subprocess.CompletedProcess(args, 0, probe_answer, "")
        verb = args[args.index("get") :] if "get" in args else []
        if verb[:2] == ["get", "nodes"]:
            return subprocess.CompletedProcess(args, 0, json.dumps(KIND_NODES), "")
        if verb[:2] == ["get", "pod"]:
            return subprocess.CompletedProcess(args, 0, json.dumps({"spec": {"nodeName": "c-worker2"}}), "")
        raise AssertionError(f"unexpected command {args}")

    monkeypatch.setattr(kubectl_module, "run", run)
    monkeypatch.setattr(waits, "run", run)
    return calls


def _baseline(stated: str | None) -> dict[str, Any]:
    from cnibench.platforms.kube import waits

    return waits.egress_ready(
        Kubectl(kubeconfig=None, context=None, namespace="cnibench"),
        mode="baseline", manifest=None, pod="iperf3-client", server_ip="192.168.10.5", port=5201, egress_ip=None,
        gateway_node="c-worker", timeout=0.6, stated_source=stated,
    )  # fmt: skip


def test_a_server_behind_a_nat_names_the_address_seen_and_the_field(monkeypatch, data_dir):
    """The server saw 203.0.113.254 (the captured file's), not the client node's InternalIP 172.18.0.4."""
    _fake_cluster_for_egress(monkeypatch, data_dir, "tcp-hostgw-egress.json")
    with pytest.raises(PlatformError) as raised:
        _baseline(None)
    assert str(raised.value) == (
        "the external server saw 203.0.113.254, not the client node c-worker2's InternalIP 172.18.0.4, for 0.6 s: "
        "behind a NAT or a firewall, or where the node's default route leaves through another interface, state the "
        "address the server sees in scenarios.egress.baseline_source_ip"
    )


def test_the_stated_source_is_what_the_repetitions_are_checked_against(monkeypatch, data_dir):
    _fake_cluster_for_egress(monkeypatch, data_dir, "tcp-hostgw-egress.json")
    assert _baseline("203.0.113.254") == {"expected_source_ip": "203.0.113.254", "client_node": "c-worker2"}


@pytest.mark.parametrize(
    ("example", "words"),
    [
        ("local.yaml", "only on kubeconfig: netns builds the path"),
        ("kind-antrea-vs-cilium.yaml", "only on kubeconfig: on kind"),
    ],
)
def test_a_stated_source_is_refused_where_cnibench_builds_the_path(tmp_path, capsys, example, words):
    from cnibench.cli import main

    spec = write_example(tmp_path, example, scenarios__egress__baseline_source_ip="198.51.100.7")
    assert main(["plan", str(spec)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "scenarios.egress.baseline_source_ip (line " in err and words in err


def test_kubeconfig_passes_the_stated_sources_to_the_probe(tmp_path):
    out = tmp_path / "out"
    spec = write_example(tmp_path, "kubeconfig.yaml", scenarios__ingress=None,
                         scenarios__egress__baseline_source_ip="198.51.100.7")  # fmt: skip
    assert commands.render(spec, out) == 0
    (cluster,) = json.loads((out / "vars.json").read_text())["cnibench_clusters"]
    (egress,) = [s for s in cluster["scenarios"] if s["role"] == "cnibench.bench.egress"]
    assert egress["expected_sources"] == {"baseline": "198.51.100.7", "policy": None}
    (wait,) = [
        t
        for t in _tasks(ROLES / "egress" / "tasks" / "trial.yml")[0]["block"]
        if "cnibench.bench.kube_egress_ready" in t
    ]
    assert wait["cnibench.bench.kube_egress_ready"]["expected_source"] == "{{ step.expected_sources[trial.mode] }}"


# ---- item 4: Envoy Gateway found in any namespace -----------------------------------------------------------------


def _deployment(namespace: str, name: str, container: str, image: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"template": {"spec": {"containers": [{"name": container, "image": image}]}}},
    }


#: Envoy Gateway installed by someone else as release "eg" in namespace "gateways", and the Envoy proxy it runs
#: (container envoy, image envoyproxy/envoy: not a controller).
ELSEWHERE = {
    "items": [
        _deployment("gateways", "eg", "envoy-gateway", "docker.io/envoyproxy/gateway:v1.7.5"),
        _deployment("gateways", "envoy-default-eg-e41e7b31", "envoy", "docker.io/envoyproxy/envoy:distroless-v1.37.5"),
        _deployment("kube-system", "coredns", "coredns", "registry.k8s.io/coredns/coredns:v1.12.0"),
    ]
}


def test_envoy_gateway_is_found_in_any_namespace_under_any_name():
    from cnibench.platforms.kube.gateways import envoy_gateway_controllers

    assert envoy_gateway_controllers(ELSEWHERE) == ["gateways/eg"]
    renamed = {"items": [_deployment("x", "gw", "controller", "envoyproxy/gateway@sha256:" + "a" * 64)]}
    assert envoy_gateway_controllers(renamed) == ["x/gw"]
    assert envoy_gateway_controllers({"items": ELSEWHERE["items"][1:]}) == []


def test_an_envoy_gateway_elsewhere_is_used_and_two_are_refused(monkeypatch):
    documents = {"nodes": KIND_NODES, "daemonsets": CILIUM_DAEMONSETS, "deployments": ELSEWHERE}
    _fake_kubectl(monkeypatch, documents)
    kubectl = Kubectl(kubeconfig=None, context=None, namespace="cnibench")
    info = cluster_module.cluster_info(kubectl, expected_cni="cilium", pick_gateway=False, preferred_gateway=None,
                                       envoy_gateway=True)  # fmt: skip
    assert info["envoy_gateway_present"] is True and info["cluster_facts"]["envoy_gateway"] == "gateways/eg"
    documents["deployments"] = {
        "items": [*ELSEWHERE["items"], _deployment("envoy-gateway-system", "envoy-gateway", "envoy-gateway",
                                                   "docker.io/envoyproxy/gateway:v1.7.5")]
    }  # fmt: skip
    with pytest.raises(PlatformError) as raised:
        cluster_module.cluster_info(kubectl, expected_cni="cilium", pick_gateway=False, preferred_gateway=None,
                                    envoy_gateway=True)  # fmt: skip
    assert str(raised.value) == (
        "Envoy Gateway runs 2 times (gateways/eg, envoy-gateway-system/envoy-gateway): each would reconcile "
        "cnibench's GatewayClass (the same controllerName); leave one, or use another kubernetes.gateway_implementation"
    )
    # an egress-only run does not care
    assert cluster_module.cluster_info(kubectl, expected_cni="cilium", pick_gateway=False, preferred_gateway=None)


# ---- item 3: Antrea on kind and TX checksum offload --------------------------------------------------------------


def test_antrea_on_kind_keeps_one_docker_network_and_says_why_offload_stays_on(tmp_path, capsys):
    """Antrea's ci/kind/kind-setup.sh (v2.7.0) turns TX checksum offload off only for nodes it moves onto other
    Docker networks; cnibench's kind cluster keeps every node on kind's default network, so it does not either."""
    out = tmp_path / "out"
    assert commands.render(write_example(tmp_path, "kind-antrea-vs-cilium.yaml"), out) == 0
    config = yaml.safe_load((out / "rendered" / "antrea" / "kind" / "config.yaml").read_text())
    assert set(config["networking"]) == {"disableDefaultCNI", "podSubnet"}  # no extra networks or address families
    assert all(set(node) <= {"role", "image", "extraPortMappings"} for node in config["nodes"])
    rendered = "\n".join(p.read_text() for p in out.rglob("*") if p.is_file())
    assert "ethtool" not in rendered
    capsys.readouterr()
    assert commands.plan(write_example(tmp_path, "kind-antrea-vs-cilium.yaml")) == 0
    plan = capsys.readouterr().out
    (antrea_create,) = [line for line in plan.splitlines() if "[antrea] create kind cluster" in line]
    assert "Antrea: TX checksum offload stays on: every node is on kind's one default Docker network" in antrea_create
    assert not any("TX checksum" in line for line in plan.splitlines() if "[cilium]" in line)


# ---- item 5: what the numbers mean on each platform -----------------------------------------------------------


def _spec_of(example: str, **changes: Any):
    from kube_examples import example_with

    from cnibench.spec import parse_spec

    return parse_spec(example_with(example, **changes))


def test_each_platform_says_what_its_numbers_mean():
    from cnibench.platforms import get_platform

    def notes(example: str, **changes: Any) -> str:
        spec = _spec_of(example, **changes)
        return " | ".join(get_platform(spec.platform).what_is_measured(spec))

    assert "CPU figures are the whole machine's (k6, iperf3, nginx" in notes("local.yaml")
    kind = notes("kind-antrea-vs-cilium.yaml")
    assert "a node's CPU is the whole machine's, k6 and the external iperf3 server included" in kind
    assert "externalTrafficPolicy: Local" in kind and "no cross-node load-balancer hop" in kind
    aks = notes("aks.yaml")
    assert "over the internet to Azure's LoadBalancer" in aks and "in the cluster's VNet" in aks
    assert "k6 and the external iperf3 server run on this machine" in notes("kubeconfig.yaml")
    # Cilium's own Gateway: Envoy Gateway's Service is not in the path
    cilium_gateway = notes("kubeconfig.yaml", kubernetes__gateway_implementation="cilium", scenarios__egress=None)
    assert "externalTrafficPolicy" not in cilium_gateway
    assert "externalTrafficPolicy" not in notes("kind-antrea-vs-cilium.yaml", scenarios__ingress__gateway="l4")


def test_the_notes_are_recorded_and_shown_in_the_report(tmp_path, data_dir):
    from cnibench import lifecycle
    from cnibench.plan import make_plan
    from cnibench.platforms import get_platform
    from cnibench.report import document
    from cnibench.results.model import read_results

    spec = _spec_of("aks.yaml")
    platform = get_platform(spec.platform)
    lifecycle.record_start(spec, make_plan(spec), platform, run_id="r", run_dir=tmp_path, prefix="cnib0000", load={})
    recorded = json.loads((tmp_path / "environment.json").read_text())["measured"]
    assert recorded == platform.what_is_measured(spec) and len(recorded) == 2
    run = read_results(data_dir / "results" / "netns-hostgw-vxlan.json")
    run = run.model_copy(update={"environment": {**run.environment, "measured": recorded}})
    report = document.build([run], [None])
    assert f"<li>{recorded[0]}</li>" in report.html.replace("&#39;", "'")
    assert f"- {recorded[1]}" in report.markdown
    plain = document.build([read_results(data_dir / "results" / "netns-hostgw-vxlan.json")], [None])
    assert "What the numbers mean" not in plain.markdown  # a run recorded before has none


# ---- item 7: AKS and a Generation 1 VM size ---------------------------------------------------------------------


def test_the_default_gen1_size_is_named_in_the_plan_with_what_would_break_it(tmp_path, capsys):
    from cnibench.platforms.kube.settings import vm_generation_note

    assert _spec_of("aks.yaml").section("aks").vm_type == "Standard_A2_v2"  # the thesis's size, kept
    assert vm_generation_note("Standard_A2_v2") is not None and vm_generation_note("Standard_A8m_v2") is not None
    assert vm_generation_note("Standard_D2s_v5") is None
    assert commands.plan(write_example(tmp_path, "aks.yaml")) == 0
    (apply,) = [line for line in capsys.readouterr().out.splitlines() if "[antrea] terraform apply" in line]
    assert "note: Standard_A2_v2 is a Generation 1 size (Av2 series): AKS runs it on its Gen 1 Ubuntu 24.04" in apply
    assert "Ubuntu 26.04 (preview, Kubernetes 1.36+) is Gen 2 only (Azure/AKS#5905)" in apply
    capsys.readouterr()
    assert commands.plan(write_example(tmp_path, "aks.yaml", aks__vm_type="Standard_D2s_v5")) == 0
    assert "Generation 1" not in capsys.readouterr().out
