"""Shared helpers for the benchmarks (run as root: they build real namespaces)."""

from __future__ import annotations

import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from cnibench import environment
from cnibench.platforms.netns import ops
from cnibench.platforms.netns.topology import Topology, build_topology, new_prefix
from cnibench.results.model import RunResults, read_results

RESULTS = Path(__file__).parent / "results"


def describe(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "mean": statistics.fmean(values),
        "stdev": statistics.stdev(values) if len(values) > 1 else 0.0,
    }


def save(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    data = {
        "benchmark": name,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "kernel": platform.release(),
            "cpu_model": environment.cpu_model(),
            "cpu_count": environment.os.cpu_count(),
            "python": sys.version.split()[0],
        },
        **data,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def local_topology(
    datapath: str = "hostgw", pods: list[tuple[str, str]] | None = None, client: bool = False
) -> Topology:
    """The default spec's cluster (control plane + 2 workers, kind's addresses), with a fresh prefix."""
    return build_topology(
        prefix=new_prefix(ops.list_namespaces()),
        datapath=datapath,
        workers=2,
        node_cidr="172.18.0.0/24",
        pod_cidr="10.244.0.0/16",
        external_cidr="203.0.113.0/24",
        pods=pods or [],
        client=client,
    )


def cnibench_run(spec: dict[str, Any], directory: Path, *, wait: bool = False) -> tuple[RunResults, float]:
    """Run the real CLI on ``spec`` with results in ``directory``; the run's results and its wall time (``wait``:
    wait for another run measuring on this machine, the wait included in the time)."""
    path = directory / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "cnibench", "run", str(path), "--results-dir", str(directory)]
        + (["--wait"] if wait else []),
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"cnibench run failed ({proc.returncode}): {proc.stdout}{proc.stderr}")
    return read_results(directory / "latest"), wall
