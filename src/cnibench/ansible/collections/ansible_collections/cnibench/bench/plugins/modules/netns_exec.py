#!/usr/bin/python
# Thin wrapper: module_utils/cnibench.py runs cnibench.orchestration.tasks.netns_exec (typed and unit-tested).
from __future__ import annotations

DOCUMENTATION = r"""
module: netns_exec
short_description: Run a measurement command inside a network namespace, stdout to a file
description:
  - Runs O(argv) inside O(netns) and writes its standard output to O(output) (the raw artifact cnibench parses).
  - cnibench queries the node metrics of the measurement window itself, while the next repetition runs.
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
  bundles:
    description:
      - Rendered bundles (C(bundle.json)) applied before the command and removed after it, also when it fails (an
        egress policy for this repetition only).
    type: list
    elements: path
    default: []
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
kind:
  description: What the result is (cnibench's event handler reads it), C(measurement).
  type: str
  returned: always
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
"""

from ansible_collections.cnibench.bench.plugins.module_utils.cnibench import run_task

ARGUMENT_SPEC = {
    "netns": {"type": "str", "required": True},
    "argv": {"type": "list", "elements": "str", "required": True},
    "output": {"type": "path", "required": True},
    "timeout": {"type": "float", "required": True},
    "bundles": {"type": "list", "elements": "path", "default": []},
    "unset_env": {"type": "list", "elements": "str", "default": []},
}


def main() -> None:
    run_task("netns_exec", ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
