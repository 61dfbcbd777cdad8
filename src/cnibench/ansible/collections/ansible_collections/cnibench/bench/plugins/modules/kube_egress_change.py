#!/usr/bin/python
# Thin wrapper: module_utils/cnibench.py runs the task kube_egress_change (cnibench.platforms.TASKS; typed, tested).
from __future__ import annotations

DOCUMENTATION = r"""
module: kube_egress_change
short_description: Prepare the egress-change trials on a cluster, and clear up after each
description:
  - O(action=prepare) labels the two gateway-capable nodes and, on kind for a CNI that does not place the egress IP
    itself, puts it on the active one.
  - O(action=clear) undoes what a trial left (the failed gateway back, the new pod and the policy deleted).
  - O(action=restore) clears and removes the gateway labels of O(gateway_nodes).
options:
  action: {description: What to do., type: str, choices: [prepare, clear, restore], required: true}
  config: {description: The scenario's rendered driver configuration (JSON)., type: path, required: true}
  gateway_nodes: {description: The gateway nodes O(action=prepare) returned., type: list, elements: str, default: []}
  kubeconfig: {description: kubeconfig file., type: str}
  context: {description: kubeconfig context., type: str}
  namespace: {description: cnibench's namespace., type: str, required: true}
author: cnibench developers
"""

EXAMPLES = r"""
- name: Label the gateway nodes
  cnibench.bench.kube_egress_change:
    action: prepare
    config: /results/run/rendered/antrea/egress-change/driver.json
    namespace: cnibench
"""

RETURN = r"""
kind:
  description: What the result is (cnibench's event handler reads it), C(done).
  type: str
  returned: always
gateway_nodes: {description: The two gateway nodes., type: list, elements: str, returned: O(action=prepare)}
gateway_nodes_arg:
  description: The same, comma-separated (the driver's argument).
  type: str
  returned: O(action=prepare)
cleared:
  description: What was undone, in words.
  type: list
  elements: str
  returned: O(action=clear) or O(action=restore)
"""

from ansible_collections.cnibench.bench.plugins.module_utils.cnibench import KUBECTL_ARGS, run_task

ARGUMENT_SPEC = {
    "action": {"type": "str", "choices": ["prepare", "clear", "restore"], "required": True},
    "config": {"type": "path", "required": True},
    "gateway_nodes": {"type": "list", "elements": "str", "default": []},
    **KUBECTL_ARGS,
}


def main() -> None:
    run_task("kube_egress_change", ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
