#!/usr/bin/python
# Thin wrapper: the logic is in cnibench.platforms.kube.ops (load_balancer_address, wait_metrics).
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
address: {description: The address (O(what=address))., type: str, returned: when O(what=address)}
seconds: {description: Seconds waited., type: float, returned: success}
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cnibench.bench.plugins.module_utils.kube import KUBECTL_ARGS


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "what": {"type": "str", "choices": ["address", "metrics"], "required": True},
            "kind": {"type": "str", "choices": ["Gateway", "Service"]},
            "name": {"type": "str"},
            "expected": {"type": "str"},
            "probe": {"type": "str"},
            "metrics": {"type": "dict"},
            "timeout": {"type": "float", "default": 300.0},
            **KUBECTL_ARGS,
        },
        required_if=[("what", "address", ("kind", "name")), ("what", "metrics", ("metrics",))],
        supports_check_mode=False,
    )
    try:
        from cnibench.errors import CnibenchError
        from cnibench.platforms.kube import ops
    except ImportError as exc:
        module.fail_json(msg=f"cnibench is not importable by {module._name}'s interpreter: {exc}")
    p = module.params
    kubectl = ops.Kubectl.from_params(p)
    start = time.monotonic()
    try:
        if p["what"] == "address":
            address = ops.wait_address(
                kubectl, p["kind"], p["name"], expected=p["expected"], timeout=p["timeout"], probe=p["probe"]
            )
            module.exit_json(changed=False, address=address, seconds=time.monotonic() - start)
        seconds = ops.wait_metrics(kubectl, p["metrics"])
    except CnibenchError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, seconds=seconds, url=p["metrics"]["service"])


if __name__ == "__main__":
    main()
