"""The egress-change scenario's capture: what the external server's packet capture (a tcpdump pcap, read with
dpkt through :mod:`cnibench.scenarios._pcap`) says about one event — the first packet with the egress IP, the packets
that left with another source, the longest gap in the probe stream, the gateway the packets came through and what
became of an established TCP flow.

The event's time is in the capture itself (the *marker*, :mod:`cnibench.scenarios._pcap`): the external server's
namespace sends it as one UDP broadcast right when the event's action returns, so a pcap alone re-derives every
figure (``cnibench parse pcap``, ``reanalyze``). ``python -m cnibench.scenarios._egress_capture mark BROADCAST`` is
``python -m cnibench.scenarios._pcap mark BROADCAST``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from cnibench.errors import CnibenchError, MeasurementError
from cnibench.scenarios._pcap import MARKER_MAGIC, MARKER_PORT, Packet, longest_gap, read_pcap, send_markers
from cnibench.scenarios._pcap import main as _pcap_main
from cnibench.scenarios._pcap import rate as _rate

__all__ = ["MARKER_MAGIC", "MARKER_PORT", "Capture", "Figures", "Marker", "Packet", "figures", "read_capture",
           "send_markers"]  # fmt: skip
Event = Literal["policy-apply", "new-pod", "gateway-failover"]
FlowOutcome = Literal["survived", "stalled", "reset"]
#: The RST bit of a TCP header's flags (RFC 9293, 3.1).
TCP_RST = 0x04


@dataclass(frozen=True)
class Marker:
    """One event as the driver recorded it: ``event``; ``started`` and ``at`` the Unix times (s, CLOCK_REALTIME)
    the action began and returned (new pod: the probe was started); the egress IP the server must see; the UDP
    ports of the probe stream (``probe_port``; new pod: the new pod's stream on ``pod_port``) and the TCP port of
    the established flow (``flow_port``, failover), None where the event has none; ``window_s``: the seconds after
    ``at`` the driver kept everything running (what comes later is the teardown: stopped clients, their RSTs)."""

    event: Event
    started: float
    at: float
    egress_ip: str
    probe_port: int
    pod_port: int | None = None
    flow_port: int | None = None
    window_s: float | None = None

    def line(self) -> str:
        """The marker as one line for :func:`send_markers` (the payload after :data:`MARKER_MAGIC`)."""
        return json.dumps(self.__dict__, sort_keys=True)

    @classmethod
    def parse(cls, payload: bytes | Mapping[str, Any]) -> Marker:
        """A marker from its datagram's payload or its JSON object. Raises :class:`MeasurementError` for one that is
        not an egress-change marker."""
        try:
            data = json.loads(payload[len(MARKER_MAGIC) :]) if isinstance(payload, bytes) else dict(payload)
            return cls(**data)
        except (ValueError, TypeError) as exc:
            raise MeasurementError(f"unreadable event marker in the capture: {exc}") from exc


@dataclass
class Capture:
    """Every TCP/UDP packet of a capture and the markers in it."""

    packets: list[Packet] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)


def read_capture(data: bytes) -> Capture:
    """The packets and markers of a pcap (:func:`cnibench.scenarios._pcap.read_pcap`). Raises
    :class:`MeasurementError` for a file that is no pcap or a marker that is not an egress-change one."""
    raw = read_pcap(data)
    return Capture(raw.packets, [Marker.parse(m) for m in raw.markers])


@dataclass(frozen=True)
class Figures:
    """One event's figures (times in ms relative to the event; None: not seen in the capture). See the README's
    egress-change section for what each means."""

    event: Event
    egress_ip: str
    first_correct_ms: float | None
    leaked_packets: int
    leaked_before_return: int
    outage_ms: float | None
    outage_censored: bool
    new_gateway_ms: float | None
    source_stayed_egress: bool | None
    flow_outcome: FlowOutcome | None
    flow_stall_ms: float | None
    probe_pps: float | None
    probe_packets: int
    event_lag_ms: float
    notes: tuple[str, ...] = ()


def _flow(packets: list[Packet], port: int, at: float, end: float) -> tuple[FlowOutcome | None, float | None]:
    """What became of the established TCP flow to ``port`` (its data connection: the one that carried the most
    payload) after the event at ``at``: reset (a RST in either direction after the event), stalled (no data after
    the event until the capture ended at ``end``; the stall is then a lower bound), or survived; and the longest
    stall (s) spanning or following the event."""
    conns: dict[int, list[Packet]] = {}
    for p in packets:
        if p.proto == "tcp" and port in (p.dport, p.sport):
            client_port = p.sport if p.dport == port else p.dport
            conns.setdefault(client_port, []).append(p)
    if not conns:
        return None, None
    data = max(conns.values(), key=lambda ps: sum(p.length for p in ps if p.dport == port))
    reset = any(p.flags & TCP_RST and p.ts >= at for p in data)
    sent = [p.ts for p in data if p.dport == port and p.length > 0]
    before = [t for t in sent if t < at]
    after = [t for t in sent if t >= at]
    last = before[-1] if before else at
    if not after:
        return ("reset" if reset else "stalled"), end - last
    return ("reset" if reset else "survived"), longest_gap([last, *after], at) or 0.0


def figures(capture: Capture) -> Figures:
    """The figures of the one event in ``capture``. Raises :class:`MeasurementError` without exactly one marker
    or without any probe packet."""
    if len(capture.markers) != 1:
        raise MeasurementError(f"the capture holds {len(capture.markers)} event markers, expected 1")
    m = capture.markers[0]
    notes: list[str] = []
    if m.window_s is not None:  # the teardown after the window is not the event's
        capture = Capture([p for p in capture.packets if p.ts <= m.at + m.window_s], capture.markers)
    end = max((p.ts for p in capture.packets), default=m.at)
    window_end = m.at + m.window_s if m.window_s is not None else end
    port = m.pod_port if m.event == "new-pod" and m.pod_port is not None else m.probe_port
    probe = [p for p in capture.packets if p.proto == "udp" and p.dport == port]
    if not probe:
        raise MeasurementError(f"no probe packet to UDP port {port} in the capture")
    times = [p.ts for p in probe]
    new_gateway: float | None = None
    during = sum(1 for p in probe if m.started <= p.ts < m.at and p.src != m.egress_ip)
    if m.event == "new-pod":
        # the pod's start is its first packet the server saw (its iperf3 control connection or its first datagram)
        ref = min(p.ts for p in capture.packets if p.dport == port)
        mine = [p for p in capture.packets if p.dport == port]
        correct = [p.ts for p in mine if p.src == m.egress_ip]
        first = correct[0] if correct else None
        leaked = sum(1 for p in mine if p.src != m.egress_ip)
        outage = longest_gap(times, ref)
        stayed = all(p.src == m.egress_ip for p in mine if first is not None and p.ts >= first) if correct else None
    else:
        ref = m.at
        after = [p for p in probe if p.ts >= m.at]
        leaked = sum(1 for p in after if p.src != m.egress_ip)
        outage = longest_gap(times, m.started)
        if m.event == "policy-apply":
            correct = [p.ts for p in probe if p.ts >= m.started and p.src == m.egress_ip]
            first = correct[0] if correct else None
            stayed = all(p.src == m.egress_ip for p in probe if p.ts >= first) if first is not None else None
        else:
            old = [p.mac for p in probe if p.ts < m.started]
            old_mac = old[-1] if old else None
            if old_mac is None:
                notes.append("no probe packet before the failure: the old gateway is not known")
            moved = [p for p in after if old_mac is not None and p.mac != old_mac]
            new_gateway = moved[0].ts if moved else None
            correct = [p.ts for p in moved if p.src == m.egress_ip]
            first = correct[0] if correct else None
            stayed = leaked == 0 if after else None
    # a probe that never came back within the window (a gateway that fails over to no other node, such as
    # open-source Cilium's, cilium/cilium#18230): the outage is at least from its last packet to the window's end,
    # a lower bound, not a gap between packets (issue 29: measure what happens rather than refuse)
    censored = False
    if m.event == "gateway-failover" and first is None:
        tail = window_end - times[-1]
        if outage is None or tail > outage:
            outage, censored = tail, True
            notes.append(f"the probe did not come back within the window: the outage is at least {tail * 1e3:.0f} ms")
    outcome, stall = (None, None)
    if m.flow_port is not None:
        outcome, stall = _flow(capture.packets, m.flow_port, m.at, end)
    steady = [t for t in times if t < m.started] if m.event != "new-pod" else times
    return Figures(
        event=m.event,
        egress_ip=m.egress_ip,
        first_correct_ms=None if first is None else (first - ref) * 1e3,
        leaked_packets=leaked,
        leaked_before_return=0 if m.event == "new-pod" else during,
        outage_ms=None if outage is None else outage * 1e3,
        outage_censored=censored,
        new_gateway_ms=None if new_gateway is None else (new_gateway - ref) * 1e3,
        source_stayed_egress=stayed,
        flow_outcome=outcome,
        flow_stall_ms=None if stall is None else stall * 1e3,
        probe_pps=_rate(steady),
        probe_packets=len(probe),
        event_lag_ms=(m.at - m.started) * 1e3,
        notes=tuple(notes),
    )


class EventDriver(Protocol):
    """One repetition's driver (netns's, Kubernetes's): :meth:`measure` writes the pcap, :meth:`close` undoes what it
    changed and stops what it started."""

    def measure(self) -> None: ...

    def close(self) -> None: ...


def drive(driver: EventDriver) -> int:
    """Run ``driver``: measure, always close; a failure is one line on standard error (``egress-change: why``) and
    exit code 1 (the repetition is recorded failed with it), else 0."""
    import subprocess

    try:
        driver.measure()
    except (CnibenchError, RuntimeError, OSError, ValueError, subprocess.SubprocessError) as exc:
        print(f"egress-change: {exc}", file=sys.stderr)
        return 1
    finally:
        driver.close()
    return 0


if __name__ == "__main__":  # pragma: no cover - run by the driver inside the external namespace
    sys.exit(_pcap_main(sys.argv[1:]))
