#!/usr/bin/python
# Thin wrapper: the logic is cnibench.platforms.netns.process.start_daemon (typed and unit-tested).
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
pid:
  description: PID (and process group) of the daemon.
  type: int
  returned: success
"""

from pathlib import Path

from ansible.module_utils.basic import AnsibleModule


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "netns": {"type": "str", "required": True},
            "argv": {"type": "list", "elements": "str", "required": True},
            "log": {"type": "path", "required": True},
            "listen_port": {"type": "int"},
            "timeout": {"type": "float", "default": 10.0},
        },
        supports_check_mode=False,
    )
    try:
        from cnibench.errors import CnibenchError
        from cnibench.platforms.netns import process
    except ImportError as exc:
        module.fail_json(msg=f"cnibench is not importable by {module._name}'s interpreter: {exc}")
    p = module.params
    try:
        pid = process.start_daemon(
            p["netns"], p["argv"], log=Path(p["log"]), listen_port=p["listen_port"], timeout=p["timeout"]
        )
    except CnibenchError as exc:
        module.fail_json(msg=f"{p['name']}: {exc}")
    module.exit_json(changed=True, pid=pid)


if __name__ == "__main__":
    main()
