"""iperf3's reporting intervals as measured: the intervals after the warm-up (``-O``), re-timed where iperf3
mis-timed them (esnet/iperf#1261), and the TCP RTT over them. Pure; :mod:`cnibench.tools.iperf3` reads a whole
result with it."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from cnibench.tools.base import items, section

#: An interval whose ``seconds`` differs from its span by more than this is mis-timed (the JSON rounds start and
#: end to microseconds; the timer race of esnet/iperf#1261 is off by about the length of an omitted interval).
TIMING_TOLERANCE_S = 0.05
#: A last interval shorter than this fraction of the reporting interval is a fragment, not a measurement.
FRAGMENT_FRACTION = 0.1


@dataclass(frozen=True)
class MeasuredInterval:
    """One reporting interval after the warm-up: its span (seconds from the end of the warm-up), bit/s, and the
    per-stream TCP RTT samples (µs) taken at its end."""

    start_s: float
    end_s: float
    bits_per_second: float
    rtt_us: tuple[float, ...] = ()


def measured_intervals(doc: dict[str, Any], who: str) -> tuple[list[MeasuredInterval], list[str]]:
    """The measured (not omitted) intervals of one iperf3 JSON document, re-timed where iperf3 mis-timed them.

    ``who`` names the side in notes ("client", "server"). Returns the intervals and the notes on what was
    corrected or left out. The measured intervals tile ``[0, end of test]``: an interval's real span is from the
    previous measured interval's end (0 for the first) to its own end (esnet/iperf#1261).
    """
    raw = [
        i
        for i in items(doc, "intervals", "iperf3 output: intervals")
        if isinstance(i, dict) and isinstance(i.get("sum"), dict)
    ]
    measured = [i for i in raw if not i["sum"].get("omitted", False)]
    out: list[MeasuredInterval] = []
    notes: list[str] = []
    previous_end = 0.0
    for number, interval in enumerate(measured, start=1):
        total = interval["sum"]
        try:
            start, end = float(total["start"]), float(total["end"])
            seconds, size = float(total["seconds"]), float(total["bytes"])
        except (KeyError, TypeError, ValueError):
            notes.append(f"{who} interval {number}: no start, end, seconds or bytes; left out")
            continue
        rtts = tuple(
            float(s["rtt"])
            for s in items(interval, "streams", "iperf3 output: intervals[].streams")
            if isinstance(s, dict) and isinstance(s.get("rtt"), int | float) and s["rtt"] > 0
        )
        span = end - start
        if abs(seconds - span) > TIMING_TOLERANCE_S:
            real = end - previous_end
            if real <= TIMING_TOLERANCE_S or end <= previous_end:
                notes.append(
                    f"{who} interval {number}: seconds {seconds:.4f} but start {start:.4f} and end {end:.4f} "
                    "(iperf3's warm-up timer race, esnet/iperf#1261); its real length is unknown: left out"
                )
                previous_end = max(previous_end, end)
                continue
            notes.append(
                f"{who} interval {number}: seconds {seconds:.4f} but it spans {real:.4f} s since the previous "
                f"interval (iperf3's warm-up timer race, esnet/iperf#1261): rate from its bytes over {real:.4f} s"
            )
            start, seconds = previous_end, real
        if seconds <= 0:
            notes.append(f"{who} interval {number}: zero length; left out")
            continue
        out.append(MeasuredInterval(start, end, size * 8 / seconds, rtts))
        previous_end = end
    # the remainder after the last full interval (a fraction of a millisecond, usually) is not a measurement
    if len(out) > 1:
        typical = statistics.median(i.end_s - i.start_s for i in out[:-1])
        if out[-1].end_s - out[-1].start_s < FRAGMENT_FRACTION * typical:
            out.pop()
    return out, notes


def rtt_over(doc: dict[str, Any], intervals: list[MeasuredInterval]) -> tuple[float | None, float | None, float | None]:
    """Mean, min and max TCP RTT (µs) over the measured intervals' samples; all None when not measured.

    iperf3 reports RTT 0 when the sender took no TCP_INFO sample (esnet/iperf#1920, #803): an end summary whose
    every stream says ``mean_rtt`` 0 (or has none) means nothing was measured, whatever the intervals say.
    """
    streams = items(section(doc, "end", "iperf3 output: end"), "streams", "iperf3 output: end.streams")
    senders = [s.get("sender") for s in streams if isinstance(s, dict)]
    summary = [s.get("mean_rtt") for s in senders if isinstance(s, dict)]
    if not any(isinstance(v, int | float) and v > 0 for v in summary):
        return None, None, None
    samples = [rtt for interval in intervals for rtt in interval.rtt_us]
    if not samples:
        return None, None, None
    return statistics.fmean(samples), min(samples), max(samples)
