"""Reading a cluster: nodes, the CNI and its version, the egress gateway node, kind's network.

No cluster can run here: these documents are built in the tests, field for field as ``kubectl get -o json`` and
``docker network inspect`` print them (only the fields cnibench reads)."""

from __future__ import annotations

import pytest
from kube_documents import KIND_NODES, node

from cnibench.errors import PlatformError
from cnibench.platforms.kube import cluster
from cnibench.platforms.kube.cnis import CNIS


def test_nodes_are_read_with_ip_readiness_and_role():
    nodes = {n.name: n for n in cluster.parse_nodes(KIND_NODES)}
    assert nodes["c-worker"].ip == "172.18.0.3" and nodes["c-worker"].ready and nodes["c-worker"].schedulable
    assert nodes["c-control-plane"].control_plane and not nodes["c-control-plane"].schedulable


def test_the_gateway_is_the_first_ready_worker_or_the_preferred_one():
    nodes = cluster.parse_nodes(KIND_NODES)
    assert cluster.pick_gateway_node(nodes) == "c-worker"
    assert cluster.pick_gateway_node(nodes, "c-worker2") == "c-worker2"
    with pytest.raises(PlatformError, match="c-control-plane is not a ready, schedulable worker"):
        cluster.pick_gateway_node(nodes, "c-control-plane")


def test_egress_needs_two_workers():
    nodes = cluster.parse_nodes({"items": [KIND_NODES["items"][0], node("c-worker", "172.18.0.3", ready=False)]})
    with pytest.raises(PlatformError, match=r"two ready, schedulable worker nodes .* found 1: c-worker2"):
        cluster.pick_gateway_node(nodes)


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
    assert cluster.detect_cni({"items": daemonsets}) == expected


def test_kinds_network_must_be_the_specs():
    inspect = [
        {"Name": "kind", "IPAM": {"Config": [{"Subnet": "fc00:f853:ccd:e793::/64"}, {"Subnet": "172.19.0.0/16"}]}}
    ]
    assert cluster.kind_network_subnets(inspect) == ["172.19.0.0/16"]
    with pytest.raises(
        PlatformError, match=r"kind's docker network is 172.19.0.0/16, the spec's network.node_cidr is 172.18.0.0/16"
    ):
        cluster.check_kind_network(inspect, "172.18.0.0/16")
    cluster.check_kind_network(inspect, "172.19.0.0/16")


def test_image_version():
    assert cluster.image_version("quay.io/cilium/cilium:v1.19.4@sha256:" + "b" * 64) == "1.19.4"
    assert cluster.image_version("localhost:5000/antrea/antrea-agent") is None


def test_the_cilium_namespace_comes_from_its_agent():
    daemonsets = {"items": [{"metadata": {"name": "cilium", "namespace": "cilium-system"}}]}
    assert cluster.cni_namespace(daemonsets, "cilium") == "cilium-system"
    assert cluster.cni_namespace({"items": []}, "cilium") == "kube-system"


def test_the_agents_of_the_cnis_with_a_descriptor_are_their_descriptors_own():
    """A CNI cnibench benchmarks is recognised by its descriptor's agent; the list of other CNIs names none of them
    (Calico's and Flannel's entries there went when their descriptors came)."""
    from cnibench.platforms.kube.cluster import OTHER_CNI_AGENTS, cni_agents

    assert not set(OTHER_CNI_AGENTS) & set(CNIS.names())
    agents = cni_agents()
    assert list(agents)[: len(CNIS.names())] == list(CNIS.names())
    assert all(agents[cni.name] == cni.agent for cni in CNIS.values())
