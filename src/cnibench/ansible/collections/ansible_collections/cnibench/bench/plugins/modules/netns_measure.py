#!/usr/bin/python
# Thin wrapper: module_utils/cnibench.py runs cnibench.orchestration.tasks.netns_measure (typed and unit-tested).
from __future__ import annotations

DOCUMENTATION = r"""
module: netns_measure
short_description: Run every repetition of a netns cluster, each one reported as it ends
description:
  - Runs the repetitions of O(loops) in order, each inside its network namespace with standard output to its raw
    artifact file, in one module call (an Ansible loop item per repetition costs a fork and a module start each).
  - Each repetition's result is appended to O(stream) the moment it ends (JSON lines); cnibench tails that file,
    records the repetition and queries its node metrics while the next one runs.
  - A tool that fails is not a failed task; its exit code and stderr are in its result and cnibench records the
    repetition as failed with the reason. The task fails only if a repetition could not be run at all.
  - When O(stop_file) exists the run is stopping; the running tool is killed and nothing more runs.
options:
  loops:
    description:
      - The cluster's scenarios in order, each a dict with C(cni), C(scenario) and C(runs), the repetitions in the
        plan's order. A run has C(label), C(netns), C(argv) (no shell), C(stdout) (the raw artifact), C(timeout)
        (seconds), C(unset_env) (prefixes of variables the tool runs without; k6 reads C(K6_*)) and C(bundles)
        (rendered C(bundle.json) files applied before the tool and removed after it, also when it fails).
    type: list
    elements: dict
    required: true
  stream:
    description: JSON lines file each repetition's result is appended to as it ends.
    type: path
    required: true
  stop_file:
    description: File whose existence means the run is stopping.
    type: path
    required: true
author: cnibench developers
"""

EXAMPLES = r"""
- name: Measure
  cnibench.bench.netns_measure:
    loops: "{{ cluster.scenarios }}"
    stream: /results/run/ansible/measurements.jsonl
    stop_file: /results/run/ansible/stop
"""

RETURN = r"""
kind:
  description: What the result is (cnibench's event handler reads it), C(done); the repetitions are in O(stream).
  type: str
  returned: always
measured:
  description: How many repetitions ran to their end.
  type: int
  returned: always
stopped:
  description: Whether the run was stopping (O(stop_file) existed) when the module ended.
  type: bool
  returned: always
"""

from ansible_collections.cnibench.bench.plugins.module_utils.cnibench import run_task

ARGUMENT_SPEC = {
    "loops": {"type": "list", "elements": "dict", "required": True},
    "stream": {"type": "path", "required": True},
    "stop_file": {"type": "path", "required": True},
}


def main() -> None:
    run_task("netns_measure", ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
