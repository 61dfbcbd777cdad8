"""The deciding parts of the Kubernetes platforms, on kubectl/docker JSON of the shapes they print.

No cluster can run here: these documents are built in the tests, field for field as ``kubectl get -o json`` and
``docker network inspect`` print them (only the fields cnibench reads)."""

from __future__ import annotations

import pytest

from cnibench.errors import PlatformError
from cnibench.platforms.kube import ops


def _node(name: str, ip: str, *, ready: bool = True, control_plane: bool = False, taint: str | None = None) -> dict:
    labels = {"kubernetes.io/hostname": name}
    if control_plane:
        labels["node-role.kubernetes.io/control-plane"] = ""
    spec = {"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": taint}]} if taint else {}
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": spec,
        "status": {
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


KIND_NODES = {
    "items": [
        _node("c-worker2", "172.18.0.4"),
        _node("c-control-plane", "172.18.0.2", control_plane=True, taint="NoSchedule"),
        _node("c-worker", "172.18.0.3"),
    ]
}


def test_nodes_are_read_with_ip_readiness_and_role():
    nodes = {n.name: n for n in ops.parse_nodes(KIND_NODES)}
    assert nodes["c-worker"].ip == "172.18.0.3" and nodes["c-worker"].ready and nodes["c-worker"].schedulable
    assert nodes["c-control-plane"].control_plane and not nodes["c-control-plane"].schedulable


def test_the_gateway_is_the_first_ready_worker_or_the_preferred_one():
    nodes = ops.parse_nodes(KIND_NODES)
    assert ops.pick_gateway_node(nodes) == "c-worker"
    assert ops.pick_gateway_node(nodes, "c-worker2") == "c-worker2"
    with pytest.raises(PlatformError, match="c-control-plane is not a ready, schedulable worker"):
        ops.pick_gateway_node(nodes, "c-control-plane")


def test_egress_needs_two_workers():
    nodes = ops.parse_nodes({"items": [KIND_NODES["items"][0], _node("c-worker", "172.18.0.3", ready=False)]})
    with pytest.raises(PlatformError, match=r"two ready, schedulable worker nodes .* found 1: c-worker2"):
        ops.pick_gateway_node(nodes)


def _daemonset(name: str, container: str, image: str) -> dict:
    return {
        "metadata": {"name": name, "namespace": "kube-system"},
        "spec": {"template": {"spec": {"containers": [{"name": container, "image": image}]}}},
    }


@pytest.mark.parametrize(
    ("daemonsets", "expected"),
    [
        (
            [_daemonset("cilium", "cilium-agent", "quay.io/cilium/cilium:v1.19.4@sha256:" + "a" * 64)],
            ("cilium", "1.19.4"),
        ),
        ([_daemonset("antrea-agent", "antrea-agent", "antrea/antrea-agent-ubuntu:v2.7.0")], ("antrea", "2.7.0")),
        ([_daemonset("kube-proxy", "kube-proxy", "registry.k8s.io/kube-proxy:v1.35.0")], ("unknown", None)),
        (
            [_daemonset("azure-cns", "cns-container", "mcr.microsoft.com/containernetworking/azure-cns")],
            ("azure-cni", None),
        ),
    ],
)
def test_the_cni_and_its_version_come_from_its_agent(daemonsets, expected):
    assert ops.detect_cni({"items": daemonsets}) == expected


def test_kinds_network_must_be_the_specs():
    inspect = [
        {"Name": "kind", "IPAM": {"Config": [{"Subnet": "fc00:f853:ccd:e793::/64"}, {"Subnet": "172.19.0.0/16"}]}}
    ]
    assert ops.kind_network_subnets(inspect) == ["172.19.0.0/16"]
    with pytest.raises(
        PlatformError, match=r"kind's docker network is 172.19.0.0/16, the spec's network.node_cidr is 172.18.0.0/16"
    ):
        ops.check_kind_network(inspect, "172.18.0.0/16")
    ops.check_kind_network(inspect, "172.19.0.0/16")


def test_expected_source_is_the_clients_node_or_the_egress_ip():
    nodes = ops.parse_nodes(KIND_NODES)
    common = {"nodes": nodes, "client_node": "c-worker2", "gateway_node": "c-worker"}
    assert ops.expected_source("baseline", egress_ip="172.18.255.253", **common) == "172.18.0.4"
    assert ops.expected_source("policy", egress_ip="172.18.255.253", **common) == "172.18.255.253"
    assert ops.expected_source("policy", egress_ip=None, **common) == "172.18.0.3"


def test_load_balancer_address_of_a_gateway_and_a_service():
    gateway = {"status": {"addresses": [{"type": "IPAddress", "value": "172.18.255.254"}]}}
    assert ops.load_balancer_address("Gateway", gateway) == "172.18.255.254"
    assert ops.load_balancer_address("Gateway", {"status": {}}) is None
    service = {"status": {"loadBalancer": {"ingress": [{"ip": "20.1.2.3", "ipMode": "VIP"}]}}}
    assert ops.load_balancer_address("Service", service) == "20.1.2.3"
    assert ops.load_balancer_address("Service", {"status": {"loadBalancer": {}}}) is None


def test_placeholders_are_filled_and_a_missing_one_is_an_error():
    argv = ["k6", "run", "--env", "CNIBENCH_TARGET=http://@address@/echo", "load.js"]
    assert ops.substitute(argv, {"address": "172.18.255.254"})[3] == "CNIBENCH_TARGET=http://172.18.255.254/echo"
    with pytest.raises(PlatformError, match="no value for the placeholder"):
        ops.substitute(argv, {})


def test_kubectl_points_at_the_run_cluster():
    kubectl = ops.Kubectl("/state/kubeconfig-cilium", "kind-c", "cnibench")
    assert kubectl.argv("get", "pods") == [
        "kubectl", "--kubeconfig", "/state/kubeconfig-cilium", "--context", "kind-c", "--namespace", "cnibench",
        "get", "pods",
    ]  # fmt: skip
    assert ops.Kubectl(None, None, "x").argv("get", "nodes", namespaced=False) == ["kubectl", "get", "nodes"]


def test_image_version():
    assert ops.image_version("quay.io/cilium/cilium:v1.19.4@sha256:" + "b" * 64) == "1.19.4"
    assert ops.image_version("localhost:5000/antrea/antrea-agent") is None


def test_a_gateway_is_ready_when_programmed_not_when_addressed():
    gateway = {"status": {"addresses": [{"value": "20.1.2.3"}], "conditions": [{"type": "Accepted", "status": "True"}]}}
    assert ops.load_balancer_address("Gateway", gateway) == "20.1.2.3" and not ops.programmed(gateway)
    gateway["status"]["conditions"].append({"type": "Programmed", "status": "True"})
    assert ops.programmed(gateway)


# ------------------------------------------------------------------------------------------------ issue 12
# Pod and cluster documents in the shapes `kubectl get -o json` prints them (the fields cnibench reads).


def _pod(name: str, *, node: str | None = "c-worker", conditions=(), containers=()) -> dict:
    return {
        "metadata": {"name": name},
        "spec": {"nodeName": node} if node else {},
        "status": {"conditions": list(conditions), "containerStatuses": list(containers)},
    }


def test_a_host_port_held_by_another_pod_is_reported_with_the_scheduler_message():
    pending = _pod(
        "node-exporter-x7k2p",
        node=None,
        conditions=[
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 node(s) didn't have free ports for the requested pod ports.",
            }
        ],
    )
    problem = ops.pods_problem({"items": [pending]}, what="node_exporter (host port 19100)")
    assert problem == (
        "node_exporter (host port 19100) pod node-exporter-x7k2p cannot be scheduled: 0/3 nodes are available: "
        "3 node(s) didn't have free ports for the requested pod ports."
    )


def test_a_port_taken_by_a_process_on_the_node_is_reported_with_node_exporters_own_words():
    crashing = _pod(
        "node-exporter-9qz4d",
        conditions=[{"type": "Ready", "status": "False"}],
        containers=[
            {
                "name": "node-exporter",
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 20s restarting failed"}},
                "lastState": {
                    "terminated": {
                        "exitCode": 1,
                        "reason": "Error",
                        "message": 'time=2026-11-27T10:00:01Z level=ERROR source=tls_config.go:347 msg="listen tcp '
                        ':19100: bind: address already in use"\n',
                    }
                },
            }
        ],
    )
    problem = ops.pods_problem({"items": [crashing]}, what="node_exporter")
    assert problem is not None and problem.startswith("node_exporter pod node-exporter-9qz4d on node c-worker keeps")
    assert "address already in use" in problem
    starting = _pod("node-exporter-abcde", containers=[{"state": {"waiting": {"reason": "ContainerCreating"}}}])
    assert ops.pods_problem({"items": [starting]}, what="node_exporter") is None


def _crd(name: str, created: str) -> dict:
    return {"metadata": {"name": name, "creationTimestamp": created}}


def _operator(started: str) -> dict:
    return {"items": [{"status": {"containerStatuses": [{"state": {"running": {"startedAt": started}}}]}}]}


CILIUM_CONFIG = {"data": {"enable-gateway-api": "true", "kube-proxy-replacement": "true"}}
GATEWAY_CRDS = {"items": [_crd(name, "2026-11-01T09:00:00Z") for name in ops.CILIUM_GATEWAY_CRDS]}


def test_cilium_gateway_on_an_existing_cluster_ready():
    assert ops.cilium_gateway_problems(GATEWAY_CRDS, CILIUM_CONFIG, _operator("2026-11-01T09:05:00Z")) == []


def test_cilium_gateway_without_crds_or_settings_names_what_is_missing():
    crds = {"items": GATEWAY_CRDS["items"][:3]}
    config = {"data": {"kube-proxy-replacement": "false"}}
    problems = ops.cilium_gateway_problems(crds, config, _operator("2026-11-01T09:05:00Z"))
    assert len(problems) == 3
    assert problems[0].startswith(
        "the Gateway API CRDs grpcroutes.gateway.networking.k8s.io, referencegrants.gateway.networking.k8s.io are "
        "missing"
    )
    assert "enable-gateway-api" in problems[1] and "kube-proxy-replacement: 'false'" in problems[2]
    assert ops.cilium_gateway_problems(GATEWAY_CRDS, None, {"items": []}) == ["ConfigMap cilium-config not found"]


def test_crds_created_after_the_operator_started_need_a_restart():
    (problem,) = ops.cilium_gateway_problems(GATEWAY_CRDS, CILIUM_CONFIG, _operator("2026-11-01T08:00:00Z"))
    assert "after cilium-operator started (2026-11-01T08:00:00Z)" in problem and "rollout restart" in problem


def test_the_cilium_namespace_comes_from_its_agent():
    daemonsets = {"items": [{"metadata": {"name": "cilium", "namespace": "cilium-system"}}]}
    assert ops.cni_namespace(daemonsets, "cilium") == "cilium-system"
    assert ops.cni_namespace({"items": []}, "cilium") == "kube-system"
