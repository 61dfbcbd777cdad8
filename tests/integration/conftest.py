from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from cnibench import runstate as run_state
from cnibench.platforms.netns import ops
from cnibench.proc import descendants


def _others_live_runs() -> set[str]:
    """Prefixes of runs whose owner is alive and not a process of this test session: a run someone else started
    on this machine, whose namespaces are not ours to judge or remove."""
    ours = {os.getpid(), *descendants(os.getpid())}
    out = set()
    for path in run_state.STATE_DIR.glob("cnib*.json"):
        data = run_state.read_state(path)
        if run_state.state_owner_alive(data) and data.get("owner_pid") not in ours:
            out.add(str(data.get("prefix") or path.stem))
    return out


@pytest.fixture
def state_dir(tmp_path) -> Path:
    """For tests of the library: a private state directory (runs of the CLI use /run/cnibench)."""
    return tmp_path / "state"


@pytest.fixture(autouse=True)
def no_leftovers():
    before = set(ops.list_namespaces())
    yield
    others = _others_live_runs()
    left = [
        n
        for n in ops.list_namespaces()
        if n not in before and ops.is_cnibench_namespace(n) and n.split("-", 1)[0] not in others
    ]
    if left:
        ops.destroy_namespaces(left)
    assert not left, f"namespaces left behind: {left}"


def write_spec(
    path: Path,
    *,
    cnis=("hostgw", "vxlan"),
    ingress: dict | None = None,
    metrics: bool = False,
    rounds: int = 1,
    **egress: object,
) -> Path:
    """A small spec: egress with these settings (none: no egress), ingress when given; node metrics only when
    asked for (they have tests of their own); one round unless asked for more."""
    scenarios: dict[str, dict] = {}
    if egress or ingress is None:
        scenarios["egress"] = {"duration": 1, "omit": 0, "repetitions": 2, **egress}
    if ingress is not None:
        scenarios["ingress"] = {"vus": 10, "duration": 2, "repetitions": 1, **ingress}
    spec = {
        "name": "it",
        "platform": "netns",
        "cnis": list(cnis),
        "rounds": rounds,
        "metrics": {"enabled": metrics},
        "scenarios": scenarios,
    }
    path.write_text(yaml.safe_dump(spec))
    return path


def cnibench(*args: str, **kwargs) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cnibench", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs
    )


def run_dir_of(results: Path) -> Path:
    return (results / "latest").resolve()


def prefix_of(run_dir: Path) -> str:
    return json.loads((run_dir / "environment.json").read_text())["prefix"]


def processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(f"{entry.name} {cmdline}")
    return found


def wait_for_samples(run_parent: Path, count: int, timeout: float = 60) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        latest = run_parent / "latest" / "results.json"
        try:
            if len(json.loads(latest.read_text())["samples"]) >= count:
                return latest.resolve().parent
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"no {count} samples within {timeout} s")
