#!/usr/bin/python
# Thin wrapper: module_utils/cnibench.py runs the task kube_egress_ready (cnibench.platforms.TASKS; typed, tested).
from __future__ import annotations

DOCUMENTATION = r"""
module: kube_egress_ready
short_description: Apply the egress policy (if any) and wait until the external server sees the expected source
description:
  - O(mode=baseline) waits until the server sees the client pod's node (the node masquerades).
  - O(mode=policy) applies O(manifest) and waits until the server sees the egress IP; the seconds from the apply to
    the first probe the server saw with the egress IP are returned as RV(expect.egress_apply_s).
options:
  mode: {description: baseline or policy., type: str, choices: [baseline, policy], required: true}
  manifest: {description: The egress policy to apply (O(mode=policy))., type: path}
  pod: {description: The client pod., type: str, required: true}
  server_ip: {description: The external iperf3 server., type: str, required: true}
  port: {description: Its port., type: int, required: true}
  egress_ip: {description: The egress IP (null - the gateway node's own address)., type: str}
  expected_source:
    description: The address the server must see, as the spec states it (behind a NAT); null - the client node's
      InternalIP (baseline) or the egress IP, else the gateway node's InternalIP (policy).
    type: str
  gateway_node: {description: The egress gateway node., type: str, required: true}
  timeout: {description: Seconds to wait., type: float, required: true}
  kubeconfig: {description: kubeconfig file., type: str}
  context: {description: kubeconfig context., type: str}
  namespace: {description: cnibench's namespace., type: str, required: true}
author: cnibench developers
"""

EXAMPLES = r"""
- name: Apply the egress policy and wait until it is realised
  cnibench.bench.kube_egress_ready:
    mode: policy
    manifest: /results/run/rendered/cilium/manifests/31-egress-policy-cilium.yaml
    pod: iperf3-client
    server_ip: 172.18.255.252
    port: 5201
    egress_ip: 172.18.255.253
    gateway_node: cnib1a2b-cilium-worker
    timeout: 120
    namespace: cnibench
"""

RETURN = r"""
kind:
  description: What the result is (cnibench's event handler reads it), C(done).
  type: str
  returned: always
expect: {description: expected_source_ip and (policy) egress_apply_s., type: dict, returned: success}
"""

from ansible_collections.cnibench.bench.plugins.module_utils.cnibench import KUBECTL_ARGS, run_task

ARGUMENT_SPEC = {
    "mode": {"type": "str", "choices": ["baseline", "policy"], "required": True},
    "manifest": {"type": "path"},
    "pod": {"type": "str", "required": True},
    "server_ip": {"type": "str", "required": True},
    "port": {"type": "int", "required": True},
    "egress_ip": {"type": "str"},
    "expected_source": {"type": "str"},
    "gateway_node": {"type": "str", "required": True},
    "timeout": {"type": "float", "required": True},
    **KUBECTL_ARGS,
}


def main() -> None:
    run_task("kube_egress_ready", ARGUMENT_SPEC, required_if=[("mode", "policy", ("manifest",))])


if __name__ == "__main__":
    main()
