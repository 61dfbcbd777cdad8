"""ApacheBench (``ab``): the ``crr`` workload's tool (TCP connect, one HTTP request and response, close): argv and
parsers.

``ab -c 1`` without ``-k`` opens one connection per request, sends an HTTP/1.0 GET, reads the response until the
server closes, and only then starts the next: one transaction outstanding, each a new connection, like netperf's
TCP_CRR (whose request and response are 1 byte of raw TCP, not HTTP). Each request's time runs from the start of
its connect to the end of the response (ab's "Total" connection time), like TCP_CRR's timed transaction, which
also includes the connect. ``-e FILE`` writes, for every whole percent 0-100, the time (ms, three decimals) within
which that share of the requests was served: the order statistics of the per-request times, so p50, p90 and p99
and the longest (100 %) come from there; ab has no finer percentile, so p99.9 is not given (None).

Checked with ab 2.3 (Debian 12 apache2-utils 2.4.71), goldens in ``tests/data/ab``:

* ``-t`` alone implies ``-n 50000`` ("-t timelimit ... implies -n 50000", ab(1)): a fast path would stop early, so
  ``-n`` is given after ``-t``, larger than any run can reach.
* Without ``-r`` ab stops at the first receive error, exit code = errno (111 refused, 104 reset), no statistics.
  With ``-r`` it runs for the whole time and counts failures, but its breakdown double counts: against a port with
  nothing listening it printed 45,304 "Complete requests" and 67,956 "Failed requests" (Receive 45,304,
  Exceptions 22,652). So a repetition with any failed request has no connection rate here (None): it is a
  failed or partial repetition, reported with ab's own counts.
* "Requests per second" is complete requests over the wall time, gaps between connections included.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cnibench.errors import MeasurementError

#: More requests than any run can complete, so that ``-t`` ends the run (see the module docstring).
MAX_REQUESTS = 100_000_000

_FIELD = re.compile(r"^(?P<key>[A-Za-z][A-Za-z ]*?):\s+(?P<value>.+?)\s*$", re.MULTILINE)
_BREAKDOWN = re.compile(
    r"\(Connect: (?P<connect>[0-9]+), Receive: (?P<receive>[0-9]+), Length: (?P<length>[0-9]+), "
    r"Exceptions: (?P<exceptions>[0-9]+)\)"
)
_NON_2XX = re.compile(r"^Non-2xx responses:\s+([0-9]+)", re.MULTILINE)
_ERROR = re.compile(r"^(apr_\w+: .*|Test aborted after .*|Server timed out.*)$", re.MULTILINE)
_VERSION = re.compile(r"This is ApacheBench, Version ([0-9][0-9.]*)")


def client_argv(url: str, *, duration: int, percentiles_csv: str) -> list[str]:
    """One connection at a time (``-c 1``, no ``-k``: a new connection per request) for ``duration`` s, counting
    failures instead of stopping at the first (``-r``), the per-request time percentiles in ``percentiles_csv``."""
    return [
        "ab",
        "-c", "1",
        "-t", str(duration),
        "-n", str(MAX_REQUESTS),  # after -t, which would set 50000
        "-r",
        "-e", percentiles_csv,
        url,
    ]  # fmt: skip


@dataclass(frozen=True)
class AbResult:
    """One ``ab`` run. Times in µs (ab prints ms with three decimals: 1 µs resolution)."""

    time_taken_s: float
    complete: int  # ab's "Complete requests" (failed ones included)
    failed: int  # ab's "Failed requests"
    failed_connect: int  # ab's breakdown (it double counts: see the module docstring)
    failed_receive: int
    failed_length: int
    failed_exceptions: int
    non_2xx: int
    connections: int | None  # successful transactions (one connection each); None when any request failed
    connections_per_s: float | None
    latency_p50_us: float | None  # per-request connect-to-response time (-e file); None without one or on failures
    latency_p90_us: float | None
    latency_p99_us: float | None
    latency_p99_9_us: float | None  # ab gives whole percents only: always None, said here, not guessed
    latency_max_us: float | None
    version: str | None


def _fields(text: str) -> dict[str, str]:
    return {m.group("key").strip(): m.group("value") for m in _FIELD.finditer(text)}


def _int(fields: dict[str, str], key: str) -> int:
    value = fields.get(key)
    if value is None or not value.split()[0].isdigit():
        raise MeasurementError(f"ab output has no {key!r}")
    return int(value.split()[0])


def parse_percentiles(csv_text: str) -> dict[int, float]:
    """ab's ``-e`` file: ``Percentage served,Time in ms`` then ``P,ms`` for P = 0..100 -> {P: µs}. Raises
    :class:`MeasurementError` for a file without the header, a broken row, or not 101 rows."""
    lines = [line.strip() for line in csv_text.strip().splitlines() if line.strip()]
    if not lines or lines[0] != "Percentage served,Time in ms":
        raise MeasurementError("ab percentile file has no 'Percentage served,Time in ms' header")
    table: dict[int, float] = {}
    for line in lines[1:]:
        try:
            percent, ms = line.split(",")
            table[int(percent)] = float(ms) * 1000.0
        except ValueError:
            raise MeasurementError(f"ab percentile file: {line[:60]!r} is not 'percent,ms'") from None
    if sorted(table) != list(range(101)):
        raise MeasurementError(f"ab percentile file has {len(table)} rows; 0 to 100 were expected")
    return table


def parse(stdout: str, stderr: str = "", percentiles_csv: str | None = None) -> AbResult:
    """Parse ab's stdout (its report), stderr (its errors) and ``-e`` file. Raises :class:`MeasurementError`
    with ab's own complaint when it printed no report (it stopped at an error), and when a figure is missing."""
    fields = _fields(stdout)
    if "Complete requests" not in fields:
        complaint = _ERROR.search(stderr) or _ERROR.search(stdout)
        reason = complaint.group(1) if complaint else (stderr.strip().splitlines() or ["no report"])[-1]
        raise MeasurementError(f"ab measured nothing: {reason}")
    taken = fields.get("Time taken for tests", "").split()
    try:
        time_taken = float(taken[0])
    except (IndexError, ValueError):
        raise MeasurementError("ab output has no 'Time taken for tests'") from None
    if time_taken <= 0:
        raise MeasurementError(f"ab ran for {time_taken} s")
    complete = _int(fields, "Complete requests")
    failed = _int(fields, "Failed requests")
    breakdown = _BREAKDOWN.search(stdout)
    counts = {k: int(v) for k, v in breakdown.groupdict().items()} if breakdown else {}
    non_2xx = _NON_2XX.search(stdout)
    bad = failed > 0 or non_2xx is not None
    # the percentiles of a run with failures mix failed attempts in: not a latency of the transaction
    table = parse_percentiles(percentiles_csv) if percentiles_csv is not None and not bad else None
    version = _VERSION.search(stdout)
    return AbResult(
        time_taken_s=time_taken,
        complete=complete,
        failed=failed,
        failed_connect=counts.get("connect", 0),
        failed_receive=counts.get("receive", 0),
        failed_length=counts.get("length", 0),
        failed_exceptions=counts.get("exceptions", 0),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        connections=None if bad else complete,
        connections_per_s=None if bad else complete / time_taken,
        latency_p50_us=table[50] if table else None,
        latency_p90_us=table[90] if table else None,
        latency_p99_us=table[99] if table else None,
        latency_p99_9_us=None,
        latency_max_us=table[100] if table else None,
        version=version.group(1) if version else None,
    )
