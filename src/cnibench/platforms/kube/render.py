"""What every Kubernetes run applies, as data (pure functions): object metadata, cnibench's namespace, kind's
cluster config. What a scenario applies is in its adapter (``scenarios/``), what a CNI applies in its descriptor
(``cnis/``), monitoring in :mod:`~cnibench.platforms.kube.monitoring`.

The files are written into the run directory before anything runs (``cnibench render`` writes them alone), and the
tests check every manifest against the pinned upstream schemas (``../shared/tools/validate_manifests.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

MANAGED_BY = {"app.kubernetes.io/managed-by": "cnibench"}
#: The label cnibench puts on the egress gateway node (and selects it by).
GATEWAY_NODE_LABEL = "cnibench.io/egress-gateway"
#: Relative to the rendered directory of one CNI.
KIND_CONFIG = Path("kind") / "config.yaml"
HELM_DIR = Path("helm")
MANIFESTS = Path("manifests")
#: The Pod Security admission labels of a namespace whose pods need the host (https://kubernetes.io/docs/concepts/
#: security/pod-security-admission/: the baseline level refuses hostNetwork, hostPID and hostPath volumes).
PRIVILEGED = {f"pod-security.kubernetes.io/{mode}": "privileged" for mode in ("enforce", "audit", "warn")}


def meta(name: str, namespace: str | None = None, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """An object's metadata with cnibench's managed-by label (what ``clean`` deletes by)."""
    out: dict[str, Any] = {"name": name, "labels": {**MANAGED_BY, **(labels or {})}}
    if namespace is not None:
        out["namespace"] = namespace
    return out


def app(name: str) -> dict[str, str]:
    """The recommended ``app.kubernetes.io/name`` label, which cnibench selects its pods by."""
    return {"app.kubernetes.io/name": name}


def namespace(name: str) -> dict[str, Any]:
    """cnibench's namespace, at the privileged Pod Security level: its node_exporter uses the host network, host PID
    and hostPath volumes, which a cluster enforcing baseline or restricted on namespaces would otherwise refuse."""
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta(name, labels=PRIVILEGED)}


def kind_config(
    *,
    name: str,
    workers: int,
    node_image: str,
    pod_cidr: str,
    kube_proxy: bool,
    port_mappings: bool = True,
    node_mounts: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The thesis's kind config (listing 5): a control plane with ports 80/443 mapped (on 127.0.0.1; cnibench itself
    does not use them), ``workers`` workers, the default CNI disabled; kube-proxy off when the CNI replaces it;
    ``node_mounts`` (path in the node -> file on this machine) mounted read-only into every node."""
    networking: dict[str, Any] = {"disableDefaultCNI": True, "podSubnet": pod_cidr}
    if not kube_proxy:
        networking["kubeProxyMode"] = "none"
    control_plane: dict[str, Any] = {"role": "control-plane", "image": node_image}
    if port_mappings:
        # only on the loopback address: a benchmark cluster is not a service for the network
        control_plane["extraPortMappings"] = [
            {"containerPort": port, "hostPort": port, "listenAddress": "127.0.0.1", "protocol": "TCP"}
            for port in (80, 443)
        ]
    nodes = [control_plane, *({"role": "worker", "image": node_image} for _ in range(workers))]
    if node_mounts:
        mounts = [{"hostPath": host, "containerPath": path, "readOnly": True} for path, host in node_mounts.items()]
        nodes = [{**node, "extraMounts": mounts} for node in nodes]
    return {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "name": name,
        "networking": networking,
        "nodes": nodes,
    }


def kind_node_names(cluster: str, workers: int) -> list[str]:
    """kind's node (container) names: ``<cluster>-control-plane``, ``<cluster>-worker``, ``<cluster>-worker2``..."""
    return [f"{cluster}-control-plane", *(f"{cluster}-worker{'' if i == 1 else i}" for i in range(1, workers + 1))]
