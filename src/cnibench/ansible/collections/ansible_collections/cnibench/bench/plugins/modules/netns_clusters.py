#!/usr/bin/python
# Thin wrapper: module_utils/cnibench.py runs the task netns_clusters (cnibench.platforms.TASKS; typed, tested).
from __future__ import annotations

DOCUMENTATION = r"""
module: netns_clusters
short_description: Build, measure and destroy every cluster of a netns run, each step reported as it happens
description:
  - For each cluster of O(clusters) in order, builds it and starts its servers (waiting until Prometheus has scraped
    every node), runs its repetitions, and destroys it (always), in one module call. Three tasks per cluster cost
    Ansible and the module's start-up about 1 s each, most of the time between two clusters.
  - Every step is appended to O(stream) as it starts and ends (JSON lines), and so is each repetition's result;
    cnibench tails that file and takes a step for a task of its name (C(Build the netns cluster and start its
    servers), C(Destroy the netns cluster)), with the build's result as the cluster's facts.
  - A tool that fails is not a failed task. The task fails when a build fails (after that cluster is destroyed) or
    when a repetition could not be run at all (after the cluster's last repetition); no further cluster is built.
  - When O(stop_file) exists the run is stopping; the running tool is killed, the cluster destroyed and nothing more
    runs.
options:
  clusters:
    description:
      - The clusters in the plan's order, each a dict with C(cni), C(round), C(bundles) (rendered C(bundle.json)
        files applied in order), C(daemons) (as M(cnibench.bench.netns_setup) takes them), C(metrics) (how to reach
        Prometheus, how many targets to wait for, and C(scrape_after_last), whether the cluster waits for a scrape
        of every node after its last repetition before it goes; or null) and C(scenarios) (its loops of
        repetitions in order, each a dict with C(cni), C(scenario) and C(runs), the repetitions in the plan's order;
        a run has C(label), C(netns), C(argv) (no shell), C(stdout) (the raw artifact), C(timeout) (seconds),
        C(unset_env) (prefixes of variables the tool runs without; k6 reads C(K6_*)) and C(bundles) (rendered
        C(bundle.json) files applied before the tool and removed after it, also when it fails)).
    type: list
    elements: dict
    required: true
  state_file:
    description: The run's state file; every namespace is recorded there before it is created.
    type: path
    required: true
  stream:
    description: JSON lines file each step and repetition is appended to.
    type: path
    required: true
  stop_file:
    description: File whose existence means the run is stopping.
    type: path
    required: true
author: cnibench developers
"""

EXAMPLES = r"""
- name: Benchmark each CNI on a fresh cluster, round by round
  cnibench.bench.netns_clusters:
    clusters: "{{ cnibench_clusters }}"
    state_file: /run/cnibench/cnib1a2b.json
    stream: /results/run/ansible/measurements.jsonl
    stop_file: /results/run/ansible/stop
"""

RETURN = r"""
kind:
  description: What the result is (cnibench's event handler reads it), C(done); the steps are in O(stream).
  type: str
  returned: always
clusters:
  description: How many clusters were built.
  type: int
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
    "clusters": {"type": "list", "elements": "dict", "required": True},
    "state_file": {"type": "path", "required": True},
    "stream": {"type": "path", "required": True},
    "stop_file": {"type": "path", "required": True},
}


def main() -> None:
    run_task("netns_clusters", ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
