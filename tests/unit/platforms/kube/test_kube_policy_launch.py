"""The Kubernetes denied-probe launcher, run for real on this machine (no cluster: the probe and the tool are the
real iperf3 on loopback instead of ``kubectl exec``): its record is what the scenario's parser reads on every
platform, and the tool's exit code is the launcher's."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time

import pytest

from cnibench.platforms.kube import policy_launch
from cnibench.tools.policy_probe import FORMAT, PROBE_S, parse_record, probe_argv

pytestmark = pytest.mark.skipif(shutil.which("iperf3") is None, reason="iperf3 is not installed")


def _closed_port() -> int:
    with socket.socket() as s:  # bound, never listening: a connect is refused
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_probe_that_reaches_the_servers_host_fails_the_repetition_and_the_tool_still_runs():
    port = _closed_port()
    argv = policy_launch.argv(probe_argv("127.0.0.1", port), ["iperf3", "--version"], python=sys.executable)
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["format"] == FORMAT and doc["listing"] is None
    assert doc["probe"]["argv"][:3] == ["iperf3", "--client", "127.0.0.1"]
    record = parse_record(proc.stdout)
    assert record is not None
    assert record.probe == "passed" and "refused" in record.probe_detail.lower()  # a RST: the SYN got through
    assert record.tool_stdout.startswith("iperf 3.") and record.tool_exit_code == 0


def test_the_tool_starts_at_the_probes_fixed_offset():
    start = time.monotonic()
    doc, _ = policy_launch.launch(["true"], [sys.executable, "-c", "import time; print(time.monotonic())"])
    tool_started = float(doc["tool"]["stdout"])  # type: ignore[index]
    assert PROBE_S <= tool_started - start < PROBE_S + 1.0
    assert doc["probe"]["elapsed_s"] < PROBE_S  # type: ignore[index]


def test_the_launchers_exit_code_is_the_tools():
    doc, code = policy_launch.launch(["true"], [sys.executable, "-c", "import sys; sys.exit(3)"])
    assert code == 3 and doc["tool"]["exit_code"] == 3  # type: ignore[index]
    doc, code = policy_launch.launch(["/nonexistent/probe"], ["true"])
    assert code == 0 and doc["probe"]["exit_code"] == 127  # type: ignore[index]
