#!/usr/bin/python
# Thin wrapper: module_utils/cnibench.py runs the task aks_subscription (cnibench.platforms.TASKS; typed, tested).
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
kind:
  description: What the result is (cnibench's event handler reads it), C(done).
  type: str
  returned: always
name: {description: "The subscription's name (null when it cannot be looked up).", type: str, returned: success}
source: {description: Where the subscription came from., type: str, returned: success}
"""

from ansible_collections.cnibench.bench.plugins.module_utils.cnibench import run_task

ARGUMENT_SPEC = {"state_dir": {"type": "path", "required": True}, "subscription_id": {"type": "str"}}


def main() -> None:
    run_task("aks_subscription", ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
