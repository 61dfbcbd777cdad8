#!/usr/bin/python
# Thin wrapper: the logic is in cnibench.platforms.kube.ops (check_kind_network).
from __future__ import annotations

DOCUMENTATION = r"""
module: kind_network
short_description: Check that kind's docker network has the spec's node CIDR
description:
  - Reads C(docker network inspect kind) and fails unless one of its IPv4 subnets is O(cidr), the network the
    spec's egress IP, external server and LoadBalancer IP were chosen in. Runs right after the cluster is created,
    before minutes go into the CNI.
options:
  cidr: {description: "The spec's network.node_cidr.", type: str, required: true}
author: cnibench developers
"""

EXAMPLES = r"""
- name: Check kind's docker network
  cnibench.bench.kind_network:
    cidr: 172.18.0.0/16
"""

RETURN = r"""
subnets: {description: "The IPv4 subnets of kind's docker network.", type: list, returned: success}
"""

from ansible.module_utils.basic import AnsibleModule


def main() -> None:
    module = AnsibleModule(argument_spec={"cidr": {"type": "str", "required": True}}, supports_check_mode=True)
    try:
        from cnibench.errors import CnibenchError
        from cnibench.platforms.kube import ops
    except ImportError as exc:
        module.fail_json(msg=f"cnibench is not importable by {module._name}'s interpreter: {exc}")
    try:
        subnets = ops.kind_network_check(module.params["cidr"])
    except CnibenchError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, subnets=subnets)


if __name__ == "__main__":
    main()
