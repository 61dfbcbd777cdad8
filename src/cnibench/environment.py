"""Every run records the machine and tool versions it ran with (pyperf-style metadata)."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import psutil

from cnibench import __version__
from cnibench.proc import CommandError, run, tool_path
from cnibench.tools import iperf3, k6, nginx


def _first_line(argv: list[str]) -> str | None:
    path = tool_path(argv[0])
    if path is None:
        return None
    try:
        proc = run([path, *argv[1:]], timeout=10, check=False)
    except CommandError:
        return None
    text = (proc.stdout or proc.stderr).strip()
    return text.splitlines()[0] if text else None


def _package(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _prometheus_version(line: str | None) -> str | None:
    """``prometheus, version 2.42.0+ds (branch: ...)`` -> ``2.42.0+ds`` (node_exporter prints the same way)."""
    if not line or ", version " not in line:
        return None
    return line.split(", version ", 1)[1].split()[0]


def cpu_model() -> str | None:
    """The CPU's model name from ``/proc/cpuinfo`` (psutil does not report it), else what Python's platform says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def memory_bytes() -> int:
    """The machine's physical memory (bytes)."""
    return int(psutil.virtual_memory().total)


def kube_tools(extra: Mapping[str, list[str]]) -> dict[str, Any]:
    """The Kubernetes platforms' tools and the pinned versions and images a run installs (recorded with the run);
    ``extra``: the platform's own tools, name -> the argv that prints its version."""
    from cnibench import pins
    from cnibench.doctor import parse_version

    def version(argv: list[str]) -> str | None:
        parsed = parse_version(_first_line(argv) or "")
        return ".".join(map(str, parsed)) if parsed else None

    tools = {
        "kubectl": version(["kubectl", "version", "--client"]),
        "helm": version(["helm", "version", "--short"]),
        "kubernetes.core": _collection_version("kubernetes.core"),
    }
    tools.update({name: version(argv) for name, argv in extra.items()})
    images = {
        name.lower(): value for name, value in vars(pins).items() if name.endswith("_IMAGE") and isinstance(value, str)
    }
    return {"tools": tools, "images": images}


def _collection_version(name: str) -> str | None:
    import importlib.util
    import json

    spec = importlib.util.find_spec("ansible_collections." + name)
    if spec is None or not spec.submodule_search_locations:
        return None
    manifest = Path(next(iter(spec.submodule_search_locations))) / "MANIFEST.json"
    try:
        return str(json.loads(manifest.read_text(encoding="utf-8"))["collection_info"]["version"])
    except (OSError, ValueError, KeyError):
        return None


def collect() -> dict[str, Any]:
    iperf3_line = _first_line(["iperf3", "--version"])
    k6_line = _first_line(["k6", "version"])
    nginx_line = _first_line(["nginx", "-v"])
    prometheus_line = _first_line(["prometheus", "--version"])
    exporter_line = _first_line(["prometheus-node-exporter", "--version"])
    return {
        "hostname": platform.node(),
        "kernel": platform.release(),
        "os": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_bytes": memory_bytes(),
        "python": sys.version.split()[0],
        "cnibench": __version__,
        "tools": {
            "iperf3": iperf3.version_of(iperf3_line) if iperf3_line else None,
            "k6": k6.version_of(k6_line) if k6_line else None,
            "nginx": nginx.version_of(nginx_line) if nginx_line else None,
            "prometheus": _prometheus_version(prometheus_line),
            "node_exporter": _prometheus_version(exporter_line),
            "ansible-core": _package("ansible-core"),
            "ansible-runner": _package("ansible-runner"),
            "nftables": _first_line(["nft", "--version"]),
            "iproute2": _first_line(["ip", "-V"]),
        },
        "clusters": {},
    }
