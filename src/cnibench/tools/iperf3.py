"""iperf3: build client/server argument lists and parse ``iperf3 -J --get-server-output`` (iperf3 >= 3.1).

Receiver throughput is ``end.sum_received`` (what reached the server). RTT exists only on the TCP sender side,
per stream (``end.streams[i].sender.mean_rtt|min_rtt|max_rtt``, microseconds); we aggregate over streams.
Who the server saw comes from the server's own JSON, relayed by ``--get-server-output``: that is how SNAT to the
egress IP is proven.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from cnibench.errors import MeasurementError
from cnibench.tools.base import json_object

DEFAULT_PORT = 5201
CONNECT_TIMEOUT_MS = 3000


def server_argv(bind: str, port: int = DEFAULT_PORT) -> list[str]:
    """A long-running server owned by PID: one JSON document per test on stdout (its log)."""
    return ["iperf3", "--server", "--json", "--bind", bind, "--port", str(port)]


def client_argv(
    server: str,
    *,
    protocol: str,
    duration: int,
    omit: int,
    parallel: int,
    bitrate: str,
    port: int = DEFAULT_PORT,
) -> list[str]:
    argv = [
        "iperf3",
        "--client", server,
        "--port", str(port),
        "--time", str(duration),
        "--omit", str(omit),
        "--parallel", str(parallel),
        "--connect-timeout", str(CONNECT_TIMEOUT_MS),
        "--json",
        "--get-server-output",
    ]  # fmt: skip
    if protocol == "udp":
        argv += ["--udp", "--bitrate", bitrate]
    return argv


def expected_wall_time(duration: int, omit: int) -> float:
    """Seconds a client run takes: the measured time plus the omitted warm-up."""
    return float(duration + omit)


@dataclass(frozen=True)
class Iperf3Result:
    protocol: str
    throughput_bps: float  # receiver side
    sender_bps: float
    retransmits: int | None  # TCP only
    rtt_mean_us: float | None  # TCP only, sender side, mean over streams
    rtt_min_us: float | None
    rtt_max_us: float | None
    jitter_ms: float | None  # UDP only
    lost_packets: int | None
    lost_percent: float | None
    source_ip_seen: str | None  # the client address the server saw
    intervals_bps: tuple[float, ...]  # per-interval throughput, warm-up left out
    cpu_host_percent: float | None
    cpu_remote_percent: float | None


def _num(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MeasurementError(f"iperf3 output: {what} is missing or not a number")
    return float(value)


def _source_ip(doc: dict[str, Any]) -> str | None:
    server = doc.get("server_output_json")
    if not isinstance(server, dict):
        return None
    start = server.get("start", {})
    hosts: set[str] = {
        str(c["remote_host"]) for c in start.get("connected", []) if isinstance(c, dict) and c.get("remote_host")
    }
    accepted = (start.get("accepted_connection") or {}).get("host")
    if accepted:
        hosts.add(str(accepted))
    if len(hosts) > 1:
        raise MeasurementError(f"iperf3: the server saw several client addresses: {', '.join(sorted(hosts))}")
    return hosts.pop() if hosts else None


def parse_client_json(text: str) -> Iperf3Result:
    """Parse the client's ``-J`` document. Raises :class:`MeasurementError` with iperf3's own reason."""
    doc = json_object(text, what="iperf3 output", empty="iperf3 produced no output")
    if doc.get("error"):
        raise MeasurementError(f"iperf3: {doc['error']}")
    start = doc.get("start", {})
    end = doc.get("end")
    if not isinstance(end, dict) or not end:
        raise MeasurementError("iperf3 output has no end summary (test did not finish)")
    protocol = str(start.get("test_start", {}).get("protocol", "TCP")).lower()
    streams = [s for s in end.get("streams", []) if isinstance(s, dict)]
    received = end.get("sum_received") or {}
    sent = end.get("sum_sent") or {}
    cpu = end.get("cpu_utilization_percent") or {}
    intervals = tuple(
        float(i["sum"]["bits_per_second"])
        for i in doc.get("intervals", [])
        if isinstance(i, dict) and not i.get("sum", {}).get("omitted", False)
    )
    common: dict[str, Any] = {
        "protocol": protocol,
        "throughput_bps": _num(received.get("bits_per_second"), "end.sum_received.bits_per_second"),
        "sender_bps": _num(sent.get("bits_per_second"), "end.sum_sent.bits_per_second"),
        "source_ip_seen": _source_ip(doc),
        "intervals_bps": intervals,
        "cpu_host_percent": cpu.get("host_total"),
        "cpu_remote_percent": cpu.get("remote_total"),
    }
    if protocol == "udp":
        return Iperf3Result(
            **common,
            retransmits=None,
            rtt_mean_us=None,
            rtt_min_us=None,
            rtt_max_us=None,
            jitter_ms=_num(received.get("jitter_ms"), "end.sum_received.jitter_ms"),
            lost_packets=int(_num(received.get("lost_packets"), "end.sum_received.lost_packets")),
            lost_percent=_num(received.get("lost_percent"), "end.sum_received.lost_percent"),
        )
    senders = [s["sender"] for s in streams if isinstance(s.get("sender"), dict)]
    rtts = [s for s in senders if "mean_rtt" in s]
    if not rtts:
        raise MeasurementError("iperf3 output has no TCP RTT (end.streams[].sender.mean_rtt)")
    retransmits = sent.get("retransmits")
    return Iperf3Result(
        **common,
        retransmits=int(retransmits) if isinstance(retransmits, int) else None,
        rtt_mean_us=statistics.fmean(_num(s["mean_rtt"], "mean_rtt") for s in rtts),
        rtt_min_us=min(_num(s["min_rtt"], "min_rtt") for s in rtts),
        rtt_max_us=max(_num(s["max_rtt"], "max_rtt") for s in rtts),
        jitter_ms=None,
        lost_packets=None,
        lost_percent=None,
    )


def version_of(output: str) -> str | None:
    """``iperf 3.12 (cJSON 1.7.15)`` -> ``3.12``."""
    parts = output.split()
    return parts[1] if len(parts) > 1 and parts[0] == "iperf" else None
