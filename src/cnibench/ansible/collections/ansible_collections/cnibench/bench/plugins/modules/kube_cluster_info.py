#!/usr/bin/python
# Thin wrapper: module_utils/cnibench.py runs the task kube_cluster_info (cnibench.platforms.TASKS; typed, tested).
from __future__ import annotations

DOCUMENTATION = r"""
module: kube_cluster_info
short_description: Read a cluster's nodes and CNI; check the CNI is the expected one; pick the egress gateway node
description:
  - Reads the nodes (InternalIP, readiness, role) and the DaemonSets, detects the CNI and its version from its
    agent's image, and fails if it is not O(expected_cni).
  - With O(pick_gateway_node), picks the egress gateway node (O(preferred_gateway) or the first ready, schedulable
    worker).
options:
  kubeconfig: {description: kubeconfig file., type: str}
  context: {description: kubeconfig context., type: str}
  namespace: {description: cnibench's namespace., type: str, required: true}
  expected_cni: {description: The CNI the spec names., type: str, required: true}
  pick_gateway_node: {description: Whether to pick an egress gateway node., type: bool, default: false}
  preferred_gateway: {description: The gateway node to use (kind's first worker)., type: str}
  cni_gateway:
    description: Check that the CNI's own Gateway API can serve a Gateway (what its descriptor checks, e.g. Cilium's
      CRDs present before its operator started, enable-gateway-api and kube-proxy-replacement in cilium-config); an
      existing cluster only.
    type: bool
    default: false
  cni_egress:
    description: Check that the CNI's egress gateway is switched on (what its descriptor checks, e.g. Cilium's
      enable-egress-gateway, enable-bpf-masquerade and kube-proxy-replacement in cilium-config); an existing cluster
      that runs the egress scenario only.
    type: bool
    default: false
  envoy_gateway:
    description: The run's Gateway is Envoy Gateway's - fail when more than one Envoy Gateway controller runs (found in
      any namespace; one found anywhere is used, not installed again).
    type: bool
    default: false
author: cnibench developers
"""

EXAMPLES = r"""
- name: Read the cluster
  cnibench.bench.kube_cluster_info:
    namespace: cnibench
    expected_cni: cilium
"""

RETURN = r"""
kind:
  description: What the result is (cnibench's event handler reads it), C(cluster_facts).
  type: str
  returned: always
cni: {description: O(expected_cni)., type: str, returned: always}
facts:
  description: The detected CNI, its version, the Kubernetes version and the nodes (recorded with the run).
  type: dict
  returned: always
nodes: {description: Nodes with name, ip, ready, control_plane., type: list, returned: always}
gateway_node: {description: The egress gateway node (null without O(pick_gateway_node))., type: str, returned: always}
"""

from ansible_collections.cnibench.bench.plugins.module_utils.cnibench import KUBECTL_ARGS, run_task

ARGUMENT_SPEC = {
    **KUBECTL_ARGS,
    "expected_cni": {"type": "str", "required": True},
    "pick_gateway_node": {"type": "bool", "default": False},
    "preferred_gateway": {"type": "str"},
    "cni_gateway": {"type": "bool", "default": False},
    "cni_egress": {"type": "bool", "default": False},
    "envoy_gateway": {"type": "bool", "default": False},
}


def main() -> None:
    run_task("kube_cluster_info", ARGUMENT_SPEC, check_mode=True)


if __name__ == "__main__":
    main()
