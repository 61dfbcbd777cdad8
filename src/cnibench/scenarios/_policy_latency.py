"""The network-policy scenario's programming-latency trials (issue 30, item 2): how long a policy change takes to
work on the datapath, from the server's side at about 1 ms resolution, like the egress-change scenario.

Three event trials (:data:`EVENT_TRIALS`), each a repetition of: a probe of UDP datagrams from a client pod to the
server pod, each from the next source port (``hping3 --udp``: a new flow per datagram, so conntrack's acceptance of
established flows never hides the policy), captured by tcpdump on every interface of the server's node (the pcap is
the raw artifact: :mod:`cnibench.scenarios._policy_latency_capture` reads it), then the event:

* ``policy-allow`` (allow after deny): the server pods are under default-deny with the size's non-matching rules and
  without the rule that admits the client; the policy with it is applied. Measured: from the apply command's
  return to the first probe datagram delivered to the server pod (``allow_ms``; negative: before it returned);
* ``policy-deny`` (deny after allow): the policy admits the client; the policy without the admitting rule is applied.
  Measured: from the return to the last probe datagram delivered (``deny_ms``) and how many were delivered after
  the return (``passed_after_deny``);
* ``policy-new-pod``: default-deny plus an allow rule whose selector (the client label) selects a pod that does not
  exist yet; the pod is created, starts its probe at once, and the agent adds its address to the selector's
  members (netns: right after the pod's link is up). Measured: from the pod's first datagram arriving at the server's
  node (on the wire, before the policy) to its first one delivered (``new_pod_ms``), and how many were dropped
  before (``dropped_before_allow``).

**ClusterLoader2's NetworkPolicyEnforcement** (kubernetes/perf-tests PR #2234, #2251;
``network/tools/network-policy-enforcement-latency/README.md``) measures from the client's side, with ``curl
--connect-timeout 1`` requests every second: *policy creation enforcement latency* from the allowing policy's
``creationTimestamp`` (API server, 1 s resolution) to the first successful request, and *pod creation reachability
latency* from the new target pod's IP assignment (seen through the API) to the first successful request to it. Ours
differ: time zero is the apply command's return (the API server's acceptance on Kubernetes) or the new pod's first
packet on the wire, not an object's timestamp; the resolution is the probe's interval (about 1 ms), not 1 s; the
new pod is the *source* selected by an ingress rule's peer selector (CL2's is the target selected by its clients'
egress rule: both wait for a selector to learn a new address); and the deny direction, which CL2 does not measure,
is measured too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from cnibench.repetition import Expectation
from cnibench.results.metric import SLOWER, MetricInfo
from cnibench.results.sample import SampleBase
from cnibench.results.stats import median_interval
from cnibench.scenarios._policy_latency_capture import EVENTS, PolicyEvent, latency_figures
from cnibench.scenarios.base import ToolNeed, Trial
from cnibench.spec.base import Model

if TYPE_CHECKING:
    from cnibench.report.figure import Plot
    from cnibench.results.group import Group

ALLOW, DENY, NEW_POD = EVENTS
#: The event trials, named as their events.
EVENT_TRIALS: tuple[str, ...] = EVENTS
EVENT_TRIAL_PATTERN = "^policy-(allow|deny|new-pod)$"
#: The probe's UDP port on the server pod (below the decoy ports, clear of the size trials' servers).
PROBE_PORT = 5311
#: Seconds a repetition may run past its lead and window (tcpdump starting and flushing, the pod's creation).
TIMEOUT_MARGIN = 30.0
HPING3 = ToolNeed("hping3", "apt-get install -y hping3", "hping3 (network-policy latency probe)")
TCPDUMP = ToolNeed("tcpdump", "apt-get install -y tcpdump", "tcpdump (network-policy latency capture)")


class PolicyLatencySettings(Model):
    """The programming-latency trials' fields of the network-policy section: which events, how the probe runs
    around each, and which policy size the events apply."""

    events: list[Literal["policy-allow", "policy-deny", "policy-new-pod"]] = Field(
        list(EVENTS), description="Programming-latency trials to run ([] for none)."
    )
    event_repetitions: int = Field(3, ge=1, le=1000, description="Repetitions of each event per round.")
    event_lead: float = Field(1.0, gt=0, le=60, description="Seconds the probe runs before the event (s).")
    event_window: float = Field(2.0, gt=0, le=600, description="Seconds the probe runs after the event (s).")
    probe_interval_us: int = Field(
        700,
        ge=100,
        le=100000,
        description="hping3 -i u<N>: µs it waits after each datagram; a send costs about 0.3 ms more here, so 700 "
        "gives about 1,000 datagrams/s (the rate and resolution had are recorded per repetition).",
    )
    event_size: Literal["zero", "largest"] = Field(
        "zero", description="The policy the events apply: zero (no non-matching rule) or the largest of sizes."
    )

    def event_policy_size(self, sizes: Sequence[int]) -> int:
        """The non-matching rules of the events' policy."""
        return max(sizes, default=0) if self.event_size == "largest" else 0


class PolicyLatencyExpectation(Expectation):
    """What an event's capture is checked against: its event (the marker must name it; None: the capture's own)."""

    event: PolicyEvent | None = None
    policy_size: int | None = None
    representation: str | None = None


class PolicyLatencySample(SampleBase):
    """One policy event from the server node's capture (times in ms from the event; see the module)."""

    scenario: str = Field(pattern=EVENT_TRIAL_PATTERN)
    event: str | None = None
    policy_size: int | None = Field(None, description="Non-matching rules of the applied policy.")
    representation: str | None = Field(None, description="netns: chain or set.")
    allow_ms: float | None = Field(None, description="Allow: apply returned -> first probe datagram delivered, ms.")
    deny_ms: float | None = Field(None, description="Deny: apply returned -> last probe datagram delivered, ms.")
    passed_after_deny: int | None = Field(None, description="Deny: datagrams delivered after the apply returned.")
    new_pod_ms: float | None = Field(
        None, description="New pod: its first datagram at the server's node -> its first one delivered, ms."
    )
    dropped_before_allow: int | None = Field(None, description="New pod: its datagrams dropped before the first "
                                             "delivered one.")  # fmt: skip
    delivered_before: int | None = Field(None, description="Datagrams delivered before the event's start.")
    probe_arrived: int | None = Field(None, description="Datagrams at the server's node from the event's start.")
    probe_delivered: int | None = Field(None, description="Datagrams delivered to the server pod from the start.")
    probe_pps: float | None = Field(None, description="The probe's datagrams/s as they arrived.")
    probe_gap_p99_ms: float | None = Field(None, description="99th percentile gap between arriving datagrams, ms: "
                                           "the resolution the repetition had.")  # fmt: skip
    event_lag_ms: float | None = Field(None, description="How long the apply (new pod: creation) took, ms.")
    event_clock: str = Field(
        "CLOCK_REALTIME of the capturing machine", description="The clock the event's time and the capture share."
    )


def _ms(name: str, label: str, primary: bool = True) -> MetricInfo:
    return MetricInfo(name, label, "ms", 1.0, "lower", 1, primary=primary, absolute=1.0, words=SLOWER)


def _count(name: str, label: str) -> MetricInfo:
    return MetricInfo(name, label, "", 1.0, "lower", 0, absolute=1.0)


LATENCY_METRICS: tuple[MetricInfo, ...] = (
    _ms("allow_ms", "time to allow"),
    _ms("deny_ms", "time to deny"),
    _count("passed_after_deny", "datagrams passed after the deny"),
    _ms("new_pod_ms", "new pod's wait"),
    _count("dropped_before_allow", "new pod's datagrams dropped"),
)
_BY_TRIAL: dict[str, tuple[str, ...]] = {ALLOW: ("allow_ms",), DENY: ("deny_ms", "passed_after_deny"),
             NEW_POD: ("new_pod_ms", "dropped_before_allow")}  # fmt: skip


def metrics_for(trial: str) -> tuple[MetricInfo, ...]:
    """An event trial's metrics (its primary latency first). Raises KeyError for another trial."""
    names = _BY_TRIAL[trial]
    return tuple(m for name in names for m in LATENCY_METRICS if m.name == name)


def event_trials(settings: PolicyLatencySettings, cni: str, sizes: Sequence[int]) -> list[Trial]:
    """The event trials of one CNI in one round, in :data:`EVENT_TRIALS`' order."""
    size = settings.event_policy_size(sizes)
    text = (f"hping3 UDP every {settings.probe_interval_us} µs (a new source port each), {settings.event_lead:g} s "
            f"before and {settings.event_window:g} s after the event, policy of {size} non-matching rules")  # fmt: skip
    wall = settings.event_lead + settings.event_window + 1.0
    return [Trial(cni, t, settings.event_repetitions, wall, "tcpdump", text) for t in EVENT_TRIALS
            if t in settings.events]  # fmt: skip


def latency_sample(
    data: bytes, expect: PolicyLatencyExpectation, fields: dict[str, Any], failure: str | None
) -> PolicyLatencySample:
    """The sample from an event's pcap bytes: its figures, failed (figures kept) when the capture names another
    event, size or representation than expected, or the datapath did not do what the event needs (a deny that held
    before the allow, an allow that held before the deny, a deny still passing at the window's end, nothing ever
    delivered). Raises :class:`~cnibench.errors.MeasurementError` for bytes that are no policy event's capture."""
    from cnibench.errors import MeasurementError

    if not data:
        raise MeasurementError(failure or "the capture is empty")
    fig = latency_figures(data)
    errors = [failure] if failure else []
    for name, want, got in (("event", expect.event, fig.event), ("policy size", expect.policy_size, fig.size),
                            ("representation", expect.representation, fig.representation)):  # fmt: skip
        if want is not None and got != want:
            errors.append(f"the capture's {name} is {got}, expected {want}")
    errors += fig.errors
    return PolicyLatencySample(
        **{**fields, "event": fig.event, "policy_size": fig.size, "representation": fig.representation},
        status="failed" if errors else "ok", error="; ".join(errors) or None,
        allow_ms=fig.allow_ms, deny_ms=fig.deny_ms, passed_after_deny=fig.passed_after_deny,
        new_pod_ms=fig.new_pod_ms, dropped_before_allow=fig.dropped_before_allow,
        delivered_before=fig.delivered_before, probe_arrived=fig.arrived, probe_delivered=fig.delivered,
        probe_pps=fig.probe_pps, probe_gap_p99_ms=fig.probe_gap_p99_ms, event_lag_ms=fig.event_lag_ms,
    )  # fmt: skip


def expected_fields(expect: PolicyLatencyExpectation) -> dict[str, Any]:
    return {"event": expect.event, "policy_size": expect.policy_size, "representation": expect.representation}


def recorded_expectation(sample: SampleBase) -> PolicyLatencyExpectation:
    assert isinstance(sample, PolicyLatencySample)
    event = sample.scenario if sample.scenario in EVENT_TRIALS else None
    return PolicyLatencyExpectation.model_validate(
        {"event": event, "policy_size": sample.policy_size, "representation": sample.representation}
    )


def summary_lines(samples: Sequence[SampleBase], warnings: list[str]) -> list[str]:
    """Per CNI and event: the median [order-statistic interval] of its latency and its count (datagrams passed
    after a deny, dropped before a new pod's allow), and the probe's rate and resolution."""
    groups: dict[tuple[str, str], list[PolicyLatencySample]] = {}
    for s in samples:
        if isinstance(s, PolicyLatencySample):
            groups.setdefault((s.cni, s.scenario), []).append(s)
    if not groups:
        return []
    from cnibench.report.text import table

    def cell(group: list[PolicyLatencySample], name: str, digits: int = 1) -> str:
        values = sorted(float(v) for s in group if s.status == "ok" and (v := getattr(s, name)) is not None)
        if not values:
            return "-"
        n = len(values)
        median = values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2
        ci = median_interval(values)
        return f"{median:.{digits}f}" + (f" {ci.describe(lambda v: f'{v:.{digits}f}')}" if ci else "")

    body = []
    for (cni, trial), group in sorted(groups.items(), key=lambda kv: (kv[0][0], EVENT_TRIALS.index(kv[0][1]))):
        ok = [s for s in group if s.status == "ok"]
        latency, count = metrics_for(trial)[0].name, (metrics_for(trial)[1:] or (None,))[0]
        body.append((f"{cni} {trial}", f"{len(ok)}/{len(group)}", cell(group, latency),
                     cell(group, count.name, 0) if count else "-", cell(group, "probe_pps", 0),
                     cell(group, "probe_gap_p99_ms", 2)))  # fmt: skip
        if len(ok) < len(group):
            warnings.append(f"{cni} {trial}: {len(group) - len(ok)} of {len(group)} repetition(s) failed")
    header = ("cni event", "ok", "latency ms", "datagrams", "probe /s", "p99 gap ms")
    note = ("programming latency, median [interval], from the server node's capture: allow = apply -> first "
            "delivered; deny = apply -> last delivered (datagrams: passed after it); new pod = first sent -> first "
            "delivered (datagrams: dropped before)")  # fmt: skip
    return [note, *table(header, body)]


def latency_plots(groups: Sequence[Group]) -> list[Plot]:
    """Per event its latency per CNI (clusters as points, the geometric mean's interval across them)."""
    from cnibench.report import plots

    drawn = [
        plots.per_series(groups, "allow_ms", (ALLOW,), "NetworkPolicy: time to allow (apply -> first delivered)"),
        plots.per_series(groups, "deny_ms", (DENY,), "NetworkPolicy: time to deny (apply -> last delivered)"),
        plots.per_series(groups, "new_pod_ms", (NEW_POD,), "NetworkPolicy: a new pod's wait (sent -> delivered)"),
    ]
    return [plot for plot in drawn if plot is not None]
