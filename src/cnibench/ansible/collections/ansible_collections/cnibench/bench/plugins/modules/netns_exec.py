#!/usr/bin/python
# Thin wrapper: the logic is cnibench.platforms.netns.process.exec_to_file (typed and unit-tested).
from __future__ import annotations

DOCUMENTATION = r"""
module: netns_exec
short_description: Run a measurement command inside a network namespace, stdout to a file
description:
  - Runs O(argv) inside O(netns) and writes its standard output to O(output) (the raw artifact cnibench parses).
  - A tool that fails is not a failed task; its exit code and stderr are returned and cnibench records the
    repetition as failed with the reason. The task fails only if the command could not be run at all.
options:
  netns:
    description: Network namespace to run in.
    type: str
    required: true
  argv:
    description: Command and arguments (no shell).
    type: list
    elements: str
    required: true
  output:
    description: File that receives standard output.
    type: path
    required: true
  timeout:
    description: Seconds after which the command is killed.
    type: float
    required: true
  unset_env:
    description: Prefixes of environment variables the command runs without (k6 reads C(K6_*) variables).
    type: list
    elements: str
    default: []
  metrics:
    description:
      - After the command, query Prometheus over its measurement window and save the raw answers.
      - Keys C(netns), C(url), C(offset) (warm-up seconds left out), C(scrape_interval_s), C(out) (a directory).
      - A failing query does not fail the task; it is returned as RV(metrics_error).
    type: dict
author: cnibench developers
"""

EXAMPLES = r"""
- name: Measure
  cnibench.bench.netns_exec:
    netns: cnib1a2b-pod-iperf3-client
    argv: [iperf3, --client, 203.0.113.2, --json]
    output: /results/run/raw/hostgw/egress/rep-01.iperf3.json
    timeout: 30
"""

RETURN = r"""
exit_code:
  description:
    - The command's exit code, or null when it was killed at O(timeout).
    - Deliberately not C(rc), which would make Ansible fail the task and stop the run.
  type: int
  returned: always
timed_out:
  description: Whether the command was killed at O(timeout).
  type: bool
  returned: always
started_at:
  description: Unix time the command started.
  type: float
  returned: always
ended_at:
  description: Unix time the command ended.
  type: float
  returned: always
stderr_head:
  description: The beginning of the command's standard error (tools print their reason first).
  type: str
  returned: always
output:
  description: The file standard output was written to.
  type: str
  returned: always
env_removed:
  description: Variables of the environment the command ran without (O(unset_env)).
  type: list
  elements: str
  returned: always
metrics_error:
  description: Why the metrics are missing (Prometheus died, a query failed), or null.
  type: str
  returned: when O(metrics) is set
"""

from pathlib import Path

from ansible.module_utils.basic import AnsibleModule


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "netns": {"type": "str", "required": True},
            "argv": {"type": "list", "elements": "str", "required": True},
            "output": {"type": "path", "required": True},
            "timeout": {"type": "float", "required": True},
            "metrics": {"type": "dict"},
            "unset_env": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=False,
    )
    try:
        from cnibench.platforms.netns import process
    except ImportError as exc:
        module.fail_json(msg=f"cnibench is not importable by {module._name}'s interpreter: {exc}")
    p = module.params
    try:
        result = process.exec_to_file(
            p["netns"], p["argv"], output=Path(p["output"]), timeout=p["timeout"], unset_env=p["unset_env"]
        )
    except OSError as exc:
        module.fail_json(msg=f"cannot run {p['argv'][0]} in {p['netns']}: {exc}")
    extra = {}
    if p["metrics"]:
        extra["metrics_error"] = process.fetch_metrics(
            p["metrics"], started_at=result.started_at, ended_at=result.ended_at
        )
    # a tool that failed is a failed repetition, which cnibench records; the task itself succeeded
    module.exit_json(
        changed=True,
        failed=False,
        **result.as_module_result(p["output"]),
        **extra,
    )


if __name__ == "__main__":
    main()
