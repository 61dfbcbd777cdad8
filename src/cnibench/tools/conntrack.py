"""The conntrack table of a node: its size and error counters, from /proc, ``conntrack -S`` or node_exporter.

Three per-network-namespace sources (a netns node has its own table; a Kubernetes node's host network namespace is
the node's), all checked on Debian 12 (kernel 6.18, conntrack-tools 1.4.7, prometheus-node-exporter 1.5.0; goldens
in ``tests/data/conntrack`` and ``tests/data/node_exporter``):

* ``/proc/sys/net/netfilter/nf_conntrack_count`` and ``nf_conntrack_max``: entries now and the table's limit.
* ``/proc/net/stat/nf_conntrack``: one row per CPU of hexadecimal counters under a header (``entries`` is the
  namespace's entry count, the same on every row; the counters are per CPU and are summed).
* ``conntrack -S``: the same counters per CPU as ``cpu=N found=.. invalid=.. insert_failed=.. drop=..
  early_drop=..``.
* node_exporter's conntrack collector: ``node_nf_conntrack_entries``, ``node_nf_conntrack_entries_limit`` and the
  counters summed over CPUs as ``node_nf_conntrack_stat_{found,invalid,ignore,insert,insert_failed,drop,
  early_drop,search_restart}`` (gauges in 1.5.0, though they only grow).

What the counters mean (the kernel's ``nf_conntrack_core.c``; node_exporter's help texts): ``insert_failed``: a
new entry could not be inserted (a clash of two packets of one new flow, or a full table); ``drop``: packets
dropped because conntrack failed for them (a full table among others); ``early_drop``: entries evicted to make
room when the table was full; ``invalid``: packets conntrack could not track (out of window, broken). On this
kernel ``found``, ``insert``, ``new`` and ``delete`` stay 0 (they are no longer counted): never read them as "no
new flows". Counters count since the namespace was made: a window's figure is end minus start.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from cnibench.errors import MeasurementError

#: The counters cnibench reports (names as the kernel, ``conntrack -S`` and node_exporter spell them).
COUNTERS = ("insert_failed", "drop", "early_drop", "invalid")
PROC_COUNT = "sys/net/netfilter/nf_conntrack_count"
PROC_MAX = "sys/net/netfilter/nf_conntrack_max"
PROC_STAT = "net/stat/nf_conntrack"
NODE_EXPORTER_ENTRIES = "node_nf_conntrack_entries"
NODE_EXPORTER_LIMIT = "node_nf_conntrack_entries_limit"
NODE_EXPORTER_STAT = "node_nf_conntrack_stat_"
_CPU_LINE = re.compile(r"^cpu=(?P<cpu>[0-9]+)\s+(?P<pairs>.*)$")


@dataclass(frozen=True)
class ConntrackCounters:
    """The error counters, summed over CPUs (counts since the namespace was made)."""

    insert_failed: int
    drop: int
    early_drop: int
    invalid: int

    def minus(self, start: ConntrackCounters) -> ConntrackCounters:
        """The counts of a window: these (at its end) less ``start``. Raises :class:`MeasurementError` when a counter
        went down (not the same namespace, or it was re-made)."""
        delta = {f.name: getattr(self, f.name) - getattr(start, f.name) for f in fields(self)}
        if any(value < 0 for value in delta.values()):
            raise MeasurementError(f"conntrack counters went down over the window: {delta}")
        return ConntrackCounters(**delta)


@dataclass(frozen=True)
class ConntrackTable:
    """A table's state at one moment: ``entries`` (None where the source has none, as ``conntrack -S``),
    ``limit`` (``nf_conntrack_max``; None where unknown) and the counters."""

    entries: int | None
    limit: int | None
    counters: ConntrackCounters

    @property
    def fill_fraction(self) -> float | None:
        """entries / limit (fraction, 0-1); None when either is unknown."""
        if self.entries is None or not self.limit:
            return None
        return self.entries / self.limit


def _counters(totals: dict[str, int], what: str) -> ConntrackCounters:
    missing = [name for name in COUNTERS if name not in totals]
    if missing:
        raise MeasurementError(f"{what} has no {', '.join(missing)}")
    return ConntrackCounters(**{name: totals[name] for name in COUNTERS})


def parse_conntrack_stats(text: str) -> ConntrackCounters:
    """``conntrack -S`` output (one ``cpu=N key=value ...`` line per CPU) -> the counters summed over CPUs. Raises
    :class:`MeasurementError` when there is no CPU line or a value is not a number."""
    totals: dict[str, int] = {}
    lines = 0
    for line in text.splitlines():
        match = _CPU_LINE.match(line.strip())
        if match is None:
            continue
        lines += 1
        for pair in match.group("pairs").split():
            key, _, value = pair.partition("=")
            if not value.isdigit():
                raise MeasurementError(f"conntrack -S: {pair!r} is not key=number")
            totals[key] = totals.get(key, 0) + int(value)
    if not lines:
        raise MeasurementError("conntrack -S printed no 'cpu=N ...' line (no conntrack in this kernel or namespace?)")
    return _counters(totals, "conntrack -S output")


def parse_proc_stat(text: str) -> tuple[int, ConntrackCounters]:
    """``/proc/net/stat/nf_conntrack`` (a header, then one row of hexadecimal fields per CPU) -> (entries,
    counters summed over CPUs). Raises :class:`MeasurementError` for a file without the header or a broken row."""
    lines = [line.split() for line in text.strip().splitlines() if line.strip()]
    if not lines or lines[0][:1] != ["entries"]:
        raise MeasurementError("/proc/net/stat/nf_conntrack has no header starting with 'entries'")
    header = lines[0]
    totals: dict[str, int] = {}
    entries: int | None = None
    for row in lines[1:]:
        if len(row) != len(header):
            raise MeasurementError(
                f"/proc/net/stat/nf_conntrack: a row has {len(row)} fields, the header {len(header)}"
            )
        try:
            values = [int(value, 16) for value in row]
        except ValueError:
            raise MeasurementError(f"/proc/net/stat/nf_conntrack: {' '.join(row)[:60]!r} is not hexadecimal") from None
        entries = values[0]  # the namespace's count, repeated on every CPU's row
        for key, value in zip(header[1:], values[1:], strict=True):
            totals[key] = totals.get(key, 0) + value
    if entries is None:
        raise MeasurementError("/proc/net/stat/nf_conntrack has no CPU rows")
    return entries, _counters(totals, "/proc/net/stat/nf_conntrack")


def _proc_int(path: Path) -> int:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError) as exc:
        raise MeasurementError(f"cannot read {path}: {exc}") from None


def read_proc(proc: Path = Path("/proc")) -> ConntrackTable:
    """The table of the network namespace ``proc`` belongs to (``/proc`` of a process in it; in a netns entered
    with ``ip netns exec``, /proc/sys/net and /proc/net are that namespace's). Raises :class:`MeasurementError`
    when conntrack is not loaded (no such files)."""
    _, counters = parse_proc_stat(_read(proc / PROC_STAT))
    return ConntrackTable(entries=_proc_int(proc / PROC_COUNT), limit=_proc_int(proc / PROC_MAX), counters=counters)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise MeasurementError(f"cannot read {path}: {exc} (nf_conntrack not loaded?)") from None


def parse_node_exporter(text: str) -> ConntrackTable:
    """The conntrack collector's samples in node_exporter's ``/metrics`` text -> the table. Raises
    :class:`MeasurementError` when a metric is missing (collector off: ``--collector.conntrack``).

    Own parsing, not a Prometheus client library: the project has none as a dependency and only these unlabelled
    samples (``name value``) are read; a labelled or repeated sample of these names is refused."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        if not line.startswith("node_nf_conntrack_"):
            continue
        name, _, rest = line.partition(" ")
        if "{" in name or name in values:
            raise MeasurementError(f"node_exporter: unexpected sample {line[:80]!r}")
        try:
            values[name] = float(rest.split()[0])
        except (IndexError, ValueError):
            raise MeasurementError(f"node_exporter: {line[:80]!r} has no number") from None

    def need(name: str) -> int:
        if name not in values:
            raise MeasurementError(f"node_exporter /metrics has no {name} (is --collector.conntrack on?)")
        return int(values[name])

    counters = ConntrackCounters(**{c: need(NODE_EXPORTER_STAT + c) for c in COUNTERS})
    return ConntrackTable(entries=need(NODE_EXPORTER_ENTRIES), limit=need(NODE_EXPORTER_LIMIT), counters=counters)


@dataclass(frozen=True)
class ConntrackWindow:
    """A node's table over a measurement window: entries at start, peak (the largest of every sample taken,
    start and end included) and end, the limit, and the counters' increase over the window."""

    entries_start: int
    entries_peak: int
    entries_end: int
    limit: int | None
    counters: ConntrackCounters  # end minus start

    @property
    def filled(self) -> bool:
        """The table reached its limit at some sample (new flows were refused or evicted)."""
        return self.limit is not None and self.entries_peak >= self.limit

    @property
    def troubled(self) -> bool:
        """Insert failures, drops or early drops in the window: say so in the summary."""
        c = self.counters
        return self.filled or c.insert_failed > 0 or c.drop > 0 or c.early_drop > 0


def window(samples: list[ConntrackTable]) -> ConntrackWindow:
    """Summarise samples taken in time order over a window (at least the start and the end). Raises
    :class:`MeasurementError` with fewer than two samples or a sample without an entry count."""
    if len(samples) < 2:
        raise MeasurementError(f"a conntrack window needs a sample at its start and at its end, got {len(samples)}")
    counts = [s.entries for s in samples]
    if any(count is None for count in counts):
        raise MeasurementError("a conntrack sample has no entry count (conntrack -S alone has none: read /proc too)")
    entries = [count for count in counts if count is not None]
    limits = {s.limit for s in samples if s.limit is not None}
    return ConntrackWindow(
        entries_start=entries[0],
        entries_peak=max(entries),
        entries_end=entries[-1],
        limit=min(limits) if limits else None,
        counters=samples[-1].counters.minus(samples[0].counters),
    )


#: The netns launcher's artifact (:mod:`cnibench.platforms.netns.conntrack_watch`): a JSON document with the tool's
#: stdout, stderr and exit code and per node the samples of :func:`sample_record`.
WATCH_FORMAT = "cnibench-conntrack-watch/1"


def sample_record(table: ConntrackTable, at: float) -> dict[str, Any]:
    """One sample as a JSON object: Unix time ``t``, ``entries``, ``limit`` and the counters."""
    return {"t": at, "entries": table.entries, "limit": table.limit, **asdict(table.counters)}


def table_of(record: dict[str, Any]) -> ConntrackTable:
    """A sample (:func:`sample_record`) back as a table. Raises :class:`MeasurementError` for a broken one."""
    try:
        counters = ConntrackCounters(**{k: int(record[k]) for k in ("insert_failed", "drop", "early_drop", "invalid")})
        limit = record.get("limit")
        return ConntrackTable(int(record["entries"]), int(limit) if limit is not None else None, counters)
    except (KeyError, TypeError, ValueError) as exc:
        raise MeasurementError(f"a conntrack sample is broken ({exc}): {str(record)[:80]}") from None
