"""Reading a cluster at run time: its nodes, its CNI (from the agent DaemonSets the CNI descriptors declare) and its
version, the egress gateway node, kind's docker network. The parsing and deciding parts are pure functions of
kubectl's (and docker's) JSON, unit-tested on documents of the shapes they print."""

from __future__ import annotations

import contextlib
import ipaddress
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cnibench.errors import PlatformError
from cnibench.platforms.kube.cnis import CNIS
from cnibench.platforms.kube.cnis.base import Agent
from cnibench.platforms.kube.gateways import envoy_gateway_controllers
from cnibench.platforms.kube.kubectl import Kubectl, existing, managed_by_cnibench
from cnibench.proc import run

#: CNIs cnibench does not benchmark (no descriptor) but recognises on an existing cluster, to say which one it found:
#: their agent DaemonSet and container. A CNI with a descriptor is recognised by its descriptor's agent (derived:
#: :func:`cni_agents`), never listed here.
OTHER_CNI_AGENTS: dict[str, Agent] = {
    "azure-cni": Agent("azure-cns", "cns-container"),
    "kindnet": Agent("kindnet", "kindnet-cni"),
}
CONTROL_PLANE_LABELS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")


def cni_agents() -> dict[str, Agent]:
    """Every CNI cnibench recognises -> its agent: the registered descriptors first, then the others."""
    agents = {cni.name: cni.agent for cni in CNIS.values()}
    return {**agents, **OTHER_CNI_AGENTS}


@dataclass(frozen=True)
class Node:
    name: str
    ip: str | None
    ready: bool
    control_plane: bool
    schedulable: bool
    labels: dict[str, str]


def parse_nodes(node_list: dict[str, Any]) -> list[Node]:
    """``kubectl get nodes -o json`` -> nodes with their InternalIP, readiness and role."""
    nodes: list[Node] = []
    for item in node_list.get("items", []):
        meta, spec, status = item.get("metadata", {}), item.get("spec", {}), item.get("status", {})
        labels = meta.get("labels", {}) or {}
        ip = next((a["address"] for a in status.get("addresses", []) if a.get("type") == "InternalIP"), None)
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions", []))
        taints = spec.get("taints", []) or []
        schedulable = not spec.get("unschedulable", False) and not any(
            t.get("effect") in ("NoSchedule", "NoExecute") for t in taints
        )
        nodes.append(
            Node(
                name=meta["name"],
                ip=ip,
                ready=ready,
                control_plane=any(label in labels for label in CONTROL_PLANE_LABELS),
                schedulable=schedulable,
                labels=labels,
            )
        )
    return nodes


def pick_gateway_node(nodes: Sequence[Node], preferred: str | None = None) -> str:
    """The egress gateway node: ``preferred`` (kind's first worker) or the first ready, schedulable worker by name.
    Another schedulable worker must remain for the client pod. Raises PlatformError."""
    workers = sorted((n for n in nodes if n.ready and n.schedulable and not n.control_plane), key=lambda n: n.name)
    if len(workers) < 2:
        raise PlatformError(
            f"the egress scenario needs two ready, schedulable worker nodes (a gateway and a client); "
            f"found {len(workers)}: {', '.join(n.name for n in workers) or 'none'}"
        )
    if preferred is not None:
        if preferred not in {n.name for n in workers}:
            raise PlatformError(f"node {preferred} is not a ready, schedulable worker")
        return preferred
    return workers[0].name


def cni_namespace(daemonsets: dict[str, Any], cni: str) -> str:
    """The namespace of ``cni``'s agent DaemonSet (kube-system unless installed elsewhere)."""
    ds_name = cni_agents()[cni].daemonset
    for item in daemonsets.get("items", []):
        if item["metadata"]["name"] == ds_name:
            return str(item["metadata"].get("namespace") or "kube-system")
    return "kube-system"


def detect_cni(daemonsets: dict[str, Any]) -> tuple[str, str | None]:
    """``kubectl get daemonsets -A -o json`` -> (CNI name, version from its agent's image tag), or ("unknown", None)."""
    by_name = {item["metadata"]["name"]: item for item in daemonsets.get("items", [])}
    for cni, agent in cni_agents().items():
        item = by_name.get(agent.daemonset)
        if item is None:
            continue
        containers = item.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
        image = next((c.get("image", "") for c in containers if c.get("name") == agent.container), "")
        return cni, image_version(image)
    return "unknown", None


def image_version(image: str) -> str | None:
    """``quay.io/cilium/cilium:v1.19.4@sha256:...`` -> ``1.19.4``."""
    name = image.split("@", 1)[0]
    if ":" not in name.rsplit("/", 1)[-1]:
        return None
    return name.rsplit(":", 1)[1].removeprefix("v")


def kind_network_subnets(inspect: list[dict[str, Any]]) -> list[str]:
    """``docker network inspect kind`` -> its IPv4 subnets."""
    subnets: list[str] = []
    for network in inspect:
        for config in (network.get("IPAM") or {}).get("Config") or []:
            subnet = config.get("Subnet", "")
            with contextlib.suppress(ValueError):
                if ipaddress.ip_network(subnet).version == 4:
                    subnets.append(subnet)
    return subnets


def check_kind_network(inspect: list[dict[str, Any]], expected: str) -> None:
    """kind's docker network must be the spec's ``network.node_cidr``: the egress IP, the server and the
    LoadBalancer IP were chosen in it. Raises PlatformError naming both."""
    subnets = kind_network_subnets(inspect)
    if expected not in subnets:
        raise PlatformError(
            f"kind's docker network is {', '.join(subnets) or 'without an IPv4 subnet'}, the spec's network.node_cidr "
            f"is {expected}: set network.node_cidr to kind's subnet (docker network inspect kind)"
        )


def kind_network_check(expected: str) -> list[str]:
    """``docker network inspect kind`` must show ``expected`` (right after the cluster is created, before the CNI);
    returns its IPv4 subnets. Raises PlatformError naming both."""
    inspect = json.loads(run(["docker", "network", "inspect", "kind"], timeout=60).stdout)
    check_kind_network(inspect, expected)
    return kind_network_subnets(inspect)


def pod_node(kubectl: Kubectl, pod: str) -> str:
    """The node a pod of cnibench's namespace runs on. Raises PlatformError when it is not scheduled."""
    node = kubectl.json("get", "pod", pod).get("spec", {}).get("nodeName")
    if not node:
        raise PlatformError(f"pod {pod} is not scheduled")
    return str(node)


def cluster_info(
    kubectl: Kubectl,
    *,
    expected_cni: str,
    pick_gateway: bool,
    preferred_gateway: str | None,
    cni_gateway: bool = False,
    cni_egress: bool = False,
    envoy_gateway: bool = False,
) -> dict[str, Any]:
    """What the playbook needs to know about the cluster, and what the run records about it. The CNI found must be
    ``expected_cni``; ``pick_gateway`` picks the egress gateway node; ``cni_gateway`` (an existing cluster whose
    CNI's own Gateway API was chosen) also checks that the CNI can serve the Gateway, ``cni_egress`` (an existing
    cluster that runs the egress scenario) that its egress gateway is switched on. Raises PlatformError."""
    nodes = parse_nodes(kubectl.json("get", "nodes", namespaced=False))
    daemonsets = kubectl.json("get", "daemonsets", "--all-namespaces", namespaced=False)
    cni, version = detect_cni(daemonsets)
    if cni != expected_cni:
        raise PlatformError(
            f"the cluster's CNI is {cni}{' ' + version if version else ''}, the spec says {expected_cni}: "
            "name the installed CNI in cnis"
        )
    if cni_gateway:
        descriptor = CNIS.get(cni)
        problems = descriptor.gateway_problems(kubectl, cni_namespace(daemonsets, cni))
        if problems:
            raise PlatformError(
                f"gateway_implementation {cni} needs {descriptor.title}'s Gateway API ready before cnibench starts: "
                + "; ".join(problems)
                + " (or use gateway_implementation: envoy-gateway)"
            )
    if cni_egress:
        descriptor = CNIS.get(cni)
        problems = descriptor.egress_problems(kubectl, cni_namespace(daemonsets, cni))
        if problems:
            raise PlatformError(
                f"the egress scenario needs {descriptor.title}'s egress gateway on, checked before anything is "
                "created: " + "; ".join(problems) + " (enable it and restart the agents and the operator, or leave "
                "the egress scenario out: --only ingress)"
            )
    server = json.loads(run(kubectl.argv("version", "--output", "json", namespaced=False), timeout=60).stdout)
    namespace = existing(kubectl, "namespace", kubectl.namespace)
    if namespace is not None and not managed_by_cnibench(namespace):
        raise PlatformError(
            f"namespace {kubectl.namespace} exists and was not created by cnibench (no "
            f"app.kubernetes.io/managed-by=cnibench label): choose another kubernetes.namespace"
        )
    controllers = envoy_gateway_controllers(kubectl.json("get", "deployments", "--all-namespaces", namespaced=False))
    if envoy_gateway and len(controllers) > 1:
        raise PlatformError(
            f"Envoy Gateway runs {len(controllers)} times ({', '.join(controllers)}): each would reconcile cnibench's "
            "GatewayClass (the same controllerName); leave one, or use another kubernetes.gateway_implementation"
        )
    return {
        "gateway_api_present": existing(kubectl, "crd", "gateways.gateway.networking.k8s.io") is not None,
        # found in any namespace, under any release name: reused, never installed a second time
        "envoy_gateway_present": bool(controllers),
        "cluster_facts": {
            "detected_cni": cni,
            "detected_cni_version": version,
            "kubernetes_version": server.get("serverVersion", {}).get("gitVersion"),
            "nodes": len(nodes),
            "envoy_gateway": controllers[0] if controllers else None,
            "node_ips": {n.name: n.ip for n in nodes},
        },
        "nodes": [{"name": n.name, "ip": n.ip, "ready": n.ready, "control_plane": n.control_plane} for n in nodes],
        "gateway_node": pick_gateway_node(nodes, preferred_gateway) if pick_gateway else None,
    }
