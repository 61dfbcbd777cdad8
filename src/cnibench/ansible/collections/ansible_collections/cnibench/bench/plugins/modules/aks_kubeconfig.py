#!/usr/bin/python
# Thin wrapper: the logic is in cnibench.platforms.kube.aks.write_kubeconfig.
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
dest: {description: The file written., type: str, returned: success}
"""

from ansible.module_utils.basic import AnsibleModule


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "project_path": {"type": "path", "required": True},
            "dest": {"type": "path", "required": True},
        },
        supports_check_mode=False,
    )
    try:
        from cnibench.errors import CnibenchError
        from cnibench.platforms.kube import aks
    except ImportError as exc:
        module.fail_json(msg=f"cnibench is not importable by {module._name}'s interpreter: {exc}")
    p = module.params
    try:
        aks.write_kubeconfig(p["project_path"], p["dest"])
    except CnibenchError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=True, dest=p["dest"])


if __name__ == "__main__":
    main()
