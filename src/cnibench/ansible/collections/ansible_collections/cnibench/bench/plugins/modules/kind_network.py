#!/usr/bin/python
# Thin wrapper: module_utils/cnibench.py runs the task kind_network (cnibench.platforms.TASKS; typed, tested).
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
kind:
  description: What the result is (cnibench's event handler reads it), C(done).
  type: str
  returned: always
subnets: {description: "The IPv4 subnets of kind's docker network.", type: list, returned: success}
"""

from ansible_collections.cnibench.bench.plugins.module_utils.cnibench import run_task

ARGUMENT_SPEC = {"cidr": {"type": "str", "required": True}}


def main() -> None:
    run_task("kind_network", ARGUMENT_SPEC, check_mode=True)


if __name__ == "__main__":
    main()
