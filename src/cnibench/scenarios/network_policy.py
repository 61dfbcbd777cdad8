"""The network-policy scenario (issue 30): what NetworkPolicy rules cost on the datapath, as a curve over the
number of rules.

Every chosen point of the east-west matrix (pod-to-pod or pod-to-Service, same or cross node, the ``stream``,
``rr`` and ``crr`` workloads, TCP) runs at several **policy sizes**, each its own trial
(:mod:`cnibench.scenarios._network_policy_trials` names them: ``pod-to-pod.cross-node.tcp-rr@100rules``, code
``DT-RR@100rules``): no policy (``@no-policy``, the baseline), default-deny plus the one allow rule that matches the
clients (``@0rules``), and the same with N non-matching rules in front of it, written the way users write them
(pod and namespace selectors, CIDR blocks, other ports: :mod:`cnibench.scenarios._policy_rules`). The server pods
are protected; the rules admit the clients to each server port (iperf3's, sockperf's, nginx's).

A size's trial is paired with ``@no-policy`` of the same point, repetition by repetition on the same cluster
(:meth:`NetworkPolicy.sequence`): the verdicts judge each size against no policy within a CNI
(:func:`cnibench.results.policy.policy_costs`) and every trial across CNIs and variants, like every trial.

Figures per repetition: what east-west gives per workload (throughput; rr p50/p99 and transactions/s; crr
connections/s) and the CPU seconds per unit of work (per Gbit, per 1,000 transactions), net of an idle window as
long as the measured one before it (the fixed-load method: :mod:`cnibench.scenarios.load`), for every workload;
under a policy also the rules, sets and elements actually loaded (read back by the platform) and the **denied
probe**: a source the policy does not admit connects to the server's port just before the measurement
(:mod:`cnibench.tools.policy_probe`); if it gets through, the repetition fails. The allowed traffic's check is the
measurement itself: a client the policy wrongly drops measures nothing, and the repetition fails.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from cnibench.repetition import Expectation, Repetition
from cnibench.results.metric import MetricInfo
from cnibench.results.sample import SampleBase
from cnibench.scenarios import SCENARIOS
from cnibench.scenarios import _policy_latency as latency
from cnibench.scenarios._east_west_rr import CRR_METRICS, RR_METRICS, TOOL, rr_checks, rr_wall
from cnibench.scenarios._iperf3 import IPERF3_METRICS, IPERF3_RATE_METRICS
from cnibench.scenarios._network_policy_trials import (
    EVENT_TRIALS,
    NAME,
    POINTS,
    TRIAL_PATTERN,
    NetworkPolicySettings,
    is_size_trial,
    order_key,
    split,
    trial_code,
    trial_name,
)
from cnibench.scenarios.base import ParseOptions, Scenario, ToolNeed, Trial
from cnibench.scenarios.east_west import EAST_WEST, EastWestExpectation, EastWestSample
from cnibench.tools import iperf3
from cnibench.tools.policy_probe import PROBE_S, loaded, parse_record

if TYPE_CHECKING:
    from cnibench.doctor import Check
    from cnibench.report.figure import Plot
    from cnibench.results.group import Group
    from cnibench.spec.model import Spec

#: The stream workload's figures: throughput leads, as in east-west; the CPU cost per Gbit (net of the idle window
#: before each repetition) is a figure of every repetition, judged in the verdicts' other metrics, not a primary one:
#: the policy's verdicts are one family (Bonferroni) over every size, CNI and primary metric, and a few clusters
#: cannot afford more primary metrics there.
CPU_PER_GBIT = replace(IPERF3_RATE_METRICS[1], primary=False)
STREAM_METRICS: tuple[MetricInfo, ...] = (IPERF3_METRICS[0], CPU_PER_GBIT, *IPERF3_METRICS[1:3])
#: rr: p99 and transactions/s lead; crr: connections/s (a policy's cost lands on each new connection); both with
#: the CPU per 1,000 transactions as a figure, as in east-west.
POLICY_RR_METRICS: tuple[MetricInfo, ...] = RR_METRICS
POLICY_CRR_METRICS: tuple[MetricInfo, ...] = CRR_METRICS


class NetworkPolicyExpectation(EastWestExpectation):
    """An east-west point's expectation plus the policy: its size (None: no policy), representation, rules
    (NetworkPolicy rules: the size plus one matching rule per server port), what the table must hold when read back
    (``table``, rules, sets, elements; None: not known on this platform) and the denied probe's source, target and
    port (None: no probe)."""

    policy_size: int | None = None
    representation: str | None = None
    policy_rules: int | None = None
    table: str | None = None
    expected_nft_rules: int | None = None
    expected_nft_sets: int | None = None
    expected_nft_elements: int | None = None
    probe_source: str | None = None
    probe_target: str | None = None
    probe_port: int | None = None


class NetworkPolicySample(EastWestSample):
    """An east-west sample of one size's trial, with the policy it ran under and its checks."""

    scenario: str = Field(pattern=TRIAL_PATTERN, description="The point and the policy size (@100rules, @no-policy).")
    policy_size: int | None = Field(None, description="Non-matching rules in front of the matching one (None: none).")
    representation: str | None = Field(None, description="netns: chain (a rule per rule) or set (one lookup).")
    policy_rules: int | None = Field(None, description="NetworkPolicy allow rules: the size plus the matching ones.")
    nft_rules: int | None = Field(None, description="Rules in the policy's nft table, read back after applying it.")
    nft_sets: int | None = Field(None, description="Named sets and maps in it, read back.")
    nft_elements: int | None = Field(None, description="Their elements, read back.")
    denied_probe: str | None = Field(None, description="blocked (as it must be), passed or unknown; None: no policy.")
    denied_probe_detail: str | None = None
    probe_source: str | None = Field(None, description="The denied probe's source (a pod the policy does not admit).")
    probe_target: str | None = None


#: The expectation's policy fields the sample records as they are.
RECORDED = ("policy_size", "representation", "policy_rules", "probe_source", "probe_target")
POLICY_FIELDS = (*RECORDED, "table", "expected_nft_rules", "expected_nft_sets", "expected_nft_elements", "probe_port")


class NetworkPolicy(Scenario[NetworkPolicySettings, NetworkPolicyExpectation]):
    name: ClassVar[str] = NAME
    #: Its trials' names as the registry knows them: each point with no policy (every size of a point is its trial
    #: too: :meth:`owns`), and the event trials.
    trials: ClassVar[tuple[str, ...]] = (*(trial_name(p, None) for p in POINTS.values()), *EVENT_TRIALS)
    settings_model = NetworkPolicySettings
    sample_model = NetworkPolicySample
    expectation_model = NetworkPolicyExpectation
    description: ClassVar[str] = (
        "NetworkPolicy's datapath cost: east-west pod paths at 0..N rules (default-deny + allow), a denied probe"
    )
    tools: ClassVar[tuple[ToolNeed, ...]] = (
        ToolNeed("iperf3", "apt-get install -y iperf3", "iperf3 (network-policy)"),
    )
    metrics: ClassVar[tuple[MetricInfo, ...]] = STREAM_METRICS
    trial_metrics: ClassVar[tuple[MetricInfo, ...]] = POLICY_RR_METRICS + POLICY_CRR_METRICS + latency.LATENCY_METRICS
    paired: ClassVar[bool] = True
    #: The event trials' artifact is a pcap; the size trials' text is decoded in :meth:`sample_from_bytes`.
    binary_artifact: ClassVar[bool] = True

    #: ``cnibench parse pcap`` reads an event's capture (the first scenario whose :meth:`parse_trial` claims it).
    parse_tool: ClassVar[str | None] = "pcap"

    def parse_trial(self, path: Path) -> str | None:
        """The event trial of a capture whose one marker names a policy event; None for any other file."""
        from cnibench.errors import MeasurementError
        from cnibench.scenarios._pcap import read_pcap

        try:
            markers = read_pcap(path.read_bytes()).markers
        except (MeasurementError, OSError):
            return None
        event = str(markers[0].get("event")) if len(markers) == 1 else None
        return event if event in EVENT_TRIALS else None

    def parse_expectation(self, path: Path, options: ParseOptions) -> NetworkPolicyExpectation:
        """The capture's own event, size and representation."""
        return latency.PolicyLatencyExpectation()  # type: ignore[return-value]

    def sample_model_of(self, trial: str) -> type[SampleBase]:
        return latency.PolicyLatencySample if trial in EVENT_TRIALS else NetworkPolicySample

    def expectation_model_of(self, trial: str) -> type[Expectation]:
        return latency.PolicyLatencyExpectation if trial in EVENT_TRIALS else NetworkPolicyExpectation

    # ---- trials -----------------------------------------------------------------------------------------------
    def owns(self, trial: str) -> bool:
        """A point with its size (``...tcp-rr@100rules``, ``...@no-policy``) or an event trial."""
        return trial in EVENT_TRIALS or is_size_trial(trial)

    def metrics_of(self, trial: str) -> tuple[MetricInfo, ...]:
        if trial in EVENT_TRIALS:
            return latency.metrics_for(trial)
        if not is_size_trial(trial):
            return self.metrics
        workload = split(trial)[0].workload
        return {"rr": POLICY_RR_METRICS, "crr": POLICY_CRR_METRICS}.get(workload, STREAM_METRICS)

    def baseline_of(self, trial: str) -> str | None:
        """A size's trial is judged against the same point with no policy."""
        if not is_size_trial(trial):
            return None
        point, size = split(trial)
        return trial_name(point, None) if size is not None else None

    def ordered(self, trials: Sequence[str]) -> list[str]:
        """Its trials among ``trials``: per point of the matrix (its order), no policy then the sizes ascending;
        then the event trials."""
        sized = sorted((t for t in trials if is_size_trial(t)), key=order_key)
        return list(dict.fromkeys(sized)) + [t for t in EVENT_TRIALS if t in trials]

    def sequence(self, numbers: Mapping[str, range], *, pair: bool = True) -> list[tuple[str, int]]:
        """Per point, repetition k of every size back to back, so that each size's repetition pairs with the
        baseline's (issue 30: "each size is its own trial"; DESIGN: a policy's trial alternates with its baseline),
        from no policy up in odd repetitions and down in even ones (ABBA, as the CNIs alternate between rounds);
        without ``pair``, trial after trial. Event trials after them, one after the other."""
        trials = self.ordered(list(numbers))
        if not pair:
            return [(t, n) for t in trials for n in numbers[t]]
        out: list[tuple[str, int]] = []
        for base in dict.fromkeys(split(t)[0].trial for t in trials if is_size_trial(t)):
            group = [t for t in trials if is_size_trial(t) and split(t)[0].trial == base]
            longest = max(len(numbers[t]) for t in group)
            for i in range(longest):
                # odd repetitions from no policy up, even ones from the largest size down (ABBA): what builds up
                # over a block (crr's closed connections linger in conntrack for 120 s) lands on every size alike
                number = next(numbers[t][i] for t in group if i < len(numbers[t]))
                ordered = group if number % 2 else group[::-1]
                out += [(t, numbers[t][i]) for t in ordered if i < len(numbers[t])]
        return out + [(t, n) for t in trials if not is_size_trial(t) for n in numbers[t]]

    def local_checks(self, settings: NetworkPolicySettings | None) -> list[Check]:
        from cnibench.doctor import check_tool

        checks = [check_tool("iperf3", self.tools[0].hint, what=self.tools[0].label),
                  check_tool("nft", "apt-get install -y nftables", what="nft (network-policy rules)")]  # fmt: skip
        events = settings.events if settings is not None else list(EVENT_TRIALS)
        if events:
            checks += [check_tool(t.command, t.hint, what=t.label) for t in (latency.HPING3, latency.TCPDUMP)]
        return checks + rr_checks(settings.workloads if settings is not None else ["stream", "rr", "crr"])

    def check(self, settings: NetworkPolicySettings, spec: Spec) -> None:
        EAST_WEST.check(settings, spec)

    def wall(self, settings: NetworkPolicySettings, workload: str, policy: bool) -> float:
        """A repetition's wall time (s): the idle window, the denied probe under a policy, the tool."""
        if workload == "stream":
            tool = float(settings.duration) + iperf3.expected_wall_time(settings.duration, settings.omit)
        else:
            tool = rr_wall(settings, workload)
        return tool + (PROBE_S if policy else 0.0)

    def trials_for(self, settings: NetworkPolicySettings, cni: str) -> list[Trial]:
        """Per point, no policy, 0 and each size (the point's repetitions alternate over them on a cluster)."""
        out = []
        for point in settings.points():
            tool = TOOL.get(point.workload, "iperf3")
            for size in settings.all_sizes():
                policy = "no policy" if size is None else f"default-deny + {size} non-matching + the matching rule"
                text = (f"{trial_code(point, size)}: {point.workload}, {policy}, {settings.duration} s after "
                        f"{settings.duration} s idle")  # fmt: skip
                wall = self.wall(settings, point.workload, size is not None)
                out.append(Trial(cni, trial_name(point, size), settings.repetitions, wall, tool, text))
        return out + self.event_trials(settings, cni)

    def event_trials(self, settings: NetworkPolicySettings, cni: str) -> list[Trial]:
        """The programming-latency trials (:mod:`cnibench.scenarios._policy_latency`)."""
        return latency.event_trials(settings, cni, settings.sizes)

    def settings_text(self, section: Mapping[str, Any], *, rounds: int | None = None) -> str:
        from pydantic import ValidationError

        try:
            settings = NetworkPolicySettings.model_validate(dict(section))
        except ValidationError:
            return ", ".join(f"{key} {value}" for key, value in section.items())
        per_round = " per round" if rounds is not None and rounds > 1 else ""
        sizes = ", ".join("no policy" if s is None else str(s) for s in settings.all_sizes())
        return (
            f"{len(settings.points())} point(s) x sizes {sizes}: {'/'.join(settings.workloads)} x "
            f"{'/'.join(settings.paths)} x {'/'.join(settings.placements)}, {settings.duration} s after as long "
            f"idle, {settings.repetitions} repetition(s){per_round}"
        )

    # ---- repetitions ------------------------------------------------------------------------------------------
    def repetitions(
        self,
        settings: NetworkPolicySettings,
        *,
        cni: str,
        trial: str,
        numbers: range,
        run_dir: Path,
        target_ip: str,
        expect: Mapping[str, Any],
        policy: Mapping[str, Any],
        netns: str = "",
        wrap: Callable[[list[str]], list[str]] | None = None,
        probe: Callable[[list[str]], list[str]] | None = None,
    ) -> list[Repetition]:
        """The repetitions of one size's trial: east-west's for its point (:meth:`EastWest.repetitions`: iperf3,
        sockperf or ab from the client in ``netns`` to ``target_ip``; ``wrap``: the rr/crr launcher), each after an
        idle window as long as the measured one (the stream workload's too: its CPU cost's baseline); under a
        policy, ``probe`` wraps the command in the platform's denied probe (which runs after the idle window, before
        the tool: the metrics window leaves it out). ``policy``: the expectation's policy fields the platform knows
        (:data:`POLICY_FIELDS` but the size). Raises KeyError for a trial that is not a size trial."""
        point, size = split(trial)
        reps = EAST_WEST.repetitions(
            settings, cni=cni, trial=point.trial, numbers=numbers, run_dir=run_dir, target_ip=target_ip,
            expect=expect, netns=netns, wrap=wrap if point.workload != "stream" else None,
        )  # fmt: skip
        out = []
        for rep in reps:
            command = rep.command
            idle = float(settings.duration)
            added = idle - command.idle_s + (PROBE_S if size is not None and probe is not None else 0.0)
            argv = tuple(probe(list(command.argv))) if size is not None and probe is not None else command.argv
            artifact = self.artifact_dir(run_dir, cni, trial) / rep.artifact.name
            command = dataclasses.replace(command, argv=argv, stdout=artifact, idle_s=idle,
                                          timeout_s=command.timeout_s + added)  # fmt: skip
            fields = {**rep.expect.model_dump(), **policy, "policy_size": size}
            if size is None:
                fields |= {key: None for key in POLICY_FIELDS}
            out.append(dataclasses.replace(
                rep, scenario=trial, artifact=artifact, command=command, expected_seconds=rep.expected_seconds + added,
                warmup_s=rep.warmup_s + added, expect=NetworkPolicyExpectation(**fields), loop="",
            ))  # fmt: skip
        return out

    # ---- samples ----------------------------------------------------------------------------------------------
    def expected_fields(self, expect: NetworkPolicyExpectation) -> dict[str, Any]:
        if isinstance(expect, latency.PolicyLatencyExpectation):
            return latency.expected_fields(expect)
        return EAST_WEST.expected_fields(expect) | {key: getattr(expect, key) for key in RECORDED}

    def sample_from_bytes(
        self, data: bytes, expect: NetworkPolicyExpectation, fields: dict[str, Any], failure: str | None
    ) -> SampleBase:
        """An event trial's pcap (:func:`cnibench.scenarios._policy_latency.latency_sample`), or a size trial's text
        output (:meth:`sample_from`)."""
        if isinstance(expect, latency.PolicyLatencyExpectation):
            return latency.latency_sample(data, expect, fields, failure)
        return self.sample_from(data.decode("utf-8", errors="replace"), expect, fields, failure)

    def sample_from(
        self, text: str, expect: NetworkPolicyExpectation, fields: dict[str, Any], failure: str | None
    ) -> NetworkPolicySample:
        """East-west's figures and checks of the tool's output, and under a policy: the denied probe must have been
        blocked, and the table read back must hold what was rendered (when the platform knows it). Any of them
        failing fails the repetition, its figures kept."""
        record = parse_record(text)
        measured, errors = EAST_WEST.measured(record.tool_stdout if record else text, expect, failure)
        extra: dict[str, Any] = {}
        if expect.policy_size is not None and expect.probe_target is not None:
            if record is None:
                errors.append("no denied probe was recorded")
            else:
                extra |= {"denied_probe": record.probe, "denied_probe_detail": record.probe_detail}
                where = f"from {expect.probe_source} to {expect.probe_target}:{expect.probe_port}"
                if record.probe == "passed":
                    errors.append(f"the denied probe {where} got through ({record.probe_detail})")
                elif record.probe != "blocked":
                    errors.append(f"the denied probe {where}: {record.probe_detail}")
        if record is not None and expect.policy_size is not None:  # reanalyze knows no table: the listing's own
            counts, problem = loaded_counts(record.listing, expect)
            extra |= counts
            if problem and expect.table is not None:
                errors.append(problem)
        return NetworkPolicySample(**{**fields, **measured, **extra}, status="failed" if errors else "ok",
                                   error="; ".join(errors) or None)  # fmt: skip

    def recorded_expectation(
        self, sample: SampleBase, settings: dict[str, Any], artifact: Path
    ) -> NetworkPolicyExpectation:
        if isinstance(sample, latency.PolicyLatencySample):
            return latency.recorded_expectation(sample)  # type: ignore[return-value]
        assert isinstance(sample, NetworkPolicySample)
        east_west = EAST_WEST.recorded_expectation(sample, settings, artifact).model_dump()
        return NetworkPolicyExpectation(**east_west, **{key: getattr(sample, key) for key in RECORDED})

    def with_cost(self, sample: SampleBase, metrics_dir: Path) -> SampleBase:
        """CPU seconds per Gbit (stream) or per 1,000 transactions (rr, crr), net of the idle window before it."""
        from cnibench.scenarios._east_west_rr import with_transaction_cost
        from cnibench.scenarios.load import with_cost_per_unit

        if not isinstance(sample, NetworkPolicySample) or sample.status != "ok":
            return sample
        if sample.workload != "stream":
            return with_transaction_cost(sample, metrics_dir)
        work = sample.throughput_bps / 1e9 if sample.throughput_bps else None
        return with_cost_per_unit(sample, metrics_dir, work, CPU_PER_GBIT.name)

    # ---- the summary and the report ---------------------------------------------------------------------------
    def summary_lines(self, samples: Sequence[SampleBase], warnings: list[str]) -> list[str]:
        from cnibench.scenarios._network_policy_report import summary

        lines = summary([s for s in samples if isinstance(s, NetworkPolicySample)], warnings)
        return lines + latency.summary_lines(samples, warnings)

    def report_plots(self, groups: Sequence[Group]) -> list[Plot]:
        from cnibench.scenarios._network_policy_report import cost_curves

        return cost_curves([g for g in groups if is_size_trial(g.scenario)]) + latency.latency_plots(
            [g for g in groups if g.scenario in EVENT_TRIALS]
        )


def loaded_counts(listing: str | None, expect: NetworkPolicyExpectation) -> tuple[dict[str, Any], str | None]:
    """The sample's read-back fields from the server node's table listing, and what is wrong with them (None:
    they hold what was rendered)."""
    if listing is None:
        return {}, f"the policy table {expect.table or ''} was not listed"
    try:
        got = loaded(listing, expect.table)
    except ValueError as exc:
        return {}, f"the policy table could not be read back: {exc}"
    counts = {"nft_rules": got.rules, "nft_sets": got.sets, "nft_elements": got.elements}
    want = {"nft_rules": expect.expected_nft_rules, "nft_sets": expect.expected_nft_sets,
            "nft_elements": expect.expected_nft_elements}  # fmt: skip
    wrong = [f"{key} {counts[key]} (rendered {value})" for key, value in want.items()
             if value is not None and counts[key] != value]  # fmt: skip
    return counts, (f"the loaded policy differs from the rendered one: {', '.join(wrong)}" if wrong else None)


NETWORK_POLICY = NetworkPolicy()
SCENARIOS.register(NAME, NETWORK_POLICY)
