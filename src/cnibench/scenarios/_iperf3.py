"""What the iperf3 scenarios (egress, east-west) share: the metrics statistics, reports and ``compare`` read from
their samples, and the sample fields one parsed iperf3 run gives. A private module: the scenario registry does not
import it as a scenario."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import Field

from cnibench.errors import MeasurementError, SpecError
from cnibench.results.metric import FASTER, SLOWER, MetricInfo
from cnibench.results.sample import SampleBase
from cnibench.scenarios.load import achieved_check
from cnibench.tools import iperf3
from cnibench.tools.base import json_documents, section
from cnibench.tools.iperf3 import Iperf3Result


class Iperf3Fields(SampleBase):
    """The sample fields one parsed iperf3 run gives (:func:`figures`), the same in every sample that carries
    them (egress, east-west, ingested): bit/s, µs, ms, %, % of one core; None where the run has no such figure
    (a UDP run has no RTT, a TCP run no jitter)."""

    throughput_bps: float | None = Field(None, description="The receiver's bit/s over the measured window.")
    sender_bps: float | None = Field(None, description="The sender's bit/s over the measured window.")
    retransmits: int | None = None
    rtt_mean_us: float | None = None
    rtt_min_us: float | None = None
    rtt_max_us: float | None = None
    jitter_ms: float | None = None
    lost_packets: int | None = None
    lost_percent: float | None = None
    intervals_bps: list[float] = Field(
        default_factory=list,
        description="The receiver's bit/s per reporting interval (the server's own intervals), warm-up left out.",
    )
    client_cpu_percent: float | None = Field(
        None, description="iperf3 client process: CPU time over wall time, % of one core (cpu_utilization_percent)."
    )
    server_cpu_percent: float | None = Field(None, description="iperf3 server process, % of one core.")


#: The figures of an iperf3 sample (field, label, unit, which way is better), the same in every iperf3 scenario.
IPERF3_METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("throughput_bps", "throughput", "Gbit/s", 1e9, "higher", primary=True, words=FASTER),
    MetricInfo("rtt_mean_us", "TCP RTT (mean)", "µs", 1.0, "lower", 0, absolute=10.0, words=SLOWER),
    # 100 retransmitted segments: about 0.001 % of the ~8.6 million a 10 s run at 10 Gbit/s sends
    MetricInfo("retransmits", "retransmits", "", 1.0, "lower", 0, absolute=100.0),
    MetricInfo("jitter_ms", "UDP jitter", "ms", 1.0, "lower", 3, absolute=0.05),
    # a UDP loss above 1 % says the offered rate (bitrate) was more than the path carried: an overload, which
    # the loss of the CNIs does not rank
    MetricInfo("lost_percent", "UDP loss", "%", 1.0, "lower", role="check", limit=1.0),
)

#: The figures of a fixed-load iperf3 trial (``load: rate``): RTT under load and the CPU cost per Gbit lead; the
#: throughput is the offered rate there, so it is reported and checked (achieved/offered), not ranked first.
IPERF3_RATE_METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("rtt_mean_us", "TCP RTT under load (mean)", "µs", 1.0, "lower", 0, primary=True, absolute=10.0,
               words=SLOWER),
    # 0.01 CPU s per Gbit: about 1 % of a core at 1 Gbit/s
    MetricInfo("cpu_s_per_gbit", "CPU s per Gbit", "s/Gbit", 1.0, "lower", 3, primary=True, absolute=0.01,
               words=("costlier", "cheaper")),
    replace(IPERF3_METRICS[0], primary=False),
    *IPERF3_METRICS[2:],
    achieved_check("throughput"),
)  # fmt: skip


def figures(result: Iperf3Result) -> dict[str, Any]:
    """The sample fields of one parsed iperf3 run (bit/s, µs, ms, %, % of one core), as every iperf3 sample has
    them, with the parser's notes."""
    return {
        "throughput_bps": result.throughput_bps,
        "sender_bps": result.sender_bps,
        "retransmits": result.retransmits,
        "rtt_mean_us": result.rtt_mean_us,
        "rtt_min_us": result.rtt_min_us,
        "rtt_max_us": result.rtt_max_us,
        "jitter_ms": result.jitter_ms,
        "lost_packets": result.lost_packets,
        "lost_percent": result.lost_percent,
        "intervals_bps": list(result.intervals_bps),
        "client_cpu_percent": result.client_cpu_percent,
        "server_cpu_percent": result.server_cpu_percent,
        "notes": list(result.notes),
    }


def iperf3_protocol(path: Path, asked: str | None) -> str:
    """The protocol (``tcp``/``udp``) of the iperf3 test in ``path`` (``start.test_start.protocol``); ``asked``
    (``cnibench parse --protocol``) must agree with it. Raises :class:`SpecError` (exit 2) for a disagreement and for
    a ``--bidir`` test; a file that cannot be read as iperf3 output is left to the sample maker (a failed sample with
    the reason)."""
    try:
        doc = json_documents(path.read_text(encoding="utf-8", errors="replace"), what="iperf3 output", empty="")[0]
        bidir = iperf3.is_bidirectional(doc)
        test_start = section(section(doc, "start", "start"), "test_start", "start.test_start")
        found = str(test_start.get("protocol", "TCP")).lower()
    except (MeasurementError, IndexError, AttributeError):
        return asked or "tcp"
    if bidir:
        raise SpecError(f"{path}: {iperf3.BIDIR_REFUSED}")
    if asked is not None and asked != found:
        raise SpecError(
            f"{path}: --protocol {asked}, but the file is a {found.upper()} test (start.test_start.protocol); "
            "leave --protocol out"
        )
    return found if found in ("tcp", "udp") else "tcp"
