"""iperf3: build client/server argument lists and parse ``iperf3 -J --get-server-output`` (iperf3 >= 3.1).

What each figure is taken from, and why (the upstream references are iperf3's own issues):

* **Throughput** is the receiver's: ``end.sum_received.bits_per_second`` (TCP: what reached the server; the
  client relays it). UDP reads it from the server's own JSON, like everything else the receiver measures.
* **UDP loss, jitter and the per-second received rate come from the receiver**, the server's own JSON that
  ``--get-server-output`` relays (``server_output_json``): its ``end.sum_received`` and its intervals. The client's
  copy is wrong on iperf3 <= 3.13, which counts packets lost in the omitted warm-up (esnet/iperf#1489, fixed in
  3.14), and a 3.14-3.20 client talking to an older server reports loss 0 (esnet/iperf#1984, #2055); a UDP client's
  own intervals are the offered (sent) rate. Without the server's JSON a UDP result is refused, never taken from
  the client. ``end.sum_received`` exists in UDP output from iperf3 3.11 (esnet/iperf#1174).
* **TCP RTT** (mean, min, max, µs) is computed from the per-interval ``streams[].rtt`` of the measured intervals:
  iperf3 never resets its RTT accumulators when the warm-up (``-O``) ends (``iperf_reset_stats`` in every version
  up to 3.21), so ``end.streams[].sender.*_rtt`` include the warm-up. An RTT of 0 means the sender took no
  TCP_INFO sample (esnet/iperf#1920, #803): not measured, reported as null, never as 0.
* **Intervals**: the first interval after the warm-up can be mis-timed (esnet/iperf#1261): its ``seconds`` counts
  from before the counters were reset while its bytes count from the reset. An interval whose ``seconds`` disagrees
  with its span is re-timed from the interval ends (the measured intervals tile the measured time from 0) and
  noted; one whose span cannot be known is left out and noted. A last fragment shorter than a tenth of the
  reporting interval (the remainder after the last full interval) is left out.
* **CPU**: ``end.cpu_utilization_percent.host_total`` (the client process) and ``remote_total`` (the server
  process), CPU time over wall time in % of one core.
* **Who the server saw** comes from the server's own JSON: that is how SNAT to the egress IP is proven.
* **Reverse mode** (``-R``, ``start.test_start.reverse`` 1): the server sends and the client receives, so the
  receiver's figures (throughput, UDP loss and jitter, the per-second received rate) are the client's own
  ``end.sum_received`` and intervals, and TCP RTT is the sender's, in the server's JSON. A reverse-mode server's
  ``end.sum_received`` is all zeros (esnet/iperf#1410) and is never read. ``--bidir`` outputs (two directions in
  one test, ``end.sum_sent_bidir_reverse``) are refused: a sample has one direction.
* **Two copies of the document** (iperf3 3.16 and 3.17 print ``-J`` output twice, esnet/iperf#1688, #1716): the
  first is read and a note says so; two different documents are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cnibench.errors import MeasurementError
from cnibench.tools.base import items, json_documents, section
from cnibench.tools.iperf3_intervals import measured_intervals, rtt_over

DEFAULT_PORT = 5201
CONNECT_TIMEOUT_MS = 3000
#: ``--get-server-output`` appeared in iperf3 3.1.
MIN_VERSION_SERVER_OUTPUT = (3, 1)
#: A UDP receiver summary (``end.sum_received``) appeared in iperf3 3.11 (esnet/iperf#1174).
MIN_VERSION_UDP_RECEIVER = (3, 11)


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
    offered_bps: float | None = None,
) -> list[str]:
    """The client's arguments. ``bitrate``: UDP's target in saturate mode (iperf3's own notation, ``1G``);
    ``offered_bps``: a fixed offered load in bit/s (TCP or UDP), split evenly over the ``parallel`` streams, since
    iperf3 applies ``--bitrate`` to each stream (iperf3(1): "the throughput limit is applied separately to each
    stream"); given in whole bit/s so that no suffix convention is in doubt."""
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
        argv += ["--udp"]
    if offered_bps is not None:
        argv += ["--bitrate", str(max(round(offered_bps / parallel), 1))]
    elif protocol == "udp":
        argv += ["--bitrate", bitrate]
    return argv


def expected_wall_time(duration: int, omit: int) -> float:
    """Seconds a client run takes: the measured time plus the omitted warm-up."""
    return float(duration + omit)


@dataclass(frozen=True)
class Iperf3Result:
    """One iperf3 test as cnibench reports it (see the module docstring for where each figure comes from)."""

    protocol: str  # "tcp" | "udp"
    throughput_bps: float  # bit/s the receiver got over the measured time
    sender_bps: float  # bit/s the client sent (UDP: the offered rate)
    retransmits: int | None  # TCP only (iperf3 resets these after the warm-up)
    rtt_mean_us: float | None  # TCP only, µs, over the measured intervals' samples; None: not measured
    rtt_min_us: float | None
    rtt_max_us: float | None
    jitter_ms: float | None  # UDP only, the receiver's, ms
    lost_packets: int | None  # UDP only, the receiver's count over the measured time
    lost_percent: float | None  # UDP only, % of the packets sent
    source_ip_seen: str | None  # the client address the server saw
    intervals_bps: tuple[float, ...]  # the receiver's bit/s per reporting interval, warm-up left out
    client_cpu_percent: float | None  # % of one core (iperf3's host_total)
    server_cpu_percent: float | None  # % of one core (iperf3's remote_total)
    notes: tuple[str, ...] = ()  # what was corrected or left out, and why
    version: str | None = None  # the client's iperf3 version ("3.12")
    server_version: str | None = None
    #: the address the server's data sockets were accepted on (the server's own ``start.connected[].local_host``):
    #: after a Service's DNAT, the backend's address, which proves the backend answered
    server_local_ip: str | None = None
    #: the address the client's sockets are connected to (its ``start.connected[].remote_host``): what it asked for,
    #: a Service's ClusterIP when netfilter DNATs it (the socket keeps the address the application connected to)
    client_connected_to: str | None = None


def _num(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MeasurementError(f"iperf3 output: {what} is missing or not a number")
    return float(value)


def _version_tuple(version: str | None) -> tuple[int, ...] | None:
    if not version:
        return None
    parts = []
    for part in version.split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts) or None


def _doc_version(doc: dict[str, Any]) -> str | None:
    """``start.version`` (``"iperf 3.12"``) -> ``"3.12"``."""
    value = section(doc, "start", "iperf3 output: start").get("version")
    return version_of(str(value)) if value else None


def older_than(version: str | None, floor: tuple[int, int]) -> bool:
    """True when ``version`` ("3.9", "3.12.1") is known and below ``floor``."""
    parsed = _version_tuple(version)
    return parsed is not None and parsed < floor


def _floor_text(floor: tuple[int, int]) -> str:
    return ".".join(map(str, floor))


def _source_ip(server: dict[str, Any] | None) -> str | None:
    if server is None:
        return None
    start = section(server, "start", "iperf3 output: server_output_json.start")
    hosts: set[str] = {
        str(c["remote_host"])
        for c in items(start, "connected", "iperf3 output: server_output_json.start.connected")
        if isinstance(c, dict) and c.get("remote_host")
    }
    accepted = section(start, "accepted_connection", "iperf3 output: server_output_json.start.accepted_connection").get(
        "host"
    )
    if accepted:
        hosts.add(str(accepted))
    if len(hosts) > 1:
        raise MeasurementError(f"iperf3: the server saw several client addresses: {', '.join(sorted(hosts))}")
    return hosts.pop() if hosts else None


def _connected(doc: dict[str, Any] | None, key: str, what: str) -> str | None:
    """The one ``start.connected[].<key>`` of an iperf3 document (``local_host`` or ``remote_host``); None when it
    has none. Raises :class:`MeasurementError` when its sockets disagree (``what`` names the side)."""
    if doc is None:
        return None
    connected = items(section(doc, "start", "iperf3 output: start"), "connected", "iperf3 output: start.connected")
    hosts = {str(c[key]) for c in connected if isinstance(c, dict) and c.get(key)}
    if len(hosts) > 1:
        raise MeasurementError(f"iperf3: the {what} has several addresses: {', '.join(sorted(hosts))}")
    return hosts.pop() if hosts else None


RTT_NOT_MEASURED = "TCP RTT not measured: the sender took no TCP_INFO sample (iperf3 says 0; esnet/iperf#1920, #803)"


def _server_json(doc: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The server's own JSON, or None and why it is missing."""
    server = doc.get("server_output_json")
    if isinstance(server, dict):
        return server, ""
    if server is not None:
        raise MeasurementError("iperf3 output: server_output_json is not a JSON object")
    if doc.get("server_output_text"):
        return None, "the server wrote text, not JSON (start it with --json)"
    version = _doc_version(doc)
    if older_than(version, MIN_VERSION_SERVER_OUTPUT):
        return None, (
            f"iperf3 {version} cannot relay the server's output (--get-server-output needs "
            f"{_floor_text(MIN_VERSION_SERVER_OUTPUT)} or newer)"
        )
    return None, "the server's own output is missing (no --get-server-output?)"


def _udp_receiver(doc: dict[str, Any], who: str) -> dict[str, Any]:
    """The UDP receiver summary of ``who``'s own document (``who``: "server", or "client" in reverse mode); an older
    iperf3's missing summary names the version it needs."""
    where = "server end.sum_received" if who == "server" else "end.sum_received"
    received = section(section(doc, "end", f"iperf3 output: {who} end"), "sum_received", where)
    if received:
        return received
    version = _doc_version(doc)
    if older_than(version, MIN_VERSION_UDP_RECEIVER) or version is None:
        shown = f"iperf3 {version}" if version else "an iperf3 of unknown version"
        raise MeasurementError(
            f"the {who} ran {shown}, which writes no UDP receiver summary (end.sum_received): iperf3 "
            f"{_floor_text(MIN_VERSION_UDP_RECEIVER)} or newer is needed on the {who} (esnet/iperf#1174)"
        )
    raise MeasurementError(f"the {who}'s output has no UDP receiver summary (end.sum_received)")


def _optional_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


#: The note of a document iperf3 printed twice.
DOUBLED = (
    "iperf3 printed its JSON document twice (a bug of iperf3 3.16 and 3.17: esnet/iperf#1688, #1716); "
    "the first copy is read"
)
#: The note of a reverse-mode (-R) test.
REVERSED = "reverse mode (-R): the server sent and the client received; the receiver's figures are the client's own"


def _document(text: str) -> tuple[dict[str, Any], list[str]]:
    """The client's document and a note when iperf3 printed it twice (identical copies: esnet/iperf#1716)."""
    docs = json_documents(text, what="iperf3 output", empty="iperf3 produced no output")
    notes: list[str] = []
    if len(docs) > 1:
        if any(other != docs[0] for other in docs[1:]):
            raise MeasurementError(
                f"iperf3 output holds {len(docs)} different JSON documents; one test per file was expected "
                "(iperf3 3.16 and 3.17 print one document twice, esnet/iperf#1688, but these differ)"
            )
        notes.append(DOUBLED)
    if not isinstance(docs[0], dict):
        raise MeasurementError("iperf3 output is not a JSON object")
    return docs[0], notes


def is_bidirectional(doc: dict[str, Any]) -> bool:
    """True for a ``--bidir`` test: ``start.test_start.bidir`` (iperf3 >= 3.13) or the ``*_bidir_reverse`` sums
    of its end summary (every version with ``--bidir``, 3.7 on)."""
    test_start = section(section(doc, "start", "iperf3 output: start"), "test_start", "iperf3 output: start.test_start")
    end = section(doc, "end", "iperf3 output: end")
    return bool(test_start.get("bidir")) or any(str(key).endswith("_bidir_reverse") for key in end)


BIDIR_REFUSED = (
    "iperf3 --bidir output (both directions in one test): cnibench reads one direction per test; "
    "measure each direction as its own test (-R for the server-to-client one)"
)


#: The note of a forward UDP test read from the client's file alone (``udp_client_only``).
UDP_CLIENT_ONLY = (
    "UDP without the server's JSON: the throughput is the client's end.sum_received, the receiver's byte count the "
    "server relays to the client when the test ends (iperf3 >= 3.11; not end.sum, the sent rate); loss, jitter "
    "and the per-second received rate are the receiver's figures and unknown here (iperf3 <= 3.13 clients count "
    "warm-up loss, esnet/iperf#1489; 3.14-3.20 clients of older servers say 0, #1984)"
)


def parse_client_json(text: str, *, udp_client_only: bool = False) -> Iperf3Result:
    """Parse the client's ``-J --get-server-output`` document (forward or reverse mode, see the module docstring).

    ``udp_client_only`` (``cnibench ingest``: files cnibench did not capture): a forward UDP test without the
    server's JSON is read rather than refused, its throughput from the client's ``end.sum_received`` (what the
    server reported receiving) and its loss, jitter and intervals left unknown (None, empty), with a note.

    Raises :class:`MeasurementError` with iperf3's own reason, when the test did not finish, for a ``--bidir`` test,
    for a document that is not one (a section of the wrong JSON type, a ``NaN`` token), or when a UDP test's
    receiver figures cannot be read from the receiver's own JSON (never taken from the sender instead).
    """
    doc, notes = _document(text)
    if doc.get("error"):
        raise MeasurementError(f"iperf3: {doc['error']}")
    test_start = section(section(doc, "start", "iperf3 output: start"), "test_start", "iperf3 output: start.test_start")
    end = section(doc, "end", "iperf3 output: end")
    if not end:
        raise MeasurementError("iperf3 output has no end summary (test did not finish)")
    if is_bidirectional(doc):
        raise MeasurementError(BIDIR_REFUSED)
    reverse = bool(test_start.get("reverse"))
    protocol = str(test_start.get("protocol", "TCP")).lower()
    sent = section(end, "sum_sent", "iperf3 output: end.sum_sent") or section(end, "sum", "iperf3 output: end.sum")
    cpu = section(end, "cpu_utilization_percent", "iperf3 output: end.cpu_utilization_percent")
    server, server_missing = _server_json(doc)
    client_intervals, client_notes = measured_intervals(doc, "client")
    server_intervals, server_notes = measured_intervals(server, "server") if server is not None else ([], [])
    # who received (its intervals are the received rate) and who sent (its TCP_INFO gives the RTT)
    sender: dict[str, Any] | None
    if reverse:
        notes.append(REVERSED)
        intervals, sender, sender_intervals = client_intervals, server, server_intervals
        notes += client_notes
    elif server is not None:
        intervals, sender, sender_intervals = server_intervals, doc, client_intervals
        notes += server_notes
    else:
        intervals, sender, sender_intervals = client_intervals, doc, client_intervals
        notes += client_notes
    common: dict[str, Any] = {
        "protocol": protocol,
        "sender_bps": _num(sent.get("bits_per_second"), "end.sum_sent.bits_per_second"),
        "source_ip_seen": _source_ip(server),
        "client_cpu_percent": _optional_number(cpu.get("host_total")),
        "server_cpu_percent": _optional_number(cpu.get("remote_total")),
        "version": _doc_version(doc),
        "server_version": _doc_version(server) if server is not None else None,
        "server_local_ip": _connected(server, "local_host", "server's end of the test"),
        "client_connected_to": _connected(doc, "remote_host", "client's peer"),
    }
    if protocol == "udp":
        if reverse:
            received, where = _udp_receiver(doc, "client"), "end.sum_received"
        elif server is None and udp_client_only:
            received = _udp_receiver(doc, "client")
            return Iperf3Result(
                **common,
                throughput_bps=_num(received.get("bits_per_second"), "end.sum_received.bits_per_second"),
                retransmits=None,
                rtt_mean_us=None,
                rtt_min_us=None,
                rtt_max_us=None,
                jitter_ms=None,
                lost_packets=None,
                lost_percent=None,
                intervals_bps=(),
                notes=(*notes, UDP_CLIENT_ONLY),
            )
        elif server is None:
            raise MeasurementError(
                f"UDP: {server_missing}; loss, jitter and the received rate are the receiver's (the server's) "
                "figures and are not taken from the client"
            )
        else:
            received, where = _udp_receiver(server, "server"), "server end.sum_received"
        return Iperf3Result(
            **common,
            throughput_bps=_num(received.get("bits_per_second"), f"{where}.bits_per_second"),
            retransmits=None,
            rtt_mean_us=None,
            rtt_min_us=None,
            rtt_max_us=None,
            jitter_ms=_num(received.get("jitter_ms"), f"{where}.jitter_ms"),
            lost_packets=int(_num(received.get("lost_packets"), f"{where}.lost_packets")),
            lost_percent=_num(received.get("lost_percent"), f"{where}.lost_percent"),
            intervals_bps=tuple(i.bits_per_second for i in intervals),
            notes=tuple(notes),
        )
    if server is None and not reverse:
        notes.append(f"intervals are the sender's: {server_missing}")
    received = section(end, "sum_received", "iperf3 output: end.sum_received")
    retransmits = sent.get("retransmits")
    rtt_mean, rtt_min, rtt_max = rtt_over(sender, sender_intervals) if sender is not None else (None, None, None)
    if sender is None:
        notes.append(f"TCP RTT not measured: the sender is the server (reverse mode) and {server_missing}")
    elif rtt_mean is None and sender_intervals:
        notes.append(RTT_NOT_MEASURED)
    return Iperf3Result(
        **common,
        throughput_bps=_num(received.get("bits_per_second"), "end.sum_received.bits_per_second"),
        retransmits=int(retransmits) if isinstance(retransmits, int) and not isinstance(retransmits, bool) else None,
        rtt_mean_us=rtt_mean,
        rtt_min_us=rtt_min,
        rtt_max_us=rtt_max,
        jitter_ms=None,
        lost_packets=None,
        lost_percent=None,
        intervals_bps=tuple(i.bits_per_second for i in intervals),
        notes=tuple(notes),
    )


def version_of(output: str) -> str | None:
    """``iperf 3.12 (cJSON 1.7.15)`` -> ``3.12``."""
    parts = output.split()
    return parts[1] if len(parts) > 1 and parts[0] == "iperf" else None
