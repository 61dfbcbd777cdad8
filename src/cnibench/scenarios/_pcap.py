"""What the event scenarios' captures share (egress-change, network-policy's programming latency): reading a tcpdump
pcap with dpkt, the *marker* that puts an event's own time into the capture, and the probe stream's gaps and rate.

A capture holds the probe's packets and one marker: right when an event's action returns, the driver records the
time (``time.time()``, CLOCK_REALTIME, the clock tcpdump stamps packets with on the same machine) and sends it as
one UDP datagram to port :data:`MARKER_PORT` (a JSON payload after :data:`MARKER_MAGIC`) from where the capture sees
it, so a pcap alone re-derives every figure (``cnibench parse pcap``, ``reanalyze``).

Two link types are read: Ethernet (tcpdump on one veth or bridge; the source MAC is kept: the gateway that forwarded
a packet) and Linux cooked v2 (``tcpdump -i any -y LINUX_SLL2``: every interface of a namespace, each packet with
its interface index and whether it was being sent; tcpdump(1), pcap-linktype(7): ``LINKTYPE_LINUX_SLL2`` 276).

``python -m cnibench.scenarios._pcap mark ADDRESS`` sends each line of its standard input as one marker to
``ADDRESS`` (a broadcast or a unicast address; run inside the capturing namespace, started before the event so no
interpreter starts during the measurement).
"""

from __future__ import annotations

import io
import itertools
import json
import socket
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from cnibench.errors import MeasurementError

#: The marker's UDP destination port (the discard service, RFC 863) and the first bytes of its payload.
MARKER_PORT = 9
MARKER_MAGIC = b"cnibench-event "
#: pcap link types (pcap-linktype(7)): Ethernet, Linux cooked capture v2.
LINKTYPE_ETHERNET = 1
LINKTYPE_LINUX_SLL2 = 276
#: The SLL2 packet type of a packet the capturing host sent (``PACKET_OUTGOING``, linux/if_packet.h).
PACKET_OUTGOING = 4


@dataclass(frozen=True)
class Packet:
    """A captured IPv4 TCP or UDP packet: capture time (s, Unix), source IP, source MAC (Ethernet captures; ``""``
    on SLL2), destination port, source port, protocol, TCP flags, payload length (bytes), destination IP, and on
    SLL2 captures the interface index and whether the host was sending it (None on Ethernet)."""

    ts: float
    src: str
    mac: str
    dport: int
    sport: int
    proto: Literal["udp", "tcp"]
    flags: int = 0
    length: int = 0
    dst: str = ""
    ifindex: int | None = None
    outgoing: bool | None = None


@dataclass
class RawCapture:
    """Every TCP/UDP packet of a capture and the markers' JSON payloads (each once: an ``any`` capture may see a
    marker on more than one interface)."""

    packets: list[Packet] = field(default_factory=list)
    markers: list[dict[str, Any]] = field(default_factory=list)


def _marker(payload: bytes) -> dict[str, Any]:
    try:
        data = json.loads(payload[len(MARKER_MAGIC) :])
    except ValueError as exc:
        raise MeasurementError(f"unreadable event marker in the capture: {exc}") from exc
    if not isinstance(data, dict):
        raise MeasurementError("unreadable event marker in the capture: not a JSON object")
    return data


def read_pcap(data: bytes) -> RawCapture:
    """The packets and markers of a pcap (Ethernet or Linux cooked v2). Raises :class:`MeasurementError` for a
    file that is no pcap, another link type or a capture cut short before its first packet."""
    import dpkt

    try:
        reader = dpkt.pcap.Reader(io.BytesIO(data))
    except (ValueError, dpkt.dpkt.NeedData) as exc:
        raise MeasurementError(f"not a pcap capture: {exc}") from exc
    linktype = reader.datalink()
    if linktype not in (LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL2):
        raise MeasurementError(f"pcap link type {linktype}: expected Ethernet (1) or Linux cooked v2 (276)")
    out = RawCapture()
    try:
        for ts, buf in reader:
            ifindex: int | None = None
            outgoing: bool | None = None
            mac = ""
            if linktype == LINKTYPE_ETHERNET:
                frame: Any = dpkt.ethernet.Ethernet(buf)
                mac = frame.src.hex(":")
            else:
                frame = dpkt.sll2.SLL2(buf)
                ifindex, outgoing = int(frame.intindex), frame.type == PACKET_OUTGOING
            ip = frame.data
            if not isinstance(ip, dpkt.ip.IP):
                continue
            l4 = ip.data
            if not isinstance(l4, dpkt.udp.UDP | dpkt.tcp.TCP):
                continue
            payload = bytes(l4.data)
            if isinstance(l4, dpkt.udp.UDP) and l4.dport == MARKER_PORT and payload.startswith(MARKER_MAGIC):
                marker = _marker(payload)
                if marker not in out.markers:
                    out.markers.append(marker)
                continue
            udp = isinstance(l4, dpkt.udp.UDP)
            out.packets.append(Packet(
                float(ts), socket.inet_ntoa(ip.src), mac, l4.dport, l4.sport, "udp" if udp else "tcp",
                0 if udp else int(l4.flags), len(payload), socket.inet_ntoa(ip.dst), ifindex, outgoing,
            ))  # fmt: skip
    except (dpkt.dpkt.NeedData, dpkt.dpkt.UnpackError) as exc:  # a capture cut short: keep what was read
        if not out.packets:
            raise MeasurementError(f"unreadable pcap capture: {exc}") from exc
    return out


def longest_gap(times: Sequence[float], after: float) -> float | None:
    """The longest interval (s) between consecutive ``times`` whose later packet arrived after ``after``."""
    gaps = [b - a for a, b in itertools.pairwise(times) if b > after]
    return max(gaps) if gaps else None


def rate(times: Sequence[float]) -> float | None:
    """Packets per second over a stretch of the stream (None: fewer than 2 packets)."""
    if len(times) < 2 or times[-1] <= times[0]:
        return None
    return (len(times) - 1) / (times[-1] - times[0])


def gap_quantile(times: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1, nearest rank) of the intervals (s) between consecutive ``times``: a probe's
    resolution as it was, not as asked (None: fewer than 2 packets)."""
    gaps = sorted(b - a for a, b in itertools.pairwise(times))
    if not gaps:
        return None
    return gaps[min(len(gaps) - 1, max(0, int(q * len(gaps) + 0.999999) - 1))]


def send_markers(address: str, lines: Iterable[str]) -> int:
    """Send each line of ``lines`` (a marker's payload after :data:`MARKER_MAGIC`) as one UDP datagram to
    ``address``:9 (broadcast allowed). Returns how many were sent."""
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        for line in lines:
            text = line.strip()
            if text:
                sock.sendto(MARKER_MAGIC + text.encode(), (address, MARKER_PORT))
                sent += 1
    return sent


def main(argv: list[str]) -> int:
    """``mark ADDRESS``: each line of standard input as one marker to ADDRESS."""
    if len(argv) != 2 or argv[0] != "mark":
        print("usage: python -m cnibench.scenarios._pcap mark ADDRESS", file=sys.stderr)
        return 2
    send_markers(argv[1], sys.stdin)
    return 0


if __name__ == "__main__":  # pragma: no cover - run by the drivers inside the capturing namespace
    sys.exit(main(sys.argv[1:]))
