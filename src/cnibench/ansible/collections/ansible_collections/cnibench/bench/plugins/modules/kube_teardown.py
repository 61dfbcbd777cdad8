#!/usr/bin/python
# Thin wrapper: the logic is in cnibench.platforms.kube.teardown.
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
removed: {description: What was removed., type: list, returned: always}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cnibench.bench.plugins.module_utils.kube import KUBECTL_ARGS


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "kind_cluster": {"type": "str"},
            "containers": {"type": "list", "elements": "str", "default": []},
            "pids": {"type": "list", "elements": "int", "default": []},
            "helm_releases": {"type": "list", "elements": "dict", "default": []},
            **KUBECTL_ARGS,
        },
        supports_check_mode=False,
    )
    try:
        from cnibench.errors import CnibenchError
        from cnibench.platforms.kube import ops, teardown
    except ImportError as exc:
        module.fail_json(msg=f"cnibench is not importable by {module._name}'s interpreter: {exc}")
    p = module.params
    kubectl = ops.Kubectl.from_params(p)
    try:
        removed = teardown.teardown(
            kubectl,
            kind_cluster=p["kind_cluster"],
            containers=p["containers"],
            pids=p["pids"],
            helm_releases=p["helm_releases"],
        )
    except CnibenchError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=bool(removed), removed=removed)


if __name__ == "__main__":
    main()
