#!/usr/bin/python
# Thin wrapper: module_utils/cnibench.py runs the task kube_wait (cnibench.platforms.TASKS; typed, tested).
from __future__ import annotations

DOCUMENTATION = r"""
module: kube_wait
short_description: Wait, with a deadline, for a Gateway's or Service's address, or for Prometheus's targets
description:
  - O(what=address) waits until the Gateway or LoadBalancer Service O(name) has an address, and checks it is
    O(expected) when given.
  - O(what=metrics) waits until Prometheus scrapes node_exporter on every node (through a port-forward).
options:
  what: {description: address or metrics., type: str, choices: [address, metrics], required: true}
  kind: {description: Gateway or Service (O(what=address))., type: str, choices: [Gateway, Service]}
  name: {description: Its name (O(what=address))., type: str}
  expected: {description: The address it must get., type: str}
  probe:
    description: A URL (with C(@address@)) that must answer "Hostname:" a few times in a row before it is ready.
    type: str
  metrics: {description: Prometheus service, port, DaemonSet and timeout (O(what=metrics))., type: dict}
  cni: {description: The CNI whose cluster this is (O(what=metrics))., type: str}
  timeout: {description: Seconds to wait., type: float, default: 300}
  kubeconfig: {description: kubeconfig file., type: str}
  context: {description: kubeconfig context., type: str}
  namespace: {description: cnibench's namespace., type: str, required: true}
author: cnibench developers
"""

EXAMPLES = r"""
- name: Wait for the Gateway's address
  cnibench.bench.kube_wait:
    what: address
    kind: Gateway
    name: cnibench
    expected: 172.18.255.254
    namespace: cnibench
"""

RETURN = r"""
kind:
  description: What the result is (cnibench's event handler reads it), C(done) (an address) or C(metrics_ready).
  type: str
  returned: always
address: {description: The address (O(what=address))., type: str, returned: when O(what=address)}
seconds: {description: Seconds waited., type: float, returned: success}
"""

from ansible_collections.cnibench.bench.plugins.module_utils.cnibench import KUBECTL_ARGS, run_task

ARGUMENT_SPEC = {
    "what": {"type": "str", "choices": ["address", "metrics"], "required": True},
    "kind": {"type": "str", "choices": ["Gateway", "Service"]},
    "name": {"type": "str"},
    "expected": {"type": "str"},
    "probe": {"type": "str"},
    "metrics": {"type": "dict"},
    "cni": {"type": "str"},
    "timeout": {"type": "float", "default": 300.0},
    **KUBECTL_ARGS,
}


def main() -> None:
    run_task(
        "kube_wait",
        ARGUMENT_SPEC,
        required_if=[("what", "address", ("kind", "name")), ("what", "metrics", ("metrics", "cni"))],
    )


if __name__ == "__main__":
    main()
