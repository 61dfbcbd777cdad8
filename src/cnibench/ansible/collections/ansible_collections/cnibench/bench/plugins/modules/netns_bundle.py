#!/usr/bin/python
# Thin wrapper: module_utils/cnibench.py runs cnibench.orchestration.tasks.netns_bundle (typed and unit-tested).
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
  cni:
    description: The CNI (datapath) whose cluster this bundle builds; its links are then returned as its facts.
    type: str
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
kind:
  description: What the result is (cnibench's event handler reads it), C(cluster_facts) (with O(cni)) or C(done).
  type: str
  returned: always
bundle:
  description: The bundle that was applied or removed.
  type: str
  returned: without O(cni)
cni:
  description: O(cni), whose facts these are.
  type: str
  returned: with O(cni)
commands:
  description: The commands that were run, in order.
  type: list
  returned: always
facts:
  description: C(links), the interface MTUs per namespace the bundle created, read back after applying it.
  type: dict
  returned: with O(cni) when state is present
"""

from ansible_collections.cnibench.bench.plugins.module_utils.cnibench import run_task

ARGUMENT_SPEC = {
    "bundle": {"type": "path", "required": True},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "state_file": {"type": "path"},
    "cni": {"type": "str"},
}


def main() -> None:
    run_task("netns_bundle", ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
