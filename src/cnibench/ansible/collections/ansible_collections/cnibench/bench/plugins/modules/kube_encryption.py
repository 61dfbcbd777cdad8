#!/usr/bin/python
# Thin wrapper: module_utils/cnibench.py runs the task kube_encryption (cnibench.platforms.TASKS; typed, tested).
from __future__ import annotations

DOCUMENTATION = r"""
module: kube_encryption
short_description: Read back the encryption between nodes a CNI variant asked for, before anything is measured
description:
  - Asks every node's agent of O(cni) what encryption it has (the CNI's descriptor says how, e.g. Cilium's
    cilium-dbg status), again while it is not yet active, until O(timeout).
  - Returns the CNI's cluster facts - the encryption in effect, what each node said, and the problems (requested
    but not active, tunnels to fewer nodes than there are) - which cnibench records and warns about; it does not
    fail on them.
options:
  variant: {description: The variant's name (what the run records it under)., type: str, required: true}
  cni: {description: The CNI it is a variant of., type: str, required: true}
  requested: {description: The encryption the variant asks for., type: str, choices: [wireguard, ipsec], required: true}
  timeout: {description: Seconds the agents' tunnels may take to come up., type: float, default: 120}
  kubeconfig: {description: kubeconfig file., type: str}
  context: {description: kubeconfig context., type: str}
  namespace: {description: cnibench's namespace., type: str, required: true}
author: cnibench developers
"""

EXAMPLES = r"""
- name: Check WireGuard is active
  cnibench.bench.kube_encryption:
    variant: cilium-wg
    cni: cilium
    requested: wireguard
    namespace: cnibench
"""

RETURN = r"""
kind:
  description: What the result is (cnibench's event handler reads it), C(cluster_facts).
  type: str
  returned: always
cni: {description: O(variant)., type: str, returned: always}
facts:
  description: effective_config (the encryption in effect), encryption_read_back (per node), effective_warnings.
  type: dict
  returned: always
"""

from ansible_collections.cnibench.bench.plugins.module_utils.cnibench import KUBECTL_ARGS, run_task

ARGUMENT_SPEC = {
    "variant": {"type": "str", "required": True},
    "cni": {"type": "str", "required": True},
    "requested": {"type": "str", "choices": ["wireguard", "ipsec"], "required": True},
    "timeout": {"type": "float", "default": 120.0},
    **KUBECTL_ARGS,
}


def main() -> None:
    run_task("kube_encryption", ARGUMENT_SPEC, check_mode=True)


if __name__ == "__main__":
    main()
