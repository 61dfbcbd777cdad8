#!/usr/bin/python
# Thin wrapper: module_utils/cnibench.py runs the task kube_key_secret (cnibench.platforms.TASKS; typed, tested).
from __future__ import annotations

DOCUMENTATION = r"""
module: kube_key_secret
short_description: Create a Secret holding a key generated for this cluster now (a CNI's, before its chart)
description:
  - Generates O(secret.random_bytes) random bytes (Python's secrets), writes them in hex into O(secret.template) and
    applies the Secret O(secret.name) in O(secret.namespace) with it under O(secret.key), through kubectl apply's
    standard input.
  - The key is in no parameter, no file, no command line and no result.
options:
  secret:
    description: name, namespace, key, template (with C({hex})) and random_bytes of the Secret.
    type: dict
    required: true
  kubeconfig: {description: kubeconfig file., type: str}
  context: {description: kubeconfig context., type: str}
  namespace: {description: cnibench's namespace., type: str, required: true}
author: cnibench developers
"""

EXAMPLES = r"""
- name: Cilium's IPsec key
  cnibench.bench.kube_key_secret:
    namespace: cnibench
    secret:
      name: cilium-ipsec-keys
      namespace: kube-system
      key: keys
      template: "3+ rfc4106(gcm(aes)) {hex} 128"
      random_bytes: 20
"""

RETURN = r"""
kind:
  description: What the result is (cnibench's event handler reads it), C(done).
  type: str
  returned: always
name: {description: The Secret's name., type: str, returned: always}
namespace: {description: Its namespace., type: str, returned: always}
"""

from ansible_collections.cnibench.bench.plugins.module_utils.cnibench import KUBECTL_ARGS, run_task

ARGUMENT_SPEC = {
    "secret": {"type": "dict", "required": True},
    **KUBECTL_ARGS,
}


def main() -> None:
    run_task("kube_key_secret", ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
