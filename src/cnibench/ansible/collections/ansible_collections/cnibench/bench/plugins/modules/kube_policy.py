#!/usr/bin/python
# Thin wrapper: module_utils/cnibench.py runs the task kube_policy (cnibench.platforms.TASKS; typed, tested).
from __future__ import annotations

DOCUMENTATION = r"""
module: kube_policy
short_description: Apply or delete a network-policy size's NetworkPolicy objects and wait until the datapath says so
description:
  - O(action=apply) applies O(manifest) server-side (none - the no-policy size) and probes (nc -z from each probe's
    pod to the server pod's port) until every allowed probe connects and every denied one does not (with no policy,
    until every probe connects); the seconds from the apply are returned as RV(expect.policy_enforced_s).
  - O(action=delete) deletes O(manifest) and probes until every probe connects again.
options:
  action: {description: apply or delete., type: str, choices: [apply, delete], required: true}
  manifest: {description: The size's NetworkPolicy objects (null - no policy)., type: path}
  server: {description: The server pod the probes connect to., type: str, required: true}
  probes:
    description: Each a dict with pod, port and allowed (the policy must let it through, or must not).
    type: list
    elements: dict
    required: true
  timeout: {description: Seconds to wait., type: float, required: true}
  rules: {description: The size in words, for the messages., type: str, required: true}
  kubeconfig: {description: kubeconfig file., type: str}
  context: {description: kubeconfig context., type: str}
  namespace: {description: cnibench's namespace., type: str, required: true}
author: cnibench developers
"""

EXAMPLES = r"""
- name: Apply the policy of 100 rules and wait until it is enforced
  cnibench.bench.kube_policy:
    action: apply
    manifest: /results/run/rendered/cilium/manifests/61-network-policy-100rules.yaml
    server: np-server
    probes:
      - {pod: np-client-cross, port: 5201, allowed: true}
      - {pod: np-denied, port: 5201, allowed: false}
    timeout: 120
    rules: 100 rules
    namespace: cnibench
"""

RETURN = r"""
kind:
  description: What the result is (cnibench's event handler reads it), C(done).
  type: str
  returned: always
expect: {description: policy_enforced_s (apply)., type: dict, returned: success}
seconds: {description: Seconds until every probe connected again (delete)., type: float, returned: success}
"""

from ansible_collections.cnibench.bench.plugins.module_utils.cnibench import KUBECTL_ARGS, run_task

ARGUMENT_SPEC = {
    "action": {"type": "str", "choices": ["apply", "delete"], "required": True},
    "manifest": {"type": "path"},
    "server": {"type": "str", "required": True},
    "probes": {"type": "list", "elements": "dict", "required": True},
    "timeout": {"type": "float", "required": True},
    "rules": {"type": "str", "required": True},
    **KUBECTL_ARGS,
}


def main() -> None:
    run_task("kube_policy", ARGUMENT_SPEC, required_if=[("action", "delete", ("manifest",))])


if __name__ == "__main__":
    main()
