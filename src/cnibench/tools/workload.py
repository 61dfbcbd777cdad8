"""The workload axis (``stream``, ``rr``, ``crr``): its spec fields, their checks, and the Little's-law check of a
request/response repetition. Pure; scenarios import it to declare and judge their workloads.

* ``stream``: bulk transfer (iperf3), today's east-west and egress measurement.
* ``rr``: request/response with one transaction outstanding, ``message_size`` bytes each way, TCP or UDP
  (sockperf ping-pong: :mod:`cnibench.tools.sockperf`); netperf's TCP_RR and UDP_RR.
* ``crr``: TCP connect, one request and response, close, one at a time (ab against nginx: :mod:`cnibench.tools.ab`);
  netperf's TCP_CRR. TCP only: there is no connection to open over UDP.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, model_validator

from cnibench.spec.base import FieldError, Model
from cnibench.tools import sockperf

Workload = Literal["stream", "rr", "crr"]
WORKLOADS: tuple[Workload, ...] = ("stream", "rr", "crr")
#: Workloads that open one connection per transaction: TCP only.
CONNECTION_WORKLOADS: frozenset[str] = frozenset({"crr"})
#: netperf's default request and response are 1 byte; sockperf's smallest message is 14 (its header), and 64 is
#: what the peers that run sockperf use (Azure telescope, Microsoft's VM latency guide use 64 and 350).
DEFAULT_MESSAGE_SIZE = 64
#: Beyond this |transactions/s x mean latency / outstanding - 1| a repetition is flagged (issue 28: "say beyond 10 %").
LITTLE_TOLERANCE = 0.10


class WorkloadSettings(Model):
    """The workload fields a scenario's settings add (``workloads``, ``message_size``). A scenario that also has
    ``protocols`` gets ``crr`` with ``udp`` refused, naming ``workloads``."""

    workloads: list[Workload] = Field(
        ["stream"],
        description="stream (iperf3 bulk), rr (request/response, one outstanding: sockperf ping-pong, TCP and UDP) "
        "and/or crr (TCP connect, one request/response, close: ab against nginx).",
    )
    message_size: int = Field(
        DEFAULT_MESSAGE_SIZE,
        ge=sockperf.MIN_MESSAGE_SIZE,
        le=sockperf.MAX_MESSAGE_SIZE,
        description=f"rr: bytes of each request and response (sockperf -m, {sockperf.MIN_MESSAGE_SIZE} to "
        f"{sockperf.MAX_MESSAGE_SIZE}: sockperf's 14-byte header travels in every message).",
    )

    @model_validator(mode="after")
    def _workloads(self) -> WorkloadSettings:
        check_workloads(self.workloads, getattr(self, "protocols", None))
        return self


def check_workloads(workloads: Sequence[str], protocols: Sequence[str] | None) -> None:
    """Raise :class:`FieldError` naming ``workloads`` when it is empty, repeats a workload, or asks for ``crr``
    while ``protocols`` holds ``udp`` (a connect-request-close transaction is TCP only)."""
    if not workloads:
        raise FieldError(("workloads",), "at least one workload is needed: stream, rr or crr")
    if len(set(workloads)) != len(workloads):
        raise FieldError(("workloads",), "each workload may appear only once")
    if protocols and "udp" in protocols:
        for workload in workloads:
            if workload in CONNECTION_WORKLOADS:
                raise FieldError(
                    ("workloads",),
                    f"{workload} opens a TCP connection per transaction and has no UDP form: remove udp from "
                    f"protocols or {workload} from workloads",
                )


@dataclass(frozen=True)
class LittleCheck:
    """Little's law for a closed loop with ``outstanding`` transactions: transactions/s x mean latency (s) =
    outstanding when the client has no think time between transactions (Little 1961, L = lambda W)."""

    transactions_per_s: float
    mean_latency_us: float
    outstanding: int
    product: float  # transactions/s x mean latency (s) / outstanding: 1 when the law holds
    deviation: float  # product - 1 (fraction; -0.85 = 85 % of the time not in a transaction)
    tolerance: float

    @property
    def ok(self) -> bool:
        return abs(self.deviation) <= self.tolerance

    def note(self) -> str:
        """One line for a flagged repetition's summary."""
        return (
            f"Little's law: {self.transactions_per_s:,.0f} transactions/s x {self.mean_latency_us:.1f} µs mean = "
            f"{self.product:.3f} per outstanding transaction, {self.deviation:+.1%} from 1 "
            f"(limit +-{self.tolerance:.0%})"
        )


def littles_law(
    transactions_per_s: float, mean_latency_us: float, *, outstanding: int = 1, tolerance: float = LITTLE_TOLERANCE
) -> LittleCheck:
    """Check a request/response repetition: with ``outstanding`` transactions always in flight, the transaction
    rate (1/s) times the mean latency (µs) is ``outstanding``. Below 1: the client spent time outside the timed
    transaction (pacing, its own overhead, gaps between connections); above 1: more were in flight than assumed
    or the two figures come from different windows. Raises ``ValueError`` for a rate or latency that is not
    positive or ``outstanding`` below 1."""
    if transactions_per_s <= 0 or mean_latency_us <= 0:
        raise ValueError(f"rate {transactions_per_s}/s and mean latency {mean_latency_us} µs must be positive")
    if outstanding < 1:
        raise ValueError(f"outstanding {outstanding}: at least one transaction is in flight")
    product = transactions_per_s * mean_latency_us * 1e-6 / outstanding
    return LittleCheck(
        transactions_per_s=transactions_per_s,
        mean_latency_us=mean_latency_us,
        outstanding=outstanding,
        product=product,
        deviation=product - 1.0,
        tolerance=tolerance,
    )


def watches_conntrack(spec_scenarios: object) -> bool:
    """Whether any scenario section of a spec (``spec.scenarios``: ``enabled()`` names, ``get(name)`` settings)
    runs a request/response workload, whose repetitions report every node's conntrack table: node_exporter's
    conntrack collector is then turned on (off otherwise, so that every other run renders as before)."""
    enabled = getattr(spec_scenarios, "enabled", None)
    get = getattr(spec_scenarios, "get", None)
    if not callable(enabled) or not callable(get):
        return False
    return any(set(getattr(get(name), "workloads", None) or ()) - {"stream"} for name in enabled())
