"""The shared helpers of the prerequisite checks (what a platform needs before it starts, and how to get what is
missing): a tool on the PATH and its version, a Python module, privileges. Each platform lists its own checks
(``Platform.prerequisites``; the Kubernetes ones in :mod:`cnibench.platforms.kube.prerequisites`)."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cnibench.errors import PrerequisiteError
from cnibench.proc import tool_path

CAP_NET_ADMIN = 12
CAP_SYS_ADMIN = 21


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    hint: str = ""


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
        "run as root (as root: .venv/bin/cnibench ...; with sudo: sudo .venv/bin/cnibench ...)",
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


METRICS_TOOLS = [
    ("prometheus", f"{APT} prometheus", "prometheus (metrics)"),
    ("prometheus-node-exporter", f"{APT} prometheus-node-exporter", "node_exporter (metrics)"),
]


def metrics_checks() -> list[Check]:
    """Node metrics on this machine: Prometheus and node_exporter (netns runs them in its namespaces)."""
    return [check_tool(name, hint, what=what) for name, hint, what in METRICS_TOOLS]


def unique(checks: list[Check]) -> list[Check]:
    """Each check once (two scenarios may need the same tool), in order."""
    seen: set[str] = set()
    out = []
    for check in checks:
        if check.name not in seen:
            seen.add(check.name)
            out.append(check)
    return out


def check_iperf3(*, udp: bool = False, what: str = "iperf3") -> Check:
    """iperf3 and its version: ``--get-server-output`` (the server's own view, every run) needs 3.1; a UDP receiver
    summary in the server's JSON needs 3.11 (esnet/iperf#1174), so a UDP run needs 3.11 where the server runs.
    ``what``: the check's name, the scenario's (:func:`unique` keeps one check per name: two scenarios with
    different floors must not share one)."""
    from cnibench.tools import iperf3

    path = tool_path("iperf3")
    if path is None:
        return Check(what, False, "not found", f"{APT} iperf3")
    _ok, text = tool_output([path, "--version"])
    version = iperf3.version_of(text)
    if version is None:
        return Check(what, False, f"{path}: cannot read its version ({text[:60] or 'no output'})")
    floor = iperf3.MIN_VERSION_UDP_RECEIVER if udp else iperf3.MIN_VERSION_SERVER_OUTPUT
    need = ".".join(map(str, floor))
    if iperf3.older_than(version, floor):
        why = "a UDP receiver summary" if udp else "--get-server-output (the server's own view)"
        detail = f"{version} is too old: {why} needs {need}+"
        return Check(what, False, detail, f"{APT} iperf3 (>= {need})")
    udp_note = "" if udp or not iperf3.older_than(version, iperf3.MIN_VERSION_UDP_RECEIVER) else "; UDP needs 3.11+"
    return Check(what, True, f"{version} ({path}){udp_note}")


def require_privileges() -> None:
    check = check_privileges()
    if not check.ok:
        raise PrerequisiteError(f"{check.detail}; {check.hint}")


_VERSION_IN_TEXT = re.compile(r"v?([0-9]+)\.([0-9]+)(?:\.([0-9]+))?")


def parse_version(text: str) -> tuple[int, int, int] | None:
    """The first version number in a tool's output: ``kind v0.30.0 go1.24`` -> (0, 30, 0)."""
    match = _VERSION_IN_TEXT.search(text)
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def tool_output(argv: list[str], timeout: float = 15.0) -> tuple[bool, str]:
    """Run a tool for what it prints: (it exited 0, its stdout; or its stderr when it failed)."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    ok = proc.returncode == 0
    # a failing tool says why on stderr (docker and kubectl print their client part on stdout first)
    text = (proc.stdout if ok else proc.stderr or proc.stdout).strip()
    return ok, text


def check_versioned(
    name: str,
    version_argv: list[str],
    hint: str,
    *,
    minimum: tuple[int, int] | None = None,
    maximum: tuple[int, int] | None = None,
) -> Check:
    """A tool, its version (from ``version_argv``'s output), and whether it is at least ``minimum`` and below
    ``maximum`` (major, minor); ``hint`` says how to get a good one."""
    path = tool_path(name)
    if path is None:
        return Check(name, False, "not found", hint)
    ok, text = tool_output([path, *version_argv[1:]])
    version = parse_version(text) if ok else None
    if version is None:
        return Check(name, False, f"{path}: cannot read its version ({text.splitlines()[0] if text else 'no output'})",
                     hint)  # fmt: skip
    shown = ".".join(map(str, version))
    if minimum is not None and version[:2] < minimum:
        return Check(name, False, f"{shown} is too old (need {'.'.join(map(str, minimum))}+)", hint)
    if maximum is not None and version[:2] >= maximum:
        return Check(name, False, f"{shown} is not supported (need below {'.'.join(map(str, maximum))})", hint)
    return Check(name, True, f"{shown} ({path})")


def check_collection(name: str) -> Check:
    """An Ansible collection importable by cnibench's interpreter (the ``ansible`` package bundles most)."""
    module = f"ansible_collections.{name}"
    if importlib.util.find_spec(module.rsplit(".", 1)[0]) is not None and importlib.util.find_spec(module) is not None:
        return Check(name, True, "Ansible collection found")
    return Check(
        name, False, f"Ansible collection {name} not found", f"{PIP} ansible (in cnibench's venv; it bundles it)"
    )
