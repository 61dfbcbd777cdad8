#!/usr/bin/python
# Thin wrapper: module_utils/cnibench.py runs the task netns_setup (cnibench.platforms.TASKS; typed, tested).
from __future__ import annotations

DOCUMENTATION = r"""
module: netns_setup
short_description: Set up or remove part of a cnibench netns run in one step
description:
  - Applies the numbered ip/bridge/sysctl/nft files of the bundles cnibench rendered (the node network, a
    cluster, a scenario's LoadBalancer) in their namespaces, in order; then starts the daemons side by side and
    waits until each listens; then, with O(metrics), waits until Prometheus has scraped every node since the step
    began. C(absent) removes the bundles in reverse order.
  - Namespaces a bundle creates are recorded in O(state_file) before they exist, for C(cnibench clean).
options:
  bundles:
    description: Paths of the bundles' C(bundle.json), in the order they are applied.
    type: list
    elements: path
    required: true
  daemons:
    description:
      - Servers to start, each a dict with C(name), C(netns), C(argv), C(log), C(listen_port) (or null) and
        C(timeout) (seconds to start listening). They stop with their namespace.
    type: list
    elements: dict
    default: []
  metrics:
    description:
      - Wait for Prometheus to scrape the new nodes; keys C(netns) and C(url) (where it listens), C(targets) (how
        many node_exporters), C(timeout) (seconds).
    type: dict
  state:
    description: C(present) sets up, C(absent) removes (idempotent).
    type: str
    choices: [present, absent]
    default: present
  state_file:
    description: The run's state file (cleanup record).
    type: path
  cni:
    description: The CNI (datapath) whose cluster this builds; its facts are then returned.
    type: str
author: cnibench developers
"""

EXAMPLES = r"""
- name: Build the cluster and start its servers
  cnibench.bench.netns_setup:
    bundles: [/results/run/rendered/hostgw/cluster/bundle.json]
    daemons:
      - {name: iperf3-server, netns: cnib1a2b-ext, argv: [iperf3, --server], log: /results/run/logs/s.log,
         listen_port: 5201, timeout: 10}
    state_file: /run/cnibench/cnib1a2b.json
    cni: hostgw
"""

RETURN = r"""
kind:
  description: What the result is (cnibench's event handler reads it), C(cluster_facts) (with O(cni)) or C(done).
  type: str
  returned: always
cni:
  description: O(cni), whose facts these are.
  type: str
  returned: with O(cni)
commands:
  description: The commands that were run, in order.
  type: list
  returned: always
pids:
  description: The daemons' PIDs, in order.
  type: list
  returned: when state is present
facts:
  description:
    - C(links), the interface MTUs per namespace the bundles created, read back after applying them;
      C(metrics_targets_up_s), how long Prometheus took to scrape every node (with O(metrics)).
  type: dict
  returned: with O(cni) when state is present
"""

from ansible_collections.cnibench.bench.plugins.module_utils.cnibench import run_task

ARGUMENT_SPEC = {
    "bundles": {"type": "list", "elements": "path", "required": True},
    "daemons": {"type": "list", "elements": "dict", "default": []},
    "metrics": {"type": "dict"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "state_file": {"type": "path"},
    "cni": {"type": "str"},
}


def main() -> None:
    run_task("netns_setup", ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
