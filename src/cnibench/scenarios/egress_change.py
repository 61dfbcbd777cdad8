"""The egress-change scenario (issue 29): egress at the moments of change, measured from the external server's side.

Three event trials, each a probe stream from a pod at a known rate (iperf3 UDP, small datagrams) captured by the
external server with tcpdump (the pcap is the repetition's raw artifact, read with dpkt:
:mod:`cnibench.scenarios._egress_capture`):

* ``egress-apply``: the probe runs without a policy; the egress policy is applied; from the moment the apply
  command returned: the time to the first packet with the egress IP and the packets that left with another source;
* ``egress-new-pod``: a new pod starts under an existing policy; from its first packet the server saw: the time to
  its first packet with the egress IP, and its packets with another source (leaked);
* ``egress-failover``: two gateway-capable nodes, the active one fails; the outage (longest gap in the probe
  stream), the time to the first packet through the new gateway, whether the source stayed the egress IP, and what
  became of an established low-rate TCP flow (survived, stalled, reset).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, model_validator

from cnibench.repetition import Expectation
from cnibench.results.metric import SLOWER, MetricInfo
from cnibench.results.sample import SampleBase
from cnibench.results.stats import median_interval
from cnibench.scenarios import SCENARIOS
from cnibench.scenarios._egress_capture import figures, read_capture
from cnibench.scenarios.base import ParseOptions, Scenario, ToolNeed, Trial
from cnibench.spec.base import FieldError, LaxIPv4Address, LaxIPv4Network
from cnibench.spec.model import ScenarioSettings

if TYPE_CHECKING:
    from cnibench.spec import Spec

NAME = "egress-change"
APPLY, NEW_POD, FAILOVER = "egress-apply", "egress-new-pod", "egress-failover"
TRIALS = (APPLY, NEW_POD, FAILOVER)
#: Each trial's event, as the capture's marker names it.
EVENTS: dict[str, Literal["policy-apply", "new-pod", "gateway-failover"]] = {
    APPLY: "policy-apply",
    NEW_POD: "new-pod",
    FAILOVER: "gateway-failover",
}
CLIENT_POD = "probe-client"
NEW_POD_NAME = "probe-new"
#: The external server's iperf3 ports: the probe stream, the established TCP flow, the new pod's stream.
PROBE_PORT, FLOW_PORT, POD_PORT = 5301, 5302, 5303
#: Seconds a repetition may run past its lead and duration (daemons starting, the capture flushing).
TIMEOUT_MARGIN = 30.0
DEFAULT_EXTERNAL_CIDR = "203.0.113.0/24"  # TEST-NET-3 (RFC 5737)


class EgressChangeSettings(ScenarioSettings):
    """Egress under change: the probe's rate and datagram size, how long it runs before and after the event, the
    established TCP flow's rate, the failover daemon's timers (keepalived VRRP on netns; its defaults are
    keepalived's own), and the addresses (as in the egress scenario)."""

    duration: int = Field(5, gt=0, le=600, description="Seconds the probe runs after the event (s).")
    lead: float = Field(2.0, gt=0, le=60, description="Seconds the probe runs before the event (s).")
    repetitions: int = Field(3, ge=1, le=1000)
    probe_rate: int = Field(1000, ge=10, le=20000, description="Probe datagrams per second (1000: 1 ms resolution).")
    probe_size: int = Field(64, ge=16, le=1400, description="Probe UDP payload bytes (iperf3 -l).")
    flow_bitrate: str = Field("100K", pattern=r"^[0-9]+[KM]?$", description="The established TCP flow's bit/s (-b).")
    vrrp_advert_int: float = Field(
        1.0,
        ge=0.01,
        le=255,
        description="netns: keepalived advert_int (s; keepalived's default 1; below 1 s "
        "needs VRRPv3, which cnibench uses). The backup takes over after 3 adverts plus a skew.",
    )
    vrrp_garp_master_delay: int = Field(
        5,
        ge=0,
        le=255,
        description="netns: keepalived vrrp_garp_master_delay (s; its default 5): the second "
        "burst of gratuitous ARPs after becoming master.",
    )
    flush_conntrack: bool = Field(
        True,
        description="netns: applying the policy also deletes the client pod's conntrack entries (as an agent "
        "must for established flows to take the new path: their masquerade mapping is kept otherwise); false: the "
        "probe's established flow keeps leaking with the node's IP until conntrack forgets it.",
    )
    external_cidr: LaxIPv4Network = Field(
        ipaddress.IPv4Network(DEFAULT_EXTERNAL_CIDR),
        description="Network of the external server, reachable only through the gateway nodes.",
    )
    egress_ip: LaxIPv4Address | None = Field(
        None, description="The egress IP; default on netns: the last host of external_cidr."
    )
    server_ip: LaxIPv4Address | None = Field(
        None, description="Kubernetes: the external server's address (netns places it itself)."
    )
    apply_timeout: int = Field(120, ge=1, le=3600, description="Kubernetes: seconds to wait for the policy.")

    @model_validator(mode="after")
    def _room(self) -> EgressChangeSettings:
        if self.external_cidr.prefixlen > 29:
            raise FieldError(("external_cidr",), "must be /29 or larger (two gateways, server and egress IP)")
        return self

    @property
    def probe_bitrate(self) -> int:
        """The probe's bit/s for iperf3 ``-b``: ``probe_rate`` datagrams of ``probe_size`` payload bytes."""
        return self.probe_rate * self.probe_size * 8


class EgressChangeExpectation(Expectation):
    """What an event's capture is checked against: its event (the marker must name it) and the egress IP (None:
    the marker's own, as ``cnibench parse`` takes it)."""

    event: Literal["policy-apply", "new-pod", "gateway-failover"] | None = None
    egress_ip: str | None = None


class EgressChangeSample(SampleBase):
    """One event, from the external server's capture (times in ms from the event; see the README)."""

    scenario: str = Field(pattern=r"^egress-(apply|new-pod|failover)$")
    event: str | None = None
    egress_ip: str | None = None
    first_correct_ms: float | None = Field(
        None,
        description="From the event (apply returned / the pod's first packet / the failure) to the first "
        "packet with the egress IP (failover: through the new gateway), ms; negative: before the command returned.",
    )
    leaked_packets: int | None = Field(None, description="Packets after the event with another source than the "
                                       "egress IP (new pod: the pod's packets).")  # fmt: skip
    leaked_before_return: int | None = Field(
        None,
        description="Apply / failover: packets with another source while the event's action ran (before the "
        "command returned: not counted as leaked; netns applies a policy in steps).",
    )
    leaked_vs_zero: int | None = Field(None, description="The same count, as the '0 leaked' check.")
    outage_ms: float | None = Field(None, description="The longest gap in the probe stream from the event on, ms.")
    outage_censored: bool | None = Field(
        None,
        description="Failover: the probe never came back within the window, so outage_ms is a lower bound (the "
        "window's end minus its last packet): a gateway with no other node to fail over to.",
    )
    new_gateway_ms: float | None = Field(
        None, description="Failover: from the failure to the first probe packet through another gateway (its MAC), ms."
    )
    source_stayed_egress: bool | None = None
    flow_outcome: Literal["survived", "stalled", "reset"] | None = None
    flow_stall_ms: float | None = Field(
        None, description="The established TCP flow's longest stall from the event, ms."
    )
    probe_pps: float | None = Field(None, description="The probe's datagrams/s the server received before the event.")
    probe_packets: int | None = None
    event_lag_ms: float | None = Field(None, description="How long the event's action took (start to return), ms.")
    event_clock: str = Field(
        "CLOCK_REALTIME of the capturing machine", description="The clock the event's time and the capture share."
    )


def _ms(name: str, label: str, primary: bool = True) -> MetricInfo:
    return MetricInfo(name, label, "ms", 1.0, "lower", 1, primary=primary, absolute=1.0, words=SLOWER)


METRICS: tuple[MetricInfo, ...] = (
    _ms("first_correct_ms", "time to first egress-IP packet"),
    MetricInfo("leaked_packets", "leaked packets", "", 1.0, "lower", 0, primary=True, absolute=1.0),
    _ms("outage_ms", "outage (longest probe gap)"),
    _ms("new_gateway_ms", "time to the new gateway", primary=False),
    _ms("flow_stall_ms", "TCP flow stall", primary=False),
    MetricInfo("leaked_vs_zero", "0 leaked", "", 1.0, "lower", 0, role="check", limit=0.0),
)


class EgressChange(Scenario[EgressChangeSettings, EgressChangeExpectation]):
    name: ClassVar[str] = NAME
    trials: ClassVar[tuple[str, ...]] = TRIALS
    settings_model = EgressChangeSettings
    sample_model = EgressChangeSample
    expectation_model = EgressChangeExpectation
    parse_tool: ClassVar[str | None] = "pcap"
    binary_artifact: ClassVar[bool] = True
    description: ClassVar[str] = "egress at the moments of change: policy apply, new pod, gateway failover (pcap)"
    tools: ClassVar[tuple[ToolNeed, ...]] = (
        ToolNeed("iperf3", "apt-get install -y iperf3", "iperf3 (egress-change probe)"),
        ToolNeed("tcpdump", "apt-get install -y tcpdump", "tcpdump (egress-change capture)"),
        ToolNeed("keepalived", "apt-get install -y keepalived", "keepalived (egress-change failover, netns)"),
    )
    metrics: ClassVar[tuple[MetricInfo, ...]] = METRICS
    gateway_fact: ClassVar[str | None] = "egress_gateway_node"

    def check(self, settings: EgressChangeSettings, spec: Spec) -> None:
        if spec.nodes.workers < 3:
            raise FieldError(
                ("nodes", "workers"), "egress-change needs 3 workers: two gateway-capable nodes and the client's node"
            )

    def trials_for(self, settings: EgressChangeSettings, cni: str) -> list[Trial]:
        wall = settings.lead + settings.duration + 1.0
        text = (f"probe {settings.probe_rate}/s x {settings.probe_size} B (UDP), {settings.lead:g} s before and "
                f"{settings.duration} s after the event")  # fmt: skip
        return [Trial(cni, trial, settings.repetitions, wall, "tcpdump", text) for trial in TRIALS]

    def expected_fields(self, expect: EgressChangeExpectation) -> dict[str, Any]:
        return {"event": expect.event, "egress_ip": expect.egress_ip}

    def sample_from(
        self, text: str, expect: EgressChangeExpectation, fields: dict[str, Any], failure: str | None
    ) -> SampleBase:
        return self.sample_from_bytes(text.encode("latin-1", "replace"), expect, fields, failure)

    def sample_from_bytes(
        self, data: bytes, expect: EgressChangeExpectation, fields: dict[str, Any], failure: str | None
    ) -> SampleBase:
        """The sample from a pcap's bytes. A capture whose event or egress IP is not the expected one, or where no
        packet ever had the egress IP, fails the repetition (keeping its figures); leaks do not (they are the
        measurement). Raises :class:`~cnibench.errors.MeasurementError` for a file that is no readable capture."""
        from cnibench.errors import MeasurementError

        if not data:
            raise MeasurementError(failure or "the capture is empty")
        fig = figures(read_capture(data))
        errors = [failure] if failure else []
        if expect.event is not None and fig.event != expect.event:
            errors.append(f"the capture's event is {fig.event}, expected {expect.event}")
        if expect.egress_ip is not None and fig.egress_ip != expect.egress_ip:
            errors.append(f"the capture's egress IP is {fig.egress_ip}, expected {expect.egress_ip}")
        if fig.first_correct_ms is None and not fig.outage_censored:
            errors.append(f"no probe packet with the egress IP {fig.egress_ip} after the event")
        return EgressChangeSample(
            **{**fields, "event": fig.event, "egress_ip": fig.egress_ip},
            status="failed" if errors else "ok",
            error="; ".join(errors) or None,
            first_correct_ms=fig.first_correct_ms,
            leaked_packets=fig.leaked_packets,
            leaked_vs_zero=fig.leaked_packets,
            leaked_before_return=fig.leaked_before_return,
            outage_ms=fig.outage_ms,
            outage_censored=fig.outage_censored if fig.event == "gateway-failover" else None,
            new_gateway_ms=fig.new_gateway_ms,
            source_stayed_egress=fig.source_stayed_egress,
            flow_outcome=fig.flow_outcome,
            flow_stall_ms=fig.flow_stall_ms,
            probe_pps=fig.probe_pps,
            probe_packets=fig.probe_packets,
            event_lag_ms=fig.event_lag_ms,
            notes=list(fig.notes),
        )

    def recorded_expectation(
        self, sample: SampleBase, settings: dict[str, Any], artifact: Path
    ) -> EgressChangeExpectation:
        assert isinstance(sample, EgressChangeSample)
        return EgressChangeExpectation(event=EVENTS[sample.scenario], egress_ip=sample.egress_ip)

    def parse_trial(self, path: Path) -> str | None:
        """The trial of the capture's event (None: a capture of another scenario's event, or no single marker)."""
        from cnibench.errors import MeasurementError
        from cnibench.scenarios._pcap import read_pcap

        try:
            markers = read_pcap(path.read_bytes()).markers
        except (MeasurementError, OSError):
            return self.trials[0]  # not readable: this scenario's parser says why
        events: dict[str, str] = {event: trial for trial, event in EVENTS.items()}
        return events.get(str(markers[0].get("event"))) if len(markers) == 1 else self.trials[0]

    def parse_expectation(self, path: Path, options: ParseOptions) -> EgressChangeExpectation:
        """The capture's own event and egress IP (``--expected-source-ip``: the egress IP it must name)."""
        return EgressChangeExpectation(egress_ip=options.expected_source_ip)

    # ---- the terminal summary ----------------------------------------------------------------------------------
    def summary_lines(self, samples: Sequence[SampleBase], warnings: list[str]) -> list[str]:
        """Per CNI and event: the median [interval] of the time to the first correct packet, the leaked packets and
        the outage, and the TCP flow's outcomes (failover)."""
        groups: dict[tuple[str, str], list[EgressChangeSample]] = {}
        for s in samples:
            if isinstance(s, EgressChangeSample):
                groups.setdefault((s.cni, s.scenario), []).append(s)
        if not groups:
            return []
        from cnibench.report.text import table

        def cell(group: list[EgressChangeSample], field: str, digits: int = 1) -> str:
            values = [float(v) for s in group if s.status == "ok" and (v := getattr(s, field)) is not None]
            if not values:
                return "-"
            values.sort()
            n = len(values)
            median = values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2
            ci = median_interval(values)
            text = f"{median:.{digits}f}"
            return text + (f" {ci.describe(lambda v: f'{v:.{digits}f}')}" if ci else "")

        body = []
        for (cni, trial), group in sorted(groups.items(), key=lambda kv: (kv[0][0], TRIALS.index(kv[0][1]))):
            ok = [s for s in group if s.status == "ok"]
            outcomes = [s.flow_outcome for s in ok if s.flow_outcome]
            flow = ", ".join(f"{o} {outcomes.count(o)}" for o in dict.fromkeys(outcomes)) or "-"
            body.append((
                f"{cni} {trial}", f"{len(ok)}/{len(group)}", cell(group, "first_correct_ms"),
                cell(group, "leaked_packets", 0), cell(group, "outage_ms"), cell(group, "new_gateway_ms"),
                flow + (f" (stall {cell(group, 'flow_stall_ms')} ms)" if outcomes else ""),
            ))  # fmt: skip
            leaky = sum(1 for s in ok if s.leaked_packets)
            if leaky:
                warnings.append(f"{cni} {trial}: packets left with another source than the egress IP in {leaky} "
                                f"of {len(ok)} repetition(s)")  # fmt: skip
        # CNI and event in one column: a folded table repeats its first column (the terminal's width)
        header = ("cni event", "ok", "first correct ms", "leaked", "outage ms", "new gateway ms", "TCP flow")
        return ["median [interval] per event, from the external server's capture", *table(header, body)]


EGRESS_CHANGE = EgressChange()
SCENARIOS.register(NAME, EGRESS_CHANGE)
