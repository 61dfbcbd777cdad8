"""The netns platform's Prometheus, reached from inside the namespace it listens in (the host in front of the
cluster): ``python -m cnibench.metrics`` runs there, after each repetition and while the cluster starts."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from cnibench.proc import error_summary
from cnibench.spawn import netns_argv


def metrics_in_netns(netns: str, args: list[str], *, timeout: float) -> dict[str, Any]:
    """Run ``python -m cnibench.metrics ARGS`` inside ``netns`` (where Prometheus is reachable); its JSON answer.

    Prometheus failing is an answer too (``{"error": ...}``), never an exception: metrics are then missing.
    """
    argv = netns_argv(netns, [sys.executable, "-m", "cnibench.metrics", *args])
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"metrics query did not finish within {timeout:g} s"}
    lines = proc.stdout.strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if lines else {}
    except ValueError:
        answer = {}
    if not isinstance(answer, dict) or not answer:
        return {"error": f"metrics query failed: {error_summary(proc.stderr) or 'no answer'}"}
    return answer


def fetch_metrics(metrics: dict[str, Any], *, started_at: float, ended_at: float) -> str | None:
    """Query Prometheus over a repetition's measurement window; returns why the metrics are missing, or None."""
    interval = float(metrics["scrape_interval_s"])
    answer = metrics_in_netns(
        metrics["netns"],
        [
            "fetch",
            "--url",
            metrics["url"],
            "--start",
            f"{started_at + float(metrics.get('offset', 0)):.3f}",
            "--end",
            f"{ended_at:.3f}",
            "--scrape-interval",
            f"{interval:g}",
            "--out",
            metrics["out"],
        ],
        timeout=10 * interval + 30,
    )
    return str(answer["error"]) if "error" in answer else None
