#!/usr/bin/python
# Thin wrapper: the logic is in cnibench.platforms.kube.ops (expected_source, wait_source).
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
expect: {description: expected_source_ip and (policy) egress_apply_s., type: dict, returned: success}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cnibench.bench.plugins.module_utils.kube import KUBECTL_ARGS


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "mode": {"type": "str", "choices": ["baseline", "policy"], "required": True},
            "manifest": {"type": "path"},
            "pod": {"type": "str", "required": True},
            "server_ip": {"type": "str", "required": True},
            "port": {"type": "int", "required": True},
            "egress_ip": {"type": "str"},
            "gateway_node": {"type": "str", "required": True},
            "timeout": {"type": "float", "required": True},
            **KUBECTL_ARGS,
        },
        required_if=[("mode", "policy", ("manifest",))],
        supports_check_mode=False,
    )
    try:
        from cnibench.errors import CnibenchError
        from cnibench.platforms.kube import ops
    except ImportError as exc:
        module.fail_json(msg=f"cnibench is not importable by {module._name}'s interpreter: {exc}")
    p = module.params
    kubectl = ops.Kubectl.from_params(p)
    try:
        expect = ops.egress_ready(
            kubectl,
            mode=p["mode"],
            manifest=p["manifest"],
            pod=p["pod"],
            server_ip=p["server_ip"],
            port=p["port"],
            egress_ip=p["egress_ip"],
            gateway_node=p["gateway_node"],
            timeout=p["timeout"],
        )
    except CnibenchError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=p["mode"] == "policy", expect=expect)


if __name__ == "__main__":
    main()
