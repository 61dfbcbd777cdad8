"""Documents as ``kubectl get -o json`` prints them (only the fields cnibench reads), for the Kubernetes platforms'
tests: no cluster can run here (imported by name: pytest puts this directory on the path)."""

from __future__ import annotations

from typing import Any


def node(name: str, ip: str, *, ready: bool = True, control_plane: bool = False, taint: str | None = None
         ) -> dict[str, Any]:  # fmt: skip
    """One item of ``kubectl get nodes -o json``."""
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


#: A kind cluster's nodes: a tainted control plane and two workers.
KIND_NODES = {
    "items": [
        node("c-worker2", "172.18.0.4"),
        node("c-control-plane", "172.18.0.2", control_plane=True, taint="NoSchedule"),
        node("c-worker", "172.18.0.3"),
    ]
}
