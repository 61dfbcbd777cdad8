"""The east-west scenario: iperf3 between two endpoints inside the cluster, as a matrix the spec chooses from.

* **path**: ``pod-to-pod`` (to the server pod's IP), ``pod-to-service`` (to a ClusterIP Service whose only backend
  is the server pod: kube-proxy's DNAT), ``host-to-host`` (host network on both ends: the CNI-neutral baseline);
* **placement**: ``same-node`` (client and server on the server's node) or ``cross-node`` (the client on another
  node);
* **protocol** (``tcp``, ``udp`` at a given bitrate) x **streams** (``single``, ``multi``: ``-P parallel``).

Every trial carries the code of the most cited CNI benchmark, InfraBuilder's 2024 run (``bench.sh`` in
InfraBuilder/benchmark-k8s-cni-2024-01: DTS, DTM, DUS, DUM = Direct pod-to-pod TCP/UDP, Single/Multi stream; STS,
STM, SUS, SUM = the same through a Service; all of them cross-node, between two workers). cnibench adds ``H`` for
host-to-host (InfraBuilder's ``baremetal`` run used the D codes between bare hosts) and the suffix ``-SN`` for the
same-node variants, which InfraBuilder did not run: ``DTS-SN`` is pod-to-pod TCP single stream on one node.

Every sample records the client's and the server's node, the path and the addresses used, and is verified from
the server's own iperf3 JSON: on the pod paths the server saw the client pod's own IP (no SNAT between pods, also
through a Service: kube-proxy DNATs the destination only, kubernetes ``virtual-ips.md``), on the Service path the
backend's address answered (the server's local address) while the client was connected to the ClusterIP, on the
host path the server saw the client node's address.

With ``workloads`` the matrix also measures request/response (``rr``: sockperf ping-pong, codes ``DT-RR``...,
netperf's TCP_RR/UDP_RR) and connection rate (``crr``: ab against nginx, ``ST-CRR``..., TCP_CRR), one transaction
outstanding, with every node's conntrack table over the window (:mod:`cnibench.scenarios._east_west_rr`).

With ``load: rate`` every trial runs once per offered rate (``pod-to-pod.cross-node.tcp-single@500M``, code
``DTS@500M``): iperf3 ``--bitrate`` split over the trial's streams, an idle window first, and the sample reports
achieved/offered, RTT under load and CPU seconds per Gbit (:mod:`cnibench.scenarios.load`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from cnibench.repetition import Expectation, MeasureCommand, Repetition
from cnibench.report.text import cv_text, median_text, number_text, summarize_field, table
from cnibench.results.metric import MetricInfo
from cnibench.results.sample import SampleBase
from cnibench.scenarios import SCENARIOS
from cnibench.scenarios._east_west_matrix import (
    ALL_POINTS,
    MAX_STREAMS,
    NAME,
    PATHS,
    POINTS,
    TIMEOUT_MARGIN,
    TRIAL_PATTERN,
    TRIALS,
    EastWestSettings,
    Path_,
    Placement,
    Point,
    Protocol,
    mode_text,
)
from cnibench.scenarios._east_west_rr import (
    CRR_METRICS,
    RR_METRICS,
    TOOL,
    RequestResponseFields,
    request_response,
    rr_checks,
    rr_repetitions,
    rr_settings_text,
    rr_settings_words,
    rr_wall,
    with_transaction_cost,
)
from cnibench.scenarios._east_west_rr_summary import rr_plots, rr_summary
from cnibench.scenarios._east_west_table import Row, ratio_lines
from cnibench.scenarios._iperf3 import IPERF3_METRICS, IPERF3_RATE_METRICS, Iperf3Fields, figures
from cnibench.scenarios.base import LOAD_SEP, Scenario, ToolNeed, Trial, base_trial, load_suffix
from cnibench.scenarios.load import (
    BITS_PER_SECOND,
    OFFERED,
    LoadSample,
    cost_lines,
    judge_sustained,
    loads,
    unsustained_lines,
    with_cpu_cost,
)
from cnibench.spec.base import FieldError
from cnibench.tools import iperf3

if TYPE_CHECKING:
    from cnibench.doctor import Check
    from cnibench.report.figure import Plot
    from cnibench.results.group import Group
    from cnibench.spec.model import Spec


class EastWestSample(LoadSample, RequestResponseFields, Iperf3Fields):
    """One iperf3 run between two endpoints inside the cluster; at a fixed load, ``offered_rate`` is the offered
    bit/s and ``achieved_fraction`` the receiver's throughput over it. An rr or crr repetition (``workload``) has
    the request/response fields instead of iperf3's (:mod:`cnibench.scenarios._east_west_rr`)."""

    scenario: str = Field(pattern=TRIAL_PATTERN, description="The matrix's trial, with @rate at a fixed load.")
    path: Path_
    placement: Placement
    protocol: Protocol
    streams: int = Field(ge=1, le=MAX_STREAMS, description="iperf3 -P (rr, crr: 1, one transaction outstanding).")
    code: str = Field(description="InfraBuilder's code (DTS...), H for host-to-host, -SN for same-node, -RR/-CRR.")
    client_node: str | None = None
    server_node: str | None = None
    client_ip: str | None = Field(None, description="The client's own address (pod IP, or its node's IP).")
    target_ip: str | None = Field(None, description="The address the client connected to (pod IP, ClusterIP, node IP).")
    backend_ip: str | None = Field(None, description="The server's own address (the Service's backend on that path).")
    source_ip_seen: str | None = Field(None, description="The client address the server saw.")
    source_ip_ok: bool | None = Field(None, description="It is the client's own address (no SNAT).")
    backend_ip_seen: str | None = Field(None, description="The server's local address of the test's sockets.")
    connected_to: str | None = Field(None, description="The address the client's sockets are connected to.")
    backend_ok: bool | None = Field(
        None, description="The backend answered: the server's address is backend_ip and the client's peer target_ip."
    )
    verified: bool = Field(False, description="source_ip_ok and backend_ok.")
    cpu_s_per_gbit: float | None = Field(
        None, description="Fixed load: CPU seconds per Gbit received, net of the idle baseline (every busy mode)."
    )


class EastWestExpectation(Expectation):
    """What an east-west repetition is checked against: the trial's point of the matrix and offered bit/s, the
    address the client connects to, and what the platform knows of the endpoints (the client's own address the
    server must see, the backend that must answer on a Service path, the nodes), some only at run time (None until
    the cluster adds them)."""

    path: Path_
    placement: Placement
    protocol: Protocol
    streams: int
    code: str
    workload: str = "stream"
    message_size: int | None = None
    target_ip: str | None = None
    offered_rate: float | None = None
    client_node: str | None = None
    server_node: str | None = None
    client_ip: str | None = None
    backend_ip: str | None = None


#: The expectation's fields the sample records as they are.
RECORDED = ("path", "placement", "protocol", "streams", "code", "client_node", "server_node", "client_ip", "target_ip",
            "backend_ip", "workload", "message_size")  # fmt: skip


class EastWest(Scenario[EastWestSettings, EastWestExpectation]):
    name: ClassVar[str] = NAME
    trials: ClassVar[tuple[str, ...]] = TRIALS
    settings_model = EastWestSettings
    sample_model = EastWestSample
    expectation_model = EastWestExpectation
    description: ClassVar[str] = (
        "iperf3 inside the cluster: pod-to-pod, pod-to-Service and host-to-host, same and cross node"
    )
    tools: ClassVar[tuple[ToolNeed, ...]] = (ToolNeed("iperf3", "apt-get install -y iperf3", "iperf3 (east-west)"),)
    metrics: ClassVar[tuple[MetricInfo, ...]] = IPERF3_METRICS
    rate_metrics: ClassVar[tuple[MetricInfo, ...] | None] = IPERF3_RATE_METRICS
    trial_metrics: ClassVar[tuple[MetricInfo, ...]] = RR_METRICS + CRR_METRICS

    def owns(self, trial: str) -> bool:
        """A point of the matrix, saturating or at an offered rate (``@500M``); a point with another variant after
        ``@`` (network-policy's ``@100rules``) is another scenario's."""
        return re.fullmatch(TRIAL_PATTERN, trial) is not None

    def metrics_of(self, trial: str) -> tuple[MetricInfo, ...]:
        """iperf3's metrics for the stream trials; rr: p99 round trip and transactions/s; crr: connections/s."""
        workload = POINTS[base_trial(trial)].workload if base_trial(trial) in POINTS else "stream"
        return {"rr": RR_METRICS, "crr": CRR_METRICS}.get(workload) or super().metrics_of(trial)

    def local_checks(self, settings: EastWestSettings | None) -> list[Check]:
        from cnibench.doctor import check_iperf3

        checks = [check_iperf3(udp=settings is not None and "udp" in settings.protocols, what=self.tools[0].label)]
        return checks + rr_checks(settings.workloads if settings is not None else [])

    def check(self, settings: EastWestSettings, spec: Spec) -> None:
        """Cross-node needs a second worker (``nodes.workers``, on every platform)."""
        if "cross-node" in settings.placements and spec.nodes.workers < 2:
            raise FieldError(
                ("scenarios", NAME, "placements"),
                "cross-node needs two workers and the cluster has one (nodes.workers: 1): use same-node only, or "
                "add a worker",
            )

    def settings_text_of(self, settings: EastWestSettings, point: Point, offered: float | None = None) -> str:
        """A trial's settings in a few words; ``offered``: its fixed load (bit/s), None when it saturates."""
        if point.workload != "stream":
            return rr_settings_text(settings, point)
        label = point.code + (LOAD_SEP + BITS_PER_SECOND.label(offered) if offered is not None else "")
        text = f"{label}: {point.protocol}, {settings.streams_of(point)} stream(s)"
        if point.protocol == "udp" and offered is None:
            text += f" at {settings.bitrate}bit/s each"
        text += f", {settings.duration} s + {settings.omit} s warm-up"
        if offered is not None:
            text += f"{OFFERED}{BITS_PER_SECOND.show(offered)}, {settings.duration} s idle baseline first"
        return text

    def trials_for(self, settings: EastWestSettings, cni: str) -> list[Trial]:
        """One trial per point of the matrix and load: the loads outside (each load runs the whole matrix)."""
        wall = iperf3.expected_wall_time(settings.duration, settings.omit)
        out = []
        for load in loads(settings):
            idle = float(settings.duration) if load.offered is not None else 0.0  # as long as the measured window
            out += [
                Trial(cni, load.trial(p.trial), settings.repetitions, idle + wall, "iperf3",
                      self.settings_text_of(settings, p, load.offered))
                if p.workload == "stream" else
                Trial(cni, p.trial, settings.repetitions, rr_wall(settings, p.workload), TOOL[p.workload],
                      rr_settings_text(settings, p))
                for p in settings.points()
            ]  # fmt: skip
        return out

    def settings_text(self, section: Mapping[str, Any], *, rounds: int | None = None) -> str:
        from pydantic import ValidationError

        try:
            settings = self.settings_model.model_validate(dict(section))
        except ValidationError:
            return ", ".join(f"{key} {value}" for key, value in section.items())
        assert isinstance(settings, EastWestSettings)
        per_round = " per round" if rounds is not None and rounds > 1 else ""
        offered = settings.offered()
        udp = f" (udp {settings.bitrate}bit/s per stream)" if "udp" in settings.protocols and not offered else ""
        multi = f" (multi: -P {settings.parallel})" if "multi" in settings.streams else ""
        rates = (
            f"{OFFERED}{', '.join(BITS_PER_SECOND.show(r) for r in offered)} (each, an idle baseline first)"
            if offered
            else ""
        )
        rates += rr_settings_words(settings)
        workloads = f"{'/'.join(settings.workloads)} x " if settings.workloads != ["stream"] else ""
        stream = "stream" in settings.workloads  # streams, bitrate and warm-up are iperf3's
        streams = f" x {'/'.join(settings.streams)}{multi}" if stream else ""
        warmup = f" + {settings.omit} s warm-up" if stream else ""
        return (
            f"{len(settings.points()) * max(len(offered), 1)} trial(s): {workloads}{'/'.join(settings.paths)} x "
            f"{'/'.join(settings.placements)} x {'/'.join(settings.protocols)}{udp if stream else ''}{streams}, "
            f"{settings.duration} s{warmup}{rates}, {settings.repetitions} repetition(s){per_round}"
        )

    def repetitions(
        self,
        settings: EastWestSettings,
        *,
        cni: str,
        trial: str,
        numbers: range,
        run_dir: Path,
        target_ip: str,
        expect: Mapping[str, Any],
        netns: str = "",
        wrap: Callable[[list[str]], list[str]] | None = None,
    ) -> list[Repetition]:
        """The repetitions of one trial: iperf3 from the client (in ``netns``; a platform may wrap the command) to
        ``target_ip``; ``expect`` holds what the platform knows of the endpoints (``client_node``, ``server_node``,
        ``client_ip``, ``backend_ip``; an address known only at run time is None or a placeholder and the cluster
        adds it at run time). A fixed load's trial (``...@500M``) offers its rate, after an idle window as long as
        the measured one (the CPU cost's baseline). An rr or crr trial runs sockperf or ab (``wrap``: what the
        platform wraps the tool's argv in, the netns conntrack launcher) after an idle window as long as the measured
        one. Raises KeyError for a trial or load that is not east-west's (or not the spec's)."""
        point = POINTS[base_trial(trial)]
        if point.workload != "stream":
            return rr_repetitions(EastWestExpectation, settings, point, cni, numbers,
                                  self.artifact_dir(run_dir, cni, trial), target_ip, expect, netns, wrap)  # fmt: skip
        load = {load.suffix: load for load in loads(settings)}[load_suffix(trial)]
        argv = iperf3.client_argv(
            target_ip, protocol=point.protocol, duration=settings.duration, omit=settings.omit,
            parallel=settings.streams_of(point), bitrate=settings.bitrate or "0", offered_bps=load.offered,
        )  # fmt: skip
        wall = iperf3.expected_wall_time(settings.duration, settings.omit)
        idle = float(settings.duration) if load.offered is not None else 0.0
        full = EastWestExpectation(
            path=point.path,
            placement=point.placement,
            protocol=point.protocol,
            streams=settings.streams_of(point),
            code=point.code,
            target_ip=target_ip,
            offered_rate=load.offered,
            **expect,
        )
        out = []
        for number in numbers:
            artifact = self.artifact_dir(run_dir, cni, trial) / f"rep-{number:02d}.iperf3.json"
            command = MeasureCommand(
                argv=tuple(argv), stdout=artifact, timeout_s=idle + wall + TIMEOUT_MARGIN, netns=netns, idle_s=idle
            )
            out.append(Repetition(cni, trial, number, artifact, command, idle + wall, idle + settings.omit, full))
        return out

    def expected_fields(self, expect: EastWestExpectation) -> dict[str, Any]:
        return {key: getattr(expect, key) for key in RECORDED} | judge_sustained(expect.offered_rate, None)

    def sample_from(
        self, text: str, expect: EastWestExpectation, fields: dict[str, Any], failure: str | None
    ) -> EastWestSample:
        """Parse a repetition's iperf3 JSON and verify who talked to whom; a failed check fails the repetition but
        keeps its figures. An rr/crr repetition: :func:`~cnibench.scenarios._east_west_rr.request_response`."""
        measured, errors = self.measured(text, expect, failure)
        return EastWestSample(**{**fields, **measured}, status="failed" if errors else "ok",
                              error="; ".join(errors) or None)  # fmt: skip

    def measured(self, text: str, expect: EastWestExpectation, failure: str | None) -> tuple[dict[str, Any], list[str]]:
        """The sample fields a repetition's tool output gives (figures and the verification of who talked to whom)
        and what failed (empty: nothing): :meth:`sample_from`'s work, for scenarios that run east-west's points
        (network-policy). Raises :class:`~cnibench.errors.MeasurementError` when the tool's output is unreadable."""
        if expect.workload != "stream":
            figures_, errors_ = request_response(text, expect.workload)
            return figures_, ([failure] if failure else []) + errors_
        result = iperf3.parse_client_json(text)
        seen, local, peer = result.source_ip_seen, result.server_local_ip, result.client_connected_to
        client_ip, backend_ip, target_ip = expect.client_ip, expect.backend_ip, expect.target_ip
        errors: list[str] = [failure] if failure else []
        what = "client node's address" if expect.path == "host-to-host" else "client pod's own address"
        source_ok: bool | None = None
        if client_ip is not None:
            source_ok = seen == client_ip
            if not source_ok:
                errors.append(f"server saw {seen}, expected the {what} {client_ip} (no SNAT)")
        backend_ok: bool | None = None
        if backend_ip is not None:
            backend_ok = local == backend_ip and (target_ip is None or peer == target_ip)
            if local != backend_ip:
                errors.append(f"the server answered on {local}, expected the backend {backend_ip}")
            elif not backend_ok:
                errors.append(f"the client was connected to {peer}, expected {target_ip}")
        measured = {
            **judge_sustained(expect.offered_rate, result.throughput_bps),
            **figures(result),
            "source_ip_seen": seen,
            "source_ip_ok": source_ok,
            "backend_ip_seen": local,
            "connected_to": peer,
            "backend_ok": backend_ok,
            "verified": bool(source_ok and backend_ok),
        }
        return measured, errors

    def recorded_expectation(self, sample: SampleBase, settings: dict[str, Any], artifact: Path) -> EastWestExpectation:
        assert isinstance(sample, EastWestSample)
        return EastWestExpectation(offered_rate=sample.offered_rate, **{key: getattr(sample, key) for key in RECORDED})

    def with_cost(self, sample: SampleBase, metrics_dir: Path) -> SampleBase:
        """CPU seconds per Gbit the server received (its throughput, Gbit/s), net of the idle baseline."""
        if isinstance(sample, EastWestSample) and sample.workload != "stream":
            return with_transaction_cost(sample, metrics_dir)
        if not isinstance(sample, EastWestSample) or sample.throughput_bps is None:
            return sample
        return with_cpu_cost(sample, metrics_dir, sample.throughput_bps / 1e9, "cpu_s_per_gbit")

    # ---- the terminal summary and the report -------------------------------------------------------------------
    def rows(self, samples: Sequence[SampleBase]) -> list[Row]:
        """One row per CNI x trial, CNIs in the order they appear, loads in the order they appear, each load's
        trials in the matrix's order."""
        from cnibench.results.stats import median_interval

        groups: dict[tuple[str, str], list[EastWestSample]] = {}
        for sample in samples:
            if isinstance(sample, EastWestSample) and sample.workload == "stream":
                groups.setdefault((sample.cni, sample.scenario), []).append(sample)
        cnis = list(dict.fromkeys(cni for cni, _ in groups))
        rows = []
        for cni in cnis:
            for trial in self.ordered([t for c, t in groups if c == cni]):
                group = groups[(cni, trial)]
                values = [s.throughput_bps for s in group if s.status == "ok" and s.throughput_bps is not None]
                interval = median_interval(values)
                rows.append(
                    Row(
                        cni=cni,
                        trial=trial,
                        point=POINTS[base_trial(trial)],
                        offered=group[0].offered_rate,
                        code=group[0].code,
                        streams=group[0].streams,
                        ok=sum(1 for s in group if s.status == "ok"),
                        total=len(group),
                        verified=sum(1 for s in group if s.verified),
                        throughput=summarize_field(group, "throughput_bps"),
                        ci=(interval.low, interval.high, interval.level) if interval else None,
                        rtt=summarize_field(group, "rtt_mean_us"),
                        retransmits=summarize_field(group, "retransmits"),
                        loss=summarize_field(group, "lost_percent"),
                    )
                )
        return rows

    def ratios(self, samples: Sequence[SampleBase]) -> list[tuple[str, str, str, str, float]]:
        """Per CNI (datapath), placement and mode: median throughput of pod-to-pod (and pod-to-service) over
        host-to-host, the cost of the pod network against the host network on the same nodes:
        ``(cni, path, placement, mode, ratio)``. A ratio of medians (the trials ran one after the other, not
        paired). Saturating trials only: at a fixed load both carry the offered rate."""
        medians = {
            (r.cni, r.point.path, r.point.placement, mode_text(r.point.protocol, r.streams)): r.throughput.median
            for r in self.rows(samples)
            if r.throughput is not None and r.offered is None
        }
        out = []
        for (cni, path, placement, mode), median in medians.items():
            host = medians.get((cni, "host-to-host", placement, mode))
            if path != "host-to-host" and host:
                out.append((cni, path, placement, mode, median / host))
        return out

    def summary_lines(self, samples: Sequence[SampleBase], warnings: list[str]) -> list[str]:
        rows = self.rows(samples)
        rr = rr_summary([s for s in samples if isinstance(s, EastWestSample) and s.workload != "stream"], warnings)
        if not rows:
            return rr[1:] if rr else []
        fixed = any(r.offered is not None for r in rows)
        header = ("cni", "code", "path", "placement", "mode", "ok", *(("offered Gbit/s",) if fixed else ()),
                  "Gbit/s (median)", "CI", "cv", "RTT us", "retr.", "loss %", "verified")  # fmt: skip
        body = []
        for r in rows:
            ci = "-"
            if r.ci is not None:
                low, high, level = r.ci
                ci = f"[{low / 1e9:.2f}, {high / 1e9:.2f}] {level:.0%}"
            mode = mode_text(r.point.protocol, r.streams)
            offered = (number_text(r.offered, 1e9, 3),) if fixed else ()
            body.append((
                r.cni, r.code + load_suffix(r.trial), r.point.path, r.point.placement, mode, f"{r.ok}/{r.total}",
                *offered, median_text(r.throughput, 1e9), ci, cv_text(r.throughput), median_text(r.rtt, 1, 0),
                median_text(r.retransmits, 1, 0), median_text(r.loss, 1, 2), f"{r.verified}/{r.total}",
            ))  # fmt: skip
            if r.verified < r.total:
                warnings.append(f"{r.cni} {r.trial}: {r.total - r.verified} of {r.total} not verified")
        lines = table(header, body)
        lines += ratio_lines(self.ratios(samples))
        warnings += unsustained_lines(samples, EastWestSample, BITS_PER_SECOND)
        lines += cost_lines(samples, "cpu_s_per_gbit", "CPU s per Gbit")
        return lines + rr

    def report_plots(self, groups: Sequence[Group]) -> list[Plot]:
        """Per path, the throughput per trial of the matrix (its code, placement and mode) with each CNI's
        repetitions, median and interval, and the same as a table (the codes searchable); the pod/host throughput
        ratios (:meth:`ratios`) as points and a table; at fixed loads, the TCP RTT vs offered load."""
        from cnibench.report.plots import latency_vs_load, per_trial
        from cnibench.scenarios._east_west_report import ratio_plot

        plots = []
        for path in PATHS:
            trials = [p.trial for p in ALL_POINTS if p.path == path and p.workload == "stream"]
            labels = {p.trial: f"{p.code} {p.placement} {p.mode}" for p in ALL_POINTS if p.path == path}
            plot = per_trial(groups, "throughput_bps", trials, labels, f"East-west {path} throughput per CNI")
            if plot is not None:
                plots.append(plot)
        plots += rr_plots(groups)
        ratio = ratio_plot(self.ratios([s for g in groups for s in g.samples]))
        curve = latency_vs_load(groups, NAME, "rtt_mean_us", "East-west TCP round-trip time vs offered load")
        return plots + [p for p in (ratio, curve) if p is not None]


EAST_WEST = EastWest()
SCENARIOS.register(NAME, EAST_WEST)
