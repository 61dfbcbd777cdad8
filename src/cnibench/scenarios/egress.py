"""The egress scenario (the thesis's): a client pod sends iperf3 traffic to a server outside the cluster.

``egress`` runs it under an egress gateway policy (the server must see the egress IP); ``egress-baseline`` runs the
same path without the policy (the client's own node masquerades; the server must see that node's IP), so the
gateway's cost shows as a ratio. Verified from the server's side: who the external server saw.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from cnibench.repetition import Expectation, MeasureCommand, Repetition
from cnibench.report.text import cv_text, median_text, number_text, summarize_field, table
from cnibench.results.metric import MetricInfo
from cnibench.results.sample import SampleBase
from cnibench.results.stats import Summary
from cnibench.scenarios import SCENARIOS
from cnibench.scenarios._iperf3 import IPERF3_METRICS, IPERF3_RATE_METRICS, Iperf3Fields, figures, iperf3_protocol
from cnibench.scenarios.base import ParseOptions, Scenario, ToolNeed, Trial, base_trial
from cnibench.scenarios.load import (
    BITS_PER_SECOND,
    OFFERED,
    LoadSample,
    LoadSettings,
    RateUnit,
    cost_lines,
    judge_sustained,
    loads,
    unsustained_lines,
    with_cpu_cost,
)
from cnibench.spec.base import FieldError, LaxIPv4Address, LaxIPv4Network, whole_number_text
from cnibench.tools import iperf3

if TYPE_CHECKING:
    from cnibench.doctor import Check
    from cnibench.report.figure import Plot
    from cnibench.results.group import Group
    from cnibench.spec.model import Spec

NAME = "egress"
BASELINE = "egress-baseline"
#: Baseline first, then the policy: the policy is applied for its trial only and removed after it.
TRIALS = (BASELINE, NAME)
CLIENT_POD = "iperf3-client"
SERVER_NAME = "iperf3-server"
#: Seconds a repetition may run past iperf3's own duration before it is killed.
TIMEOUT_MARGIN = 20.0
DEFAULT_EXTERNAL_CIDR = "203.0.113.0/24"  # TEST-NET-3 (RFC 5737): never a real network
_BITRATE = re.compile(r"^[0-9]+(\.[0-9]+)?[KMG]?$")


def external_reserved_hosts(cidr: ipaddress.IPv4Network) -> tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]:
    """The gateway node's and the external server's addresses on the external network: its first two hosts."""
    return cidr.network_address + 1, cidr.network_address + 2


class EgressSettings(LoadSettings):
    """The thesis's egress scenario: iperf3 from a pod, out through the egress gateway node, SNAT to the egress IP.
    With ``load: rate``, iperf3 offers each of ``rates`` (bit/s, TCP or UDP: ``--bitrate``, split evenly over the
    ``parallel`` streams, since iperf3 applies it per stream)."""

    rate_unit: ClassVar[RateUnit] = BITS_PER_SECOND

    protocol: Literal["tcp", "udp"] = "tcp"
    parallel: int = Field(1, ge=1, le=64, description="Parallel iperf3 streams (-P).")
    duration: int = Field(10, gt=0, le=3600, description="Measured seconds per repetition (-t).")
    omit: int = Field(2, ge=0, le=600, description="Warm-up seconds left out of the result (-O).")
    bitrate: str = Field(
        "1G", description="UDP target bitrate (-b), e.g. 500M or 1G; 0 = unlimited. UDP with load: saturate only."
    )
    external_cidr: LaxIPv4Network = Field(
        ipaddress.IPv4Network(DEFAULT_EXTERNAL_CIDR),
        description="Network of the external iperf3 server, reachable only through the gateway node.",
    )
    egress_ip: LaxIPv4Address | None = Field(
        None,
        description="IP the gateway SNATs the selected pods' traffic to; default on netns: the last host of "
        "external_cidr; on kind: a free address at the top of kind's network; required on kubeconfig.",
    )
    server_ip: LaxIPv4Address | None = Field(
        None,
        description="Address of the external iperf3 server. netns places it itself; on kind it is a container on "
        "kind's network (default: a free address at its top); on kubeconfig an address of this machine the "
        "nodes can reach, where cnibench starts `iperf3 -s` (required).",
    )
    apply_timeout: int = Field(
        120, ge=1, le=3600, description="Kubernetes: seconds to wait until the egress policy is realised."
    )
    baseline_source_ip: LaxIPv4Address | None = Field(
        None,
        description="kubeconfig: the address the external server sees for the baseline (without the policy); default: "
        "the client node's InternalIP. Set it when a NAT or a firewall lies between the nodes and the server, or when "
        "the node's default route leaves through an interface that does not carry its InternalIP.",
    )
    egress_source_ip: LaxIPv4Address | None = Field(
        None,
        description="kubeconfig: the address the external server sees with the egress policy; default: egress_ip, "
        "else the gateway node's InternalIP (Cilium without egressIP uses the first IPv4 address of the gateway "
        "node's default-route interface, which may be another one). Set it behind a NAT, or for such a node.",
    )

    @field_validator("bitrate", mode="before")
    @classmethod
    def _bitrate_number(cls, value: Any) -> Any:
        """``bitrate: 0`` (unlimited) or ``bitrate: 1000000`` as YAML integers: the same as quoted."""
        return whole_number_text(value)

    @field_validator("bitrate")
    @classmethod
    def _bitrate(cls, value: str) -> str:
        if not _BITRATE.match(value):
            raise ValueError("must be a number with an optional K, M or G suffix, e.g. 500M")
        return value

    @field_validator("external_cidr")
    @classmethod
    def _external_room(cls, value: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
        if value.prefixlen > 29:
            raise ValueError("must be /29 or larger (gateway, server and egress IP need room)")
        return value

    @model_validator(mode="after")
    def _bitrate_or_rates(self) -> EgressSettings:
        # a recorded spec has every field: only a bitrate other than the default was chosen for a rate run
        if self.load == "rate" and self.bitrate != type(self).model_fields["bitrate"].default:
            raise FieldError(("bitrate",), "not used with load: rate (rates set the offered bitrate)")
        return self

    @model_validator(mode="after")
    def _check_egress_ip(self) -> EgressSettings:
        ip = self.egress_ip
        if ip is None:
            return self  # the platform's default is filled in when the spec is resolved
        if ip.is_multicast or ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_reserved:
            raise FieldError(("egress_ip",), f"{ip} is not a unicast address")
        if ip in self.external_cidr and ip in (
            self.external_cidr.network_address,
            self.external_cidr.broadcast_address,
            *external_reserved_hosts(self.external_cidr),
        ):
            raise FieldError(
                ("egress_ip",), f"{ip} is the network, broadcast, gateway or server address of external_cidr"
            )
        return self


class EgressSample(LoadSample, Iperf3Fields):
    """One iperf3 run from the client pod to the external server (with or without the egress policy); at a fixed
    load, ``offered_rate`` is the offered bit/s and ``achieved_fraction`` the receiver's throughput over it."""

    scenario: str = Field(pattern=r"^egress(-baseline)?(@[0-9.]+[KMGT]?)?$")
    protocol: Literal["tcp", "udp"]
    source_ip_seen: str | None = None
    expected_source_ip: str | None = Field(
        None, description="The egress IP with the policy; the client's node IP (masquerade) without it."
    )
    source_ip_ok: bool | None = None
    egress_ip: str | None = None
    egress_ip_ok: bool | None = Field(None, description="The server saw the egress IP (egress scenario only).")
    egress_apply_s: float | None = Field(
        None,
        description="Kubernetes: seconds from applying the egress policy until the server saw the egress IP "
        "(the same for every repetition of a trial: the policy is applied once per trial).",
    )
    cpu_s_per_gbit: float | None = Field(
        None, description="Fixed load: CPU seconds per Gbit received, net of the idle baseline (every busy mode)."
    )


@dataclass(frozen=True)
class Row:
    """One CNI x egress trial of the summary."""

    cni: str
    scenario: str
    ok: int
    total: int
    offered: float | None
    throughput: Summary | None
    rtt: Summary | None
    retransmits: Summary | None
    jitter: Summary | None
    loss: Summary | None
    verified: int
    verify_what: str


class EgressExpectation(Expectation):
    """What an egress repetition is checked against: the source address the external server must see
    (:func:`expected_source`), the egress IP with the policy, the offered bit/s at a fixed load; on Kubernetes
    also what the cluster found at run time (the client's and the gateway's node, the seconds until the policy was
    realised). ``check_source`` False: nothing to check the source against (``cnibench parse`` without
    ``--expected-source-ip``)."""

    protocol: Literal["tcp", "udp"] = "tcp"
    expected_source_ip: str | None = None
    egress_ip: str | None = None
    offered_rate: float | None = None
    egress_apply_s: float | None = None
    client_node: str | None = None
    gateway_node: str | None = None
    check_source: bool = True


def expected_source(
    with_policy: bool, *, client_node_ip: str | None, gateway_node_ip: str | None, egress_ip: str | None
) -> str | None:
    """The source address the external server must see, on every platform: without the policy the client's node
    (its node masquerades pod traffic leaving the cluster), with it the egress IP, or, when the policy has none,
    the gateway node's own address (Cilium without ``egressIP`` uses the gateway's default-route interface
    address: docs.cilium.io, "Egress Gateway"). None when that address is not known yet (found at run time)."""
    if not with_policy:
        return client_node_ip
    return egress_ip if egress_ip is not None else gateway_node_ip


class Egress(Scenario[EgressSettings, EgressExpectation]):
    name: ClassVar[str] = NAME
    trials: ClassVar[tuple[str, ...]] = TRIALS
    settings_model = EgressSettings
    sample_model = EgressSample
    expectation_model = EgressExpectation
    parse_tool: ClassVar[str | None] = "iperf3"
    description: ClassVar[str] = "iperf3 from a pod out through the egress gateway node (SNAT to the egress IP)"
    tools: ClassVar[tuple[ToolNeed, ...]] = (ToolNeed("iperf3", "apt-get install -y iperf3", "iperf3 (egress)"),)
    metrics: ClassVar[tuple[MetricInfo, ...]] = IPERF3_METRICS
    rate_metrics: ClassVar[tuple[MetricInfo, ...] | None] = IPERF3_RATE_METRICS
    baselines: ClassVar[Mapping[str, str]] = {NAME: BASELINE}
    gateway_fact: ClassVar[str | None] = "egress_gateway_node"
    gateway_carries_measurement: ClassVar[bool] = True
    #: The baseline and the policy alternate repetition by repetition (the policy applied before and removed after
    #: each of its repetitions): repetition k of both ran back to back, and their ratio pairs them.
    paired: ClassVar[bool] = True

    def check(self, settings: EgressSettings, spec: Spec) -> None:
        if spec.nodes.workers < 2:
            raise FieldError(
                ("nodes", "workers"), "the egress scenario needs 2 workers: the gateway node and the client's node"
            )

    def local_checks(self, settings: EgressSettings | None) -> list[Check]:
        """iperf3 and its version: a UDP run needs a UDP receiver summary (3.11+), every run the server's output."""
        from cnibench.doctor import check_iperf3

        return [check_iperf3(udp=settings is not None and settings.protocol == "udp", what=self.tools[0].label)]

    def trials_for(self, settings: EgressSettings, cni: str) -> list[Trial]:
        wall = iperf3.expected_wall_time(settings.duration, settings.omit)
        text = f"{settings.protocol}, {settings.parallel} stream(s), {settings.duration} s + {settings.omit} s warm-up"
        if settings.load == "saturate":
            if settings.protocol == "udp":
                text += f", {settings.bitrate}bit/s"
            return [Trial(cni, trial, settings.repetitions, wall, "iperf3", text) for trial in TRIALS]
        idle = float(settings.duration)  # the idle baseline's window, as long as the measured one
        return [
            Trial(cni, load.trial(trial), settings.repetitions, idle + wall, "iperf3",
                  f"{text}{OFFERED}{load.suffix[1:]}bit/s, {idle:g} s idle baseline first")
            for load in loads(settings)
            for trial in TRIALS
        ]  # fmt: skip

    def repetitions(
        self,
        settings: EgressSettings,
        *,
        cni: str,
        numbers: Mapping[str, range],
        run_dir: Path,
        server_ip: str,
        client_node_ip: str,
        netns: str = "",
    ) -> list[Repetition]:
        """The repetitions of the egress trials (``{trial: repetition numbers}``) of one CNI, trial by trial (a
        platform runs them in :meth:`sequence`'s order): iperf3 from the
        client pod (in ``netns``; a platform may wrap the command) to ``server_ip``. The baseline expects the client's
        node (``client_node_ip``), the policy the egress IP (or, without one, the gateway node's own address, which the
        platform passes at run time)."""
        wall = iperf3.expected_wall_time(settings.duration, settings.omit)
        egress_ip = str(settings.egress_ip) if settings.egress_ip else None
        out: list[Repetition] = []
        for load in loads(settings):
            argv = iperf3.client_argv(
                server_ip,
                protocol=settings.protocol,
                duration=settings.duration,
                omit=settings.omit,
                parallel=settings.parallel,
                bitrate=settings.bitrate,
                offered_bps=load.offered,
            )
            # a fixed load first idles as long as it measures: the idle baseline of its CPU cost
            idle = float(settings.duration) if load.offered is not None else 0.0
            for trial in (load.trial(t) for t in TRIALS if load.trial(t) in numbers):
                with_policy = base_trial(trial) == NAME
                expect = EgressExpectation(
                    protocol=settings.protocol,
                    expected_source_ip=expected_source(
                        with_policy, client_node_ip=client_node_ip, gateway_node_ip=None, egress_ip=egress_ip
                    ),
                    egress_ip=egress_ip if with_policy else None,
                    offered_rate=load.offered,
                )
                for number in numbers[trial]:
                    artifact = self.artifact_dir(run_dir, cni, trial) / f"rep-{number:02d}.iperf3.json"
                    command = MeasureCommand(
                        argv=tuple(argv), stdout=artifact, timeout_s=idle + wall + TIMEOUT_MARGIN, netns=netns,
                        idle_s=idle,
                    )  # fmt: skip  # iperf3 -J writes its JSON to stdout: the command's stdout is the artifact
                    warmup = idle + float(settings.omit)
                    out.append(Repetition(cni, trial, number, artifact, command, idle + wall, warmup, expect))
        return out

    def expected_fields(self, expect: EgressExpectation) -> dict[str, Any]:
        return {
            "protocol": expect.protocol,
            "expected_source_ip": expect.expected_source_ip,
            "egress_ip": expect.egress_ip,
            "egress_apply_s": expect.egress_apply_s,
            **judge_sustained(expect.offered_rate, None),
        }

    def sample_from(
        self, text: str, expect: EgressExpectation, fields: dict[str, Any], failure: str | None
    ) -> EgressSample:
        """Parse a repetition's raw iperf3 JSON; a wrong source IP fails the repetition but keeps its figures (they
        show what the path did)."""
        result = iperf3.parse_client_json(text)
        seen = result.source_ip_seen
        source_ok = seen is not None and seen == expect.expected_source_ip
        check_source = expect.check_source
        errors: list[str] = [failure] if failure else []
        if check_source and seen is None:
            errors.append("the server's view of the client address is missing (no --get-server-output?)")
        elif check_source and not source_ok:
            what = "egress IP" if expect.egress_ip else "client node IP (masquerade)"
            errors.append(f"server saw {seen}, expected the {what} {expect.expected_source_ip}")
        return EgressSample(
            **{**fields, **judge_sustained(expect.offered_rate, result.throughput_bps)},
            status="failed" if errors else "ok",
            error="; ".join(errors) or None,
            **figures(result),
            source_ip_seen=seen,
            source_ip_ok=source_ok if seen is not None and check_source else None,
            egress_ip_ok=(seen == expect.egress_ip) if expect.egress_ip else None,
        )

    def recorded_expectation(self, sample: SampleBase, settings: dict[str, Any], artifact: Path) -> EgressExpectation:
        assert isinstance(sample, EgressSample)
        return EgressExpectation(
            protocol=sample.protocol,
            expected_source_ip=sample.expected_source_ip,
            egress_ip=sample.egress_ip,
            egress_apply_s=sample.egress_apply_s,
            offered_rate=sample.offered_rate,
        )

    def parse_expectation(self, path: Path, options: ParseOptions) -> EgressExpectation:
        """The file's own protocol (``--protocol`` must agree), the source IP given (else no source check)."""
        return EgressExpectation(
            protocol=iperf3_protocol(path, options.protocol),
            expected_source_ip=options.expected_source_ip,
            check_source=options.expected_source_ip is not None,
        )

    def with_cost(self, sample: SampleBase, metrics_dir: Path) -> SampleBase:
        """CPU seconds per Gbit the server received (its throughput, Gbit/s), net of the idle baseline."""
        if not isinstance(sample, EgressSample) or sample.throughput_bps is None:
            return sample
        return with_cpu_cost(sample, metrics_dir, sample.throughput_bps / 1e9, "cpu_s_per_gbit")

    # ---- the terminal summary ----------------------------------------------------------------------------------
    def rows(self, samples: Sequence[SampleBase]) -> list[Row]:
        groups: dict[tuple[str, str], list[EgressSample]] = {}
        for sample in samples:
            if isinstance(sample, EgressSample):
                groups.setdefault((sample.cni, sample.scenario), []).append(sample)
        return [
            Row(
                cni=cni,
                scenario=trial,
                ok=sum(1 for s in group if s.status == "ok"),
                total=len(group),
                offered=group[0].offered_rate,
                throughput=summarize_field(group, "throughput_bps"),
                rtt=summarize_field(group, "rtt_mean_us"),
                retransmits=summarize_field(group, "retransmits"),
                jitter=summarize_field(group, "jitter_ms"),
                loss=summarize_field(group, "lost_percent"),
                verified=sum(1 for s in group if s.source_ip_ok),
                verify_what="egress IP" if base_trial(trial) == NAME else "node IP",
            )
            for (cni, trial), group in groups.items()
        ]

    def summary_lines(self, samples: Sequence[SampleBase], warnings: list[str]) -> list[str]:
        rows = self.rows(samples)
        if not rows:
            return []
        udp = any(r.jitter is not None for r in rows)
        tcp = any(r.rtt is not None for r in rows) or not udp
        fixed = any(r.offered is not None for r in rows)
        header: tuple[str, ...] = ("cni", "scenario", "ok")
        header += ("offered Gbit/s",) if fixed else ()
        header += ("Gbit/s (median)", "cv")
        header += ("RTT us (median)", "retransmits") if tcp else ()
        header += ("jitter ms", "loss %") if udp else ()
        body = []
        for r in rows:
            cells: tuple[str, ...] = (r.cni, r.scenario, f"{r.ok}/{r.total}")
            cells += (number_text(r.offered, 1e9, 3),) if fixed else ()
            cells += (median_text(r.throughput, 1e9), cv_text(r.throughput))
            cells += (median_text(r.rtt, 1, 0), median_text(r.retransmits, 1, 0)) if tcp else ()
            cells += (median_text(r.jitter, 1, 3), median_text(r.loss, 1, 2)) if udp else ()
            body.append((*cells, f"{r.verified}/{r.total} {r.verify_what}"))
        lines = table((*header, "source IP"), body)
        warnings += unsustained_lines(samples, EgressSample, BITS_PER_SECOND)
        lines += cost_lines(samples, "cpu_s_per_gbit", "CPU s per Gbit")
        applied: dict[str, float] = {}
        for sample in samples:
            if isinstance(sample, EgressSample) and sample.egress_apply_s is not None:
                applied.setdefault(sample.cni, sample.egress_apply_s)
        if applied:
            lines.append(
                "egress policy realised (server saw the egress IP) after: "
                + ", ".join(f"{cni} {seconds:.1f} s" for cni, seconds in applied.items())
            )
        return lines

    def report_plots(self, groups: Sequence[Group]) -> list[Plot]:
        """Throughput and TCP RTT per CNI (clusters as points), the receiver's throughput per interval and, at fixed
        loads, the RTT vs offered load."""
        from cnibench.report import plots

        drawn = [
            plots.per_series(groups, "throughput_bps", (BASELINE, NAME), "Egress throughput per CNI"),
            plots.per_series(groups, "rtt_mean_us", (BASELINE, NAME), "TCP round-trip time per CNI"),
            plots.intervals_over_time(groups, (BASELINE, NAME), "intervals_bps", "iperf3 throughput over time"),
            plots.latency_vs_load(groups, NAME, "rtt_mean_us", "TCP round-trip time vs offered load"),
        ]
        return [plot for plot in drawn if plot is not None]


def client_node(workers: list[str], gateway: str) -> str:
    """The client pod runs on a worker that is not the egress gateway (the last one)."""
    candidates = [w for w in workers if w != gateway]
    if not candidates:
        raise ValueError("the egress scenario needs a worker besides the gateway node")
    return candidates[-1]


EGRESS = Egress()
SCENARIOS.register(NAME, EGRESS)
