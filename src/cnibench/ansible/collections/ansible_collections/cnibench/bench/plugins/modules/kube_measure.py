#!/usr/bin/python
# Thin wrapper: module_utils/cnibench.py runs the task kube_measure (cnibench.platforms.TASKS; typed, tested).
from __future__ import annotations

DOCUMENTATION = r"""
module: kube_measure
short_description: Run one measurement on this machine (kubectl exec into a pod, or k6), stdout to a file
description:
  - Runs O(argv) on the controller and writes its standard output to O(output) (the raw artifact cnibench parses).
  - C(@name@) in O(argv) is replaced by O(substitutions) (the address the Gateway got, known only at run time).
  - A tool that fails is not a failed task; cnibench records the repetition as failed with the reason.
  - With O(metrics), the in-cluster Prometheus is queried over the measurement window through a port-forward.
options:
  argv: {description: Command and arguments (no shell)., type: list, elements: str, required: true}
  output: {description: File that receives standard output., type: path, required: true}
  timeout: {description: Seconds after which the command is killed., type: float, required: true}
  substitutions: {description: Placeholders (without the @) and their values., type: dict, default: {}}
  expect: {description: Expectations known only at run time (e.g. the source IP); returned as they are., type: dict}
  unset_env:
    description: Prefixes of environment variables the command runs without (k6 reads C(K6_*) variables).
    type: list
    elements: str
    default: []
  metrics: {description: Prometheus service, port, uplinks, scrape interval, offset and output directory., type: dict}
  no_proxy:
    description: Addresses (C(@name@) filled in) the command must reach without a proxy (added to NO_PROXY when a
      proxy is set).
    type: list
    elements: str
    default: []
  kubeconfig: {description: kubeconfig file., type: str}
  context: {description: kubeconfig context., type: str}
  namespace: {description: cnibench's namespace., type: str, required: true}
author: cnibench developers
"""

EXAMPLES = r"""
- name: Measure
  cnibench.bench.kube_measure:
    argv: [kubectl, exec, iperf3-client, --, iperf3, --client, 172.18.255.252, --json]
    output: /results/run/raw/cilium/egress/rep-01.iperf3.json
    timeout: 32
    namespace: cnibench
"""

RETURN = r"""
kind:
  description: What the result is (cnibench's event handler reads it), C(measurement).
  type: str
  returned: always
exit_code:
  description: The command's exit code (null when killed at the timeout); deliberately not rc.
  type: int
  returned: always
timed_out: {description: Whether the command was killed at O(timeout)., type: bool, returned: always}
started_at: {description: Unix time the command started., type: float, returned: always}
ended_at: {description: Unix time the command ended., type: float, returned: always}
stderr_head: {description: The beginning of standard error., type: str, returned: always}
output: {description: The file standard output was written to., type: str, returned: always}
env_removed:
  description: Variables of the environment the command ran without (O(unset_env)).
  type: list
  elements: str
  returned: always
expect: {description: O(expect), for cnibench to check the artifact against., type: dict, returned: always}
metrics_error: {description: Why the metrics are missing, or null., type: str, returned: when O(metrics) is set}
"""

from ansible_collections.cnibench.bench.plugins.module_utils.cnibench import KUBECTL_ARGS, run_task

ARGUMENT_SPEC = {
    "argv": {"type": "list", "elements": "str", "required": True},
    "output": {"type": "path", "required": True},
    "timeout": {"type": "float", "required": True},
    "substitutions": {"type": "dict", "default": {}},
    "expect": {"type": "dict"},
    "metrics": {"type": "dict"},
    "unset_env": {"type": "list", "elements": "str", "default": []},
    "no_proxy": {"type": "list", "elements": "str", "default": []},
    **KUBECTL_ARGS,
}


def main() -> None:
    run_task("kube_measure", ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
