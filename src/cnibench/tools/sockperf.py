"""sockperf: the ``rr`` workload's tool (one outstanding request/response, TCP or UDP): argv builders and parsers.

``sockperf ping-pong`` sends one message and waits for its echo before sending the next (``--burst=1
--reply-every=1``: one transaction outstanding, like netperf's TCP_RR/UDP_RR). The client prints, for the
measured window only (its "Valid Duration": the run less a 400 ms warm-up and a short cool-down), the number of
round trips, their mean and the order statistics of every observed round trip (``percentile 50.000``... and
``<MAX> observation``); with ``--full-log FILE`` it also writes every transaction's send and receive time and
round-trip time (CSV). ``--full-rtt`` makes every figure a round-trip time: without it sockperf halves it
("latency"), which is not what netperf's TCP_RR reports. Messages are at least 14 bytes (sockperf's own header).

Checked with sockperf 3.7 (Debian 12), goldens in ``tests/data/sockperf``:

* Everything, errors included, goes to stdout, with ANSI colour codes even into a file; they are stripped here.
* sockperf exits 0 when the server is not listening ("ERROR: Can`t connect socket"), when a UDP server never
  answered ("No messages were received from the server") and after SIGINT (``Test end (interrupted by user)``,
  statistics of the shorter window). It exits 7 when a TCP server goes away mid-run (no statistics). So a run is
  judged from its text, never from its exit code: no statistics is a :class:`MeasurementError`; a run stopped
  early says so in ``interrupted`` and in its shorter ``run_time_s``.
* It needs about 2 s to start before the warm-up (a 4 s run interrupted after 4 s of wall time had a 1.8 s run).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cnibench.errors import MeasurementError

DEFAULT_PORT = 11111
#: sockperf 3.7 refuses other sizes: "'-m' Invalid message size: 13 (min: 14)", "... 70000 (max: 65507)" (its
#: 14-byte header travels in every message).
MIN_MESSAGE_SIZE = 14
MAX_MESSAGE_SIZE = 65507
#: Seconds sockperf takes to start, warm up (400 ms) and cool down around ``--time``, for timeouts and estimates.
STARTUP_S = 3.0

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_VERSION = re.compile(r"== version #([0-9]+(?:\.[0-9]+)+)")
_VALID = re.compile(
    r"\[Valid Duration\] RunTime=(?P<run>[0-9.]+) sec; SentMessages=(?P<sent>[0-9]+); "
    r"ReceivedMessages=(?P<received>[0-9]+)"
)
_MEAN = re.compile(r"====> avg-(?P<kind>rtt|latency)=(?P<mean>[0-9.]+) \(std-dev=(?P<std>[0-9.]+)\)")
_ANOMALIES = re.compile(
    r"# dropped messages = (?P<dropped>[0-9]+); # duplicated messages = (?P<dup>[0-9]+); "
    r"# out-of-order messages = (?P<ooo>[0-9]+)"
)
_PERCENTILE = re.compile(r"---> percentile (?P<p>[0-9.]+) = +(?P<v>[0-9.]+)")
_EXTREME = re.compile(r"---> <(?P<which>MAX|MIN)> observation = +(?P<v>[0-9.]+)")
_ERROR = re.compile(r"sockperf: (ERROR: .*|No messages were (received|sent).*|No valid observations.*)")
_PROTOCOL = re.compile(r"PORT = +[0-9]+ # (TCP|UDP)")


def server_argv(bind: str, *, protocol: str, port: int = DEFAULT_PORT) -> list[str]:
    """A sockperf server (echoes every message) on ``bind:port``; TCP needs ``--tcp``, UDP is sockperf's default.
    One server serves one protocol, so a trial with both runs two servers on two ports."""
    argv = ["sockperf", "server", "--ip", bind, "--port", str(port)]
    return argv + (["--tcp"] if protocol == "tcp" else [])


def client_argv(
    server: str, *, protocol: str, duration: int, message_size: int, port: int = DEFAULT_PORT, full_log: str | None
) -> list[str]:
    """``sockperf ping-pong`` for ``duration`` s with ``message_size``-byte messages (request and response alike),
    round-trip times (``--full-rtt``), as fast as one outstanding message goes (``--mps=max``), and, with
    ``full_log``, every transaction's round-trip time in that CSV file. Raises ``ValueError`` for a message size
    sockperf cannot send."""
    if not MIN_MESSAGE_SIZE <= message_size <= MAX_MESSAGE_SIZE:
        raise ValueError(f"message size {message_size}: sockperf sends {MIN_MESSAGE_SIZE} to {MAX_MESSAGE_SIZE} bytes")
    argv = [
        "sockperf", "ping-pong",
        "--ip", server,
        "--port", str(port),
        "--time", str(duration),
        "--msg-size", str(message_size),
        "--mps=max",
        "--full-rtt",
    ]  # fmt: skip
    if protocol == "tcp":
        argv.append("--tcp")
    if full_log is not None:
        argv += ["--full-log", full_log]
    return argv


@dataclass(frozen=True)
class SockperfResult:
    """One ping-pong run's measured window. Latencies are round-trip times in µs, from sockperf's own order
    statistics of every observation (not from a histogram, not from the mean)."""

    protocol: str | None  # "tcp" | "udp", as sockperf printed it
    run_time_s: float  # the measured ("valid") window, s
    sent: int  # messages sent in the window
    transactions: int  # round trips completed in the window (replies received)
    transactions_per_s: float  # transactions / run_time_s
    latency_mean_us: float
    latency_stddev_us: float
    latency_min_us: float
    latency_p50_us: float
    latency_p90_us: float
    latency_p99_us: float
    latency_p99_9_us: float
    latency_max_us: float
    dropped: int  # sockperf's "dropped messages" (UDP: requests or replies lost)
    duplicated: int
    out_of_order: int
    interrupted: bool  # stopped by a signal before --time ran out (a shorter window)
    round_trip: bool  # True with --full-rtt; False: sockperf halved every figure ("latency")
    version: str | None


def _strip(text: str) -> str:
    return _ANSI.sub("", text)


def _one(pattern: re.Pattern[str], text: str, what: str) -> re.Match[str]:
    match = pattern.search(text)
    if match is None:
        raise MeasurementError(f"sockperf output has no {what}")
    return match


def parse(text: str) -> SockperfResult:
    """Parse ``sockperf ping-pong`` stdout (with or without colour codes).

    Raises :class:`MeasurementError` naming sockperf's own complaint when it printed no statistics (server not
    listening, no reply, a TCP peer that went away, a window without observations), and when a figure is
    missing. A run with one server only is read (``--srv-num 1``, the default)."""
    plain = _strip(text)
    if not plain.strip():
        raise MeasurementError("sockperf printed nothing")
    valid = _VALID.search(plain)
    if valid is None:
        complaint = _ERROR.search(plain)
        reason = complaint.group(1).strip() if complaint else "no statistics"
        raise MeasurementError(f"sockperf measured nothing: {reason}")
    mean = _one(_MEAN, plain, "avg-rtt line")
    anomalies = _one(_ANOMALIES, plain, "dropped/duplicated/out-of-order line")
    percentiles = {float(m.group("p")): float(m.group("v")) for m in _PERCENTILE.finditer(plain)}
    extremes = {m.group("which"): float(m.group("v")) for m in _EXTREME.finditer(plain)}
    for needed in (50.0, 90.0, 99.0, 99.9):
        if needed not in percentiles:
            raise MeasurementError(f"sockperf output has no percentile {needed:g}")
    for which in ("MIN", "MAX"):
        if which not in extremes:
            raise MeasurementError(f"sockperf output has no <{which}> observation")
    run_time = float(valid.group("run"))
    received = int(valid.group("received"))
    if run_time <= 0:
        raise MeasurementError(f"sockperf measured for {run_time} s")
    version = _VERSION.search(plain)
    protocol = _PROTOCOL.search(plain)
    return SockperfResult(
        protocol=protocol.group(1).lower() if protocol else None,
        run_time_s=run_time,
        sent=int(valid.group("sent")),
        transactions=received,
        transactions_per_s=received / run_time,
        latency_mean_us=float(mean.group("mean")),
        latency_stddev_us=float(mean.group("std")),
        latency_min_us=extremes["MIN"],
        latency_p50_us=percentiles[50.0],
        latency_p90_us=percentiles[90.0],
        latency_p99_us=percentiles[99.0],
        latency_p99_9_us=percentiles[99.9],
        latency_max_us=extremes["MAX"],
        dropped=int(anomalies.group("dropped")),
        duplicated=int(anomalies.group("dup")),
        out_of_order=int(anomalies.group("ooo")),
        interrupted="interrupted by user" in plain,
        round_trip=mean.group("kind") == "rtt",
        version=version.group(1) if version else None,
    )


def parse_full_log(text: str) -> list[float]:
    """The round-trip times (µs, in send order) of a ``--full-log`` CSV: sockperf writes its summary first, then
    ``packet, txTime(sec), rxTime(sec), rtt(usec)`` and one row per transaction of the measured window. Raises
    :class:`MeasurementError` when the header or a row is missing or broken."""
    lines = _strip(text).splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.replace(" ", "").startswith("packet,txTime"))
    except StopIteration:
        header = "packet, txTime(sec), rxTime(sec), rtt(usec)"
        raise MeasurementError(f"sockperf full log has no {header!r} header") from None
    rtts: list[float] = []
    for number, line in enumerate(lines[start + 1 :], start + 2):
        if not line.strip() or line.startswith("---"):
            continue
        fields = [field.strip() for field in line.split(",")]
        try:
            rtts.append(float(fields[3]))
        except (IndexError, ValueError):
            raise MeasurementError(
                f"sockperf full log line {number} is not 'packet, tx, rx, rtt': {line[:80]!r}"
            ) from None
    if not rtts:
        raise MeasurementError("sockperf full log has no transactions")
    return rtts


def version_of(output: str) -> str | None:
    """``sockperf, version 3.7-no.git`` (``sockperf --version``) or the banner of a run -> ``3.7``."""
    match = re.search(r"version #?([0-9]+(\.[0-9]+)+)", _strip(output))
    return match.group(1) if match else None
