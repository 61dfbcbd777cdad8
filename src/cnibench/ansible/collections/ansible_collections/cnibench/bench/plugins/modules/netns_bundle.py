#!/usr/bin/python
# Thin wrapper: the logic is cnibench.platforms.netns.ops.apply_bundle (typed and unit-tested).
from __future__ import annotations

DOCUMENTATION = r"""
module: netns_bundle
short_description: Apply or remove a rendered cnibench netns bundle
description:
  - Applies the numbered ip/bridge/sysctl/nft files of a bundle written by cnibench (a netns cluster or an
    egress policy) in their namespaces, or removes the bundle again.
  - Namespaces a bundle creates are recorded in O(state_file) before they exist, for C(cnibench clean).
options:
  bundle:
    description: Path of the bundle's C(bundle.json).
    type: path
    required: true
  state:
    description: C(present) applies the bundle, C(absent) removes it (idempotent).
    type: str
    choices: [present, absent]
    default: present
  state_file:
    description: The run's state file (cleanup record).
    type: path
author: cnibench developers
"""

EXAMPLES = r"""
- name: Build the cluster
  cnibench.bench.netns_bundle:
    bundle: /results/run/rendered/hostgw/cluster/bundle.json
    state: present
    state_file: /run/cnibench/cnib1a2b.json
"""

RETURN = r"""
bundle:
  description: The bundle that was applied or removed.
  type: str
  returned: always
commands:
  description: The commands that were run, in order.
  type: list
  returned: always
links:
  description: Interface MTUs per namespace the bundle created, read back after applying it.
  type: dict
  returned: when state is present
"""

from pathlib import Path

from ansible.module_utils.basic import AnsibleModule


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "bundle": {"type": "path", "required": True},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "state_file": {"type": "path"},
        },
        supports_check_mode=False,
    )
    try:
        from cnibench.errors import CnibenchError
        from cnibench.platforms.netns import ops
    except ImportError as exc:
        module.fail_json(msg=f"cnibench is not importable by {module._name}'s interpreter: {exc}")
    params = module.params
    state_file = Path(params["state_file"]) if params["state_file"] else None
    try:
        commands = ops.apply_bundle(Path(params["bundle"]), present=params["state"] == "present", state_file=state_file)
        links = ops.link_mtus(Path(params["bundle"])) if params["state"] == "present" else {}
    except CnibenchError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=True, bundle=params["bundle"], commands=[" ".join(c) for c in commands], links=links)


if __name__ == "__main__":
    main()
