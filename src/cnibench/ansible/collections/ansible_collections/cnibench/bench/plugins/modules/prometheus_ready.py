#!/usr/bin/python
# Thin wrapper: module_utils/cnibench.py runs cnibench.orchestration.tasks.prometheus_ready (typed and unit-tested).
# cnibench.platforms.netns.netns_metrics.metrics_in_netns (typed and unit-tested).
from __future__ import annotations

DOCUMENTATION = r"""
module: prometheus_ready
short_description: Wait until Prometheus scrapes every node_exporter target
description:
  - Polls Prometheus's targets API from inside O(netns) until O(targets) targets are up, with a deadline.
  - Fails with the targets that are not up and their last scrape error.
options:
  netns:
    description: Network namespace Prometheus is reachable from.
    type: str
    required: true
  url:
    description: Prometheus's base URL.
    type: str
    required: true
  targets:
    description: How many targets must be up.
    type: int
    required: true
  cni:
    description: The CNI (datapath) whose cluster this is (the seconds it took are its fact).
    type: str
    required: true
  timeout:
    description: Seconds to wait.
    type: float
    default: 30
author: cnibench developers
"""

EXAMPLES = r"""
- name: Wait until Prometheus scrapes every node
  cnibench.bench.prometheus_ready:
    netns: cnib1a2b-client
    url: http://172.18.0.1:9090
    targets: 3
"""

RETURN = r"""
kind:
  description: What the result is (cnibench's event handler reads it), C(metrics_ready).
  type: str
  returned: always
seconds:
  description: How long it took until every target was up.
  type: float
  returned: success
cni:
  description: O(cni).
  type: str
  returned: success
"""

from ansible_collections.cnibench.bench.plugins.module_utils.cnibench import run_task

ARGUMENT_SPEC = {
    "netns": {"type": "str", "required": True},
    "url": {"type": "str", "required": True},
    "targets": {"type": "int", "required": True},
    "cni": {"type": "str", "required": True},
    "timeout": {"type": "float", "default": 30.0},
}


def main() -> None:
    run_task("prometheus_ready", ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
