#!/usr/bin/python
# Thin wrapper: the logic is cnibench.metrics.prometheus.wait_targets_up, run inside the namespace by
# cnibench.platforms.netns.process.metrics_in_netns (typed and unit-tested).
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
seconds:
  description: How long it took until every target was up.
  type: float
  returned: success
url:
  description: The Prometheus that was checked.
  type: str
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "netns": {"type": "str", "required": True},
            "url": {"type": "str", "required": True},
            "targets": {"type": "int", "required": True},
            "timeout": {"type": "float", "default": 30.0},
        },
        supports_check_mode=False,
    )
    try:
        from cnibench.platforms.netns import process
    except ImportError as exc:
        module.fail_json(msg=f"cnibench is not importable by {module._name}'s interpreter: {exc}")
    p = module.params
    answer = process.metrics_in_netns(
        p["netns"],
        ["wait", "--url", p["url"], "--targets", str(p["targets"]), "--timeout", str(p["timeout"])],
        timeout=p["timeout"] + 15,
    )
    if "error" in answer:
        module.fail_json(msg=str(answer["error"]), url=p["url"])
    module.exit_json(changed=False, seconds=answer.get("seconds"), url=p["url"])


if __name__ == "__main__":
    main()
