# Shared by the collection's Kubernetes modules: how they reach the run's cluster.
from __future__ import annotations

#: kubeconfig file and context (None: kubectl's defaults) and cnibench's namespace.
KUBECTL_ARGS = {
    "kubeconfig": {"type": "str"},
    "context": {"type": "str"},
    "namespace": {"type": "str", "required": True},
}
