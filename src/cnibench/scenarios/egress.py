"""The egress scenario: a client pod sends iperf3 traffic to a server outside the cluster.

``egress`` runs it under an egress gateway policy (the server must see the egress IP); ``egress-baseline``
runs the same path without the policy (the client's own node masquerades; the server must see that node's IP),
so the gateway's cost shows as a ratio.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cnibench.errors import MeasurementError
from cnibench.results.model import EgressSample
from cnibench.scenarios.base import PlannedRun
from cnibench.spec import EgressSpec
from cnibench.tools import iperf3

NAME = "egress"
BASELINE = "egress-baseline"
#: Baseline first, then the policy: the policy is applied for its trial only and removed after it.
TRIALS = (BASELINE, NAME)
CLIENT_POD = "iperf3-client"
SERVER_NAME = "iperf3-server"
#: Seconds a repetition may run past iperf3's own duration before it is killed.
TIMEOUT_MARGIN = 20.0


def client_node(workers: list[str], gateway: str) -> str:
    """The client pod runs on a worker that is not the egress gateway (the last one)."""
    candidates = [w for w in workers if w != gateway]
    if not candidates:
        raise ValueError("the egress scenario needs a worker besides the gateway node")
    return candidates[-1]


def artifact_path(run_dir: Path, cni: str, scenario: str, repetition: int) -> Path:
    return run_dir / "raw" / cni / scenario / f"rep-{repetition:02d}.iperf3.json"


def plan_runs(
    spec: EgressSpec,
    *,
    cni: str,
    trials: dict[str, int],
    run_dir: Path,
    client_netns: str,
    server_ip: str,
    client_node_ip: str,
) -> list[PlannedRun]:
    """Every repetition of the egress trials (``{scenario: repetitions}``) for one CNI, in run order."""
    argv = iperf3.client_argv(
        server_ip,
        protocol=spec.protocol,
        duration=spec.duration,
        omit=spec.omit,
        parallel=spec.parallel,
        bitrate=spec.bitrate,
    )
    wall = iperf3.expected_wall_time(spec.duration, spec.omit)
    runs: list[PlannedRun] = []
    for scenario in (t for t in TRIALS if t in trials):
        with_policy = scenario == NAME
        expect = {
            "protocol": spec.protocol,
            # without an egress IP in the spec (Cilium on an existing cluster) the gateway node's own address is
            # the one, known at run time: the platform passes it with the result
            "expected_source_ip": (str(spec.egress_ip) if spec.egress_ip else None) if with_policy else client_node_ip,
            "egress_ip": str(spec.egress_ip) if with_policy and spec.egress_ip else None,
        }
        for rep in range(1, trials[scenario] + 1):
            artifact = artifact_path(run_dir, cni, scenario, rep)
            runs.append(
                PlannedRun(
                    cni=cni,
                    scenario=scenario,
                    repetition=rep,
                    artifact=str(artifact),
                    expected_seconds=wall,
                    warmup_s=float(spec.omit),
                    expect=expect,
                    command={
                        "netns": client_netns,
                        "argv": argv,
                        "timeout": wall + TIMEOUT_MARGIN,
                        "stdout": str(artifact),  # iperf3 -J writes its JSON to stdout
                    },
                )
            )
    return runs


def make_sample(
    run: PlannedRun,
    *,
    run_dir: Path,
    started_at: float | None,
    ended_at: float | None,
    failure: str | None = None,
) -> EgressSample:
    """Parse a repetition's raw iperf3 JSON into a sample; any problem makes it ``failed`` with the reason.

    A wrong source IP fails the repetition but keeps its figures: they show what the path did.
    """
    expect = run.expect
    artifact, text = run.read_artifact(run_dir)
    base: dict[str, Any] = {
        **run.common(started_at=started_at, ended_at=ended_at),
        "artifact": artifact,
        "protocol": expect["protocol"],
        "expected_source_ip": expect["expected_source_ip"],
        "egress_ip": expect["egress_ip"],
        "egress_apply_s": expect.get("egress_apply_s"),
    }
    try:
        result = iperf3.parse_client_json(text)
    except MeasurementError as exc:
        return EgressSample(**base, status="failed", error=failure if failure and not text.strip() else str(exc))
    seen = result.source_ip_seen
    source_ok = seen is not None and seen == expect["expected_source_ip"]
    check_source = expect.get("check_source", True)  # `cnibench parse` without an expected address: no check
    errors: list[str] = []
    if failure:
        errors.append(failure)
    if not check_source:
        pass
    elif seen is None:
        errors.append("the server's view of the client address is missing (no --get-server-output?)")
    elif not source_ok:
        what = "egress IP" if expect["egress_ip"] else "client node IP (masquerade)"
        errors.append(f"server saw {seen}, expected the {what} {expect['expected_source_ip']}")
    return EgressSample(
        **base,
        status="failed" if errors else "ok",
        error="; ".join(errors) or None,
        throughput_bps=result.throughput_bps,
        sender_bps=result.sender_bps,
        retransmits=result.retransmits,
        rtt_mean_us=result.rtt_mean_us,
        rtt_min_us=result.rtt_min_us,
        rtt_max_us=result.rtt_max_us,
        jitter_ms=result.jitter_ms,
        lost_packets=result.lost_packets,
        lost_percent=result.lost_percent,
        intervals_bps=list(result.intervals_bps),
        client_cpu_percent=result.client_cpu_percent,
        server_cpu_percent=result.server_cpu_percent,
        notes=list(result.notes),
        source_ip_seen=seen,
        source_ip_ok=source_ok if seen is not None and check_source else None,
        egress_ip_ok=(seen == expect["egress_ip"]) if expect["egress_ip"] else None,
    )
