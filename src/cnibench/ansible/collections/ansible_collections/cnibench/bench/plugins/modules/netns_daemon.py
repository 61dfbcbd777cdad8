#!/usr/bin/python
# Thin wrapper: module_utils/cnibench.py runs the task netns_daemon (cnibench.platforms.TASKS; typed, tested).
from __future__ import annotations

DOCUMENTATION = r"""
module: netns_daemon
short_description: Start a server inside a network namespace, owned by PID
description:
  - Starts O(argv) inside O(netns) in its own session and, with O(listen_port), waits until it listens there.
  - It is stopped with the cluster: destroying a namespace ends every process inside it.
options:
  name:
    description: A name for the daemon (for messages and the state file).
    type: str
    required: true
  netns:
    description: Network namespace to run in.
    type: str
    required: true
  argv:
    description: Command and arguments (no shell).
    type: list
    elements: str
    required: true
  log:
    description: File that receives the daemon's stdout and stderr.
    type: path
    required: true
  listen_port:
    description: TCP port to wait for.
    type: int
  timeout:
    description: Seconds to wait for O(listen_port).
    type: float
    default: 10
author: cnibench developers
"""

EXAMPLES = r"""
- name: Start the iperf3 server
  cnibench.bench.netns_daemon:
    name: iperf3-server
    netns: cnib1a2b-ext
    argv: [iperf3, --server, --json, --bind, 203.0.113.2]
    log: /results/run/logs/iperf3-server.log
    listen_port: 5201
"""

RETURN = r"""
kind:
  description: What the result is (cnibench's event handler reads it), C(done).
  type: str
  returned: always
pid:
  description: PID (and process group) of the daemon.
  type: int
  returned: success
"""

from ansible_collections.cnibench.bench.plugins.module_utils.cnibench import run_task

ARGUMENT_SPEC = {
    "name": {"type": "str", "required": True},
    "netns": {"type": "str", "required": True},
    "argv": {"type": "list", "elements": "str", "required": True},
    "log": {"type": "path", "required": True},
    "listen_port": {"type": "int"},
    "timeout": {"type": "float", "default": 10.0},
}


def main() -> None:
    run_task("netns_daemon", ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
