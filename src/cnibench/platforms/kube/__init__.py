"""The Kubernetes platforms: kind, an existing cluster (kubeconfig) and AKS, over one base."""

import importlib

# each module registers its platform; in this order, so that lists of platforms read kind, kubeconfig, aks
for _name in ("kind", "kubeconfig", "aks"):
    importlib.import_module(f"{__name__}.{_name}")
