"""The network-policy scenario's programming latency from a capture (issue 30, item 2): what the server node's packet
capture (tcpdump ``-i any -y LINUX_SLL2``, read with dpkt through :mod:`cnibench.scenarios._pcap`) says about one
policy event.

The capture runs in the namespace of the **server's node**, where the policy is enforced (ingress policy at the
destination pod's node, as iptables-mode CNIs do it: :mod:`cnibench.platforms.netns.policy_nft`), on every
interface at once. So each probe packet is seen twice when the policy lets it through — *arriving* (received on the
node's uplink, its overlay device or the client pod's veth: before the forward hook, where the policy drops) and
*delivered* (sent on the server pod's veth: after it) — and once, arriving, when the policy drops it. The marker
names the delivering interface's index.

The probe is ``hping3 --udp``: every datagram from the next source port (hping3(8), ``--baseport``: it "starts with
a base source port number, and increase[s] this number for each packet sent" unless ``--keep``), so every datagram
is a new flow that conntrack has not
seen and the policy judges on its own (the policy's first rule accepts ``ct state established,related``: a
connection that already exists would keep passing a deny until conntrack forgets it). Packets are told apart by
their source port.

Figures, times in ms from the event (the apply command's return; new pod: its first packet on the wire):

* ``policy-allow`` (allow after deny): the first delivered probe packet;
* ``policy-deny`` (deny after allow): the last delivered probe packet, and how many were delivered after the return;
* ``policy-new-pod``: from the new pod's first packet arriving at the server's node to its first delivered packet,
  and how many of its packets were dropped before that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from cnibench.errors import MeasurementError
from cnibench.scenarios._pcap import Packet, gap_quantile, rate, read_pcap

PolicyEvent = Literal["policy-allow", "policy-deny", "policy-new-pod"]
EVENTS: tuple[PolicyEvent, ...] = ("policy-allow", "policy-deny", "policy-new-pod")
#: A deny whose last delivered packet is this close to the window's end (in probe intervals) never took effect.
STILL_PASSING_INTERVALS = 20


@dataclass(frozen=True)
class PolicyMarker:
    """One policy event as the driver recorded it: ``event``; ``started``/``at`` the Unix times (s, CLOCK_REALTIME)
    the apply began and returned (new pod: the pod was created and its rule programmed); the probe's source (the
    client pod, or the new pod) and destination (server pod address, UDP port); ``delivered_ifindex``: the index of
    the server pod's veth in the capturing namespace; ``window_s``: seconds after ``at`` the probe kept running;
    the policy's size (non-matching rules) and representation (``chain``/``set``)."""

    event: PolicyEvent
    started: float
    at: float
    client_ip: str
    server_ip: str
    probe_port: int
    delivered_ifindex: int
    window_s: float
    size: int | None = None
    representation: str | None = None

    def line(self) -> str:
        """The marker as one line for :func:`cnibench.scenarios._pcap.send_markers`."""
        import json

        return json.dumps(self.__dict__, sort_keys=True)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PolicyMarker:
        """Raises :class:`MeasurementError` for an object that is not a policy event's marker."""
        known = {f.name for f in fields(cls)}
        if data.get("event") not in EVENTS or not known.issuperset(data):
            raise MeasurementError(f"the capture's marker is not a policy event's: {dict(data)}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise MeasurementError(f"unreadable policy event marker: {exc}") from exc


@dataclass(frozen=True)
class LatencyFigures:
    """One event's figures (ms from the event; None: not seen). ``arrived``/``delivered``: the probe's packets at
    the node and at the server pod after the event's start; ``probe_pps`` and ``probe_gap_p99_ms``: the arriving
    stream's rate and its 99th-percentile gap (the resolution it had)."""

    event: PolicyEvent
    size: int | None
    representation: str | None
    allow_ms: float | None = None
    deny_ms: float | None = None
    passed_after_deny: int | None = None
    new_pod_ms: float | None = None
    dropped_before_allow: int | None = None
    delivered_before: int = 0
    arrived: int = 0
    delivered: int = 0
    probe_pps: float | None = None
    probe_gap_p99_ms: float | None = None
    event_lag_ms: float = 0.0
    errors: tuple[str, ...] = field(default_factory=tuple)


def policy_capture(data: bytes) -> tuple[PolicyMarker, list[Packet]]:
    """The marker and packets of a policy event's pcap. Raises :class:`MeasurementError` without exactly one
    marker, or for a marker of another scenario."""
    raw = read_pcap(data)
    if len(raw.markers) != 1:
        raise MeasurementError(f"the capture holds {len(raw.markers)} event markers, expected 1")
    return PolicyMarker.from_json(raw.markers[0]), raw.packets


def _probe(packets: list[Packet], m: PolicyMarker) -> tuple[list[Packet], list[Packet]]:
    """The probe's packets arriving at the node (each source port once, first sighting) and delivered to the server
    pod (sent on its veth), within the window."""
    end = m.at + m.window_s
    probe = [p for p in packets if p.proto == "udp" and p.dst == m.server_ip and p.dport == m.probe_port
             and p.src == m.client_ip and p.ts <= end]  # fmt: skip
    delivered = [p for p in probe if p.outgoing and p.ifindex == m.delivered_ifindex]
    seen: set[int] = set()
    arrived = []
    for p in probe:
        if not p.outgoing and p.sport not in seen:
            seen.add(p.sport)
            arrived.append(p)
    return arrived, delivered


def latency_figures(data: bytes) -> LatencyFigures:
    """The figures of the policy event in a pcap's bytes; what makes the repetition fail is in ``errors`` (the
    figures are kept). Raises :class:`MeasurementError` for a capture that is no policy event's, or without any
    probe packet arriving."""
    m, packets = policy_capture(data)
    arrived, delivered = _probe(packets, m)
    if not arrived:
        raise MeasurementError(f"no probe packet from {m.client_ip} to {m.server_ip}:{m.probe_port} in the capture")
    times = [p.ts for p in arrived]
    pps = rate(times)
    p99 = gap_quantile(times, 0.99)
    interval = 1.0 / pps if pps else 0.001
    errors: list[str] = []
    common: dict[str, Any] = {
        "event": m.event, "size": m.size, "representation": m.representation, "probe_pps": pps,
        "probe_gap_p99_ms": None if p99 is None else p99 * 1e3, "event_lag_ms": (m.at - m.started) * 1e3,
        "arrived": sum(1 for p in arrived if p.ts >= m.started),
        "delivered": sum(1 for p in delivered if p.ts >= m.started),
    }  # fmt: skip
    before = sum(1 for p in delivered if p.ts < m.started)
    if m.event == "policy-allow":
        after = [p.ts for p in delivered if p.ts >= m.started]
        if before:
            errors.append(f"{before} probe packet(s) reached the server before the allow (the deny did not hold)")
        if not after:
            errors.append("no probe packet reached the server after the allow")
        allow = (after[0] - m.at) * 1e3 if after else None
        return LatencyFigures(**common, allow_ms=allow, delivered_before=before, errors=tuple(errors))
    if m.event == "policy-deny":
        if not before:
            errors.append("no probe packet reached the server before the deny (the allow did not hold)")
        last = delivered[-1].ts if delivered else None
        end = max(times[-1], m.at)
        if last is not None and last >= m.at and end - last < STILL_PASSING_INTERVALS * interval:
            errors.append("probe packets still reached the server at the end of the window (the deny did not hold)")
        passed = sum(1 for p in delivered if p.ts > m.at)
        deny = None if last is None else (last - m.at) * 1e3
        return LatencyFigures(**common, deny_ms=deny, passed_after_deny=passed, delivered_before=before,
                              errors=tuple(errors))  # fmt: skip
    first_sent = times[0]
    first_delivered = delivered[0].ts if delivered else None
    if first_delivered is None:
        errors.append(f"no packet of the new pod {m.client_ip} reached the server")
    through = {p.sport for p in delivered}
    dropped = sum(1 for p in arrived if p.sport not in through and (first_delivered is None or p.ts < first_delivered))
    new_pod = None if first_delivered is None else (first_delivered - first_sent) * 1e3
    return LatencyFigures(**common, new_pod_ms=new_pod, dropped_before_allow=dropped, errors=tuple(errors))
