"""Shared by the netns policy tests: the lab's addresses and helpers (the ``lab`` fixture is in conftest.py)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

CLIENTS = ["10.244.2.3", "10.244.1.3"]
PORTS = [("TCP", 5201), ("TCP", 8080)]
SERVER = "10.99.2.1"
#: The src namespace's own primary address: a source no policy here admits (the probes' intruder).
INTRUDER = "10.99.1.1"

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("nft") is None or shutil.which("ip") is None, reason="needs root, ip and nft"
)


def ip(*args: str, netns: str | None = None) -> None:
    prefix = ["ip", "netns", "exec", netns] if netns else []
    subprocess.run([*prefix, "ip", *args], check=True, capture_output=True)


def nft_apply(netns: str, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", netns, "nft", "-f", "-"], input=script, text=True,
                          capture_output=True, check=False)  # fmt: skip
