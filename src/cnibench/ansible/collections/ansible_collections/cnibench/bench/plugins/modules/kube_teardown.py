#!/usr/bin/python
# Thin wrapper: module_utils/cnibench.py runs the task kube_teardown (cnibench.platforms.TASKS; typed, tested).
from __future__ import annotations

DOCUMENTATION = r"""
module: kube_teardown
short_description: Remove what a cnibench run created on Kubernetes
description:
  - With O(kind_cluster), deletes that kind cluster and the O(containers) next to it.
  - Without it (an existing cluster), deletes cnibench's namespace, the cluster-wide objects labelled
    app.kubernetes.io/managed-by=cnibench and the egress gateway label; nothing else.
  - Stops the local processes O(pids) the run started.
options:
  kind_cluster: {description: The kind cluster to delete., type: str}
  containers: {description: Docker containers to remove., type: list, elements: str, default: []}
  pids: {description: Local daemons to stop (their process groups)., type: list, elements: int, default: []}
  helm_releases:
    description: Helm releases cnibench installed on an existing cluster (keys name, namespace), uninstalled first.
    type: list
    elements: dict
    default: []
  kubeconfig: {description: kubeconfig file., type: str}
  context: {description: kubeconfig context., type: str}
  namespace: {description: cnibench's namespace., type: str, required: true}
author: cnibench developers
"""

EXAMPLES = r"""
- name: Remove what the run created
  cnibench.bench.kube_teardown:
    kind_cluster: cnib1a2b-cilium
    containers: [cnib1a2b-cilium-iperf3]
    namespace: cnibench
"""

RETURN = r"""
kind:
  description: What the result is (cnibench's event handler reads it), C(done).
  type: str
  returned: always
removed: {description: What was removed., type: list, returned: always}
"""

from ansible_collections.cnibench.bench.plugins.module_utils.cnibench import KUBECTL_ARGS, run_task

ARGUMENT_SPEC = {
    "kind_cluster": {"type": "str"},
    "containers": {"type": "list", "elements": "str", "default": []},
    "pids": {"type": "list", "elements": "int", "default": []},
    "helm_releases": {"type": "list", "elements": "dict", "default": []},
    **KUBECTL_ARGS,
}


def main() -> None:
    run_task("kube_teardown", ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
