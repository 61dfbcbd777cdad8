#!/usr/bin/python
# Thin wrapper: the logic is in cnibench.platforms.kube.aks (pin_subscription).
from __future__ import annotations

DOCUMENTATION = r"""
module: aks_subscription
short_description: Pin the Azure subscription a run bills, for Terraform's apply and destroy
description:
  - Resolves the subscription once per run (O(subscription_id), else C(ARM_SUBSCRIPTION_ID), else the Azure CLI's
    selected one) and keeps its id in O(state_dir) with mode 0600; a run's later clusters read it back. Terraform's
    apply and destroy get it as C(ARM_SUBSCRIPTION_ID) (azurerm 4.x requires a subscription id).
  - Only the subscription's name is returned, never its id.
options:
  state_dir: {description: The run's private state directory., type: path, required: true}
  subscription_id: {description: "The spec's aks.subscription_id.", type: str}
author: cnibench developers
"""

EXAMPLES = r"""
- name: Pin the subscription
  cnibench.bench.aks_subscription:
    state_dir: /var/lib/cnibench/kube/cnib1a2b
"""

RETURN = r"""
name: {description: "The subscription's name (null when it cannot be looked up).", type: str, returned: success}
source: {description: Where the subscription came from., type: str, returned: success}
"""

from pathlib import Path

from ansible.module_utils.basic import AnsibleModule


def main() -> None:
    module = AnsibleModule(
        argument_spec={"state_dir": {"type": "path", "required": True}, "subscription_id": {"type": "str"}},
        supports_check_mode=False,
    )
    try:
        from cnibench.errors import CnibenchError
        from cnibench.platforms.kube import aks
    except ImportError as exc:
        module.fail_json(msg=f"cnibench is not importable by {module._name}'s interpreter: {exc}")
    try:
        subscription = aks.pin_subscription(Path(module.params["state_dir"]), module.params["subscription_id"])
    except CnibenchError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, name=subscription.name, source=subscription.source)


if __name__ == "__main__":
    main()
