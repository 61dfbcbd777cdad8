#!/usr/bin/python
# Thin wrapper: module_utils/cnibench.py runs the task aks_kubeconfig (cnibench.platforms.TASKS; typed, tested).
from __future__ import annotations

DOCUMENTATION = r"""
module: aks_kubeconfig
short_description: Write the AKS cluster's kubeconfig from Terraform's output to a private file
description:
  - Reads the sensitive output C(kube_config) of the Terraform project in O(project_path) and writes it to O(dest)
    with mode 0600. The kubeconfig is never returned, so it cannot reach Ansible's events, logs or cnibench's results.
options:
  project_path: {description: The Terraform working directory., type: path, required: true}
  dest: {description: Where the kubeconfig goes (outside the results)., type: path, required: true}
author: cnibench developers
"""

EXAMPLES = r"""
- name: Write the kubeconfig
  cnibench.bench.aks_kubeconfig:
    project_path: /var/lib/cnibench/kube/cnib1a2b/terraform-cilium
    dest: /var/lib/cnibench/kube/cnib1a2b/kubeconfig-cilium
"""

RETURN = r"""
kind:
  description: What the result is (cnibench's event handler reads it), C(done).
  type: str
  returned: always
dest: {description: The file written., type: str, returned: success}
"""

from ansible_collections.cnibench.bench.plugins.module_utils.cnibench import run_task

ARGUMENT_SPEC = {
    "project_path": {"type": "path", "required": True},
    "dest": {"type": "path", "required": True},
}


def main() -> None:
    run_task("aks_kubeconfig", ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
