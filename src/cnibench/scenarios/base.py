"""What a scenario is: its spec section, its trials, the tools it needs, its metrics, how it plans repetitions, how it
turns a raw artifact into a sample, and its lines of the terminal summary.

A scenario is one module of :mod:`cnibench.scenarios` that registers one :class:`Scenario`; what it deploys on each
family of platforms is a small adapter registered per (family, scenario) under ``platforms/<family>/scenarios/``.
Nothing else branches on a scenario's name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

from cnibench.repetition import Expectation
from cnibench.results.metric import MetricInfo
from cnibench.results.sample import SampleBase
from cnibench.spec.model import ScenarioSettings

if TYPE_CHECKING:
    from cnibench.doctor import Check
    from cnibench.repetition import Repetition
    from cnibench.report.figure import Plot
    from cnibench.results.group import Group
    from cnibench.spec.model import Spec


#: Separates a trial's name from its offered load: ``egress@500M`` is the egress trial at 500 Mbit/s offered
#: (``cnibench.scenarios.load``); a trial without one saturates.
LOAD_SEP = "@"


def base_trial(trial: str) -> str:
    """``egress@500M`` -> ``egress``; a trial without a load -> itself."""
    return trial.split(LOAD_SEP, 1)[0]


def load_suffix(trial: str) -> str:
    """``egress@500M`` -> ``@500M``; ``""`` without a load."""
    return trial[len(base_trial(trial)) :]


@dataclass(frozen=True)
class ToolNeed:
    """A command a scenario runs on this machine (netns platform): ``doctor`` checks it and says how to get it."""

    command: str
    hint: str
    label: str


@dataclass(frozen=True)
class Trial:
    """One trial of one CNI in a plan: ``scenario`` is the trial's name (``egress-baseline``), ``seconds_each`` the
    tool's own wall time per repetition (s), ``settings`` a short description for ``plan``."""

    cni: str
    scenario: str
    repetitions: int
    seconds_each: float
    tool: str
    settings: str


@dataclass(frozen=True)
class ParseOptions:
    """What ``cnibench parse`` is told besides the file (its options): the protocol the file must be
    (``tcp``/``udp``; None: the file's own), the source IP the server must have seen (None: not checked), the
    backend pods that must answer (None: those the file counted) and the highest failed-request fraction."""

    protocol: str | None = None
    expected_source_ip: str | None = None
    backends: list[str] | None = None
    max_failed_rate: float = 0.0


S = TypeVar("S", bound=ScenarioSettings)
E = TypeVar("E", bound=Expectation)


class Scenario(ABC, Generic[S, E]):
    """One scenario. Subclasses set the class attributes and implement :meth:`trials_for`, :meth:`expected_fields`,
    :meth:`sample_from` and :meth:`recorded_expectation`; ``expectation_model`` is its :class:`Expectation` (what
    a repetition's artifact is checked against), ``E`` the same type for the checker."""

    #: The spec section (``scenarios.<name>``) and the name ``--only`` takes.
    name: ClassVar[str]
    #: Its trials' names, in run order (a trial is a scenario's variant, e.g. with and without the egress policy).
    trials: ClassVar[tuple[str, ...]]
    settings_model: ClassVar[type[ScenarioSettings]]
    sample_model: ClassVar[type[SampleBase]]
    expectation_model: ClassVar[type[Expectation]]
    #: The tool whose raw output ``cnibench parse TOOL FILE`` reads as one of this scenario's samples (one scenario
    #: per tool; None: none), and the sample fields such a file cannot tell (the run's settings), left out of
    #: ``parse``'s answer.
    parse_tool: ClassVar[str | None] = None
    parse_unknown: ClassVar[tuple[str, ...]] = ()
    #: True when the raw artifact is binary (a pcap): :meth:`make_sample` hands its bytes to
    #: :meth:`sample_from_bytes` instead of its text to :meth:`sample_from`.
    binary_artifact: ClassVar[bool] = False
    #: One line for the spec's JSON Schema and ``--help``.
    description: ClassVar[str]
    tools: ClassVar[tuple[ToolNeed, ...]] = ()
    metrics: ClassVar[tuple[MetricInfo, ...]] = ()
    #: Trials measured against another trial of the same CNI, repetition by repetition (the egress policy against
    #: its baseline, run back to back): ``{trial: its baseline trial}``. Reports give the primary metrics' ratio
    #: of the pairs.
    baselines: ClassVar[Mapping[str, str]] = {}
    #: The cluster fact naming the node whose metrics the summary shows (the gateway of the scenario's traffic), and
    #: whether its transmit rate is the measured traffic's (the summary shows it then).
    gateway_fact: ClassVar[str | None] = None
    gateway_carries_measurement: ClassVar[bool] = False

    #: Whether a spec can run it (a section of the spec, an ``--only`` choice); ingested trials cannot
    #: (:mod:`cnibench.scenarios.ingested`).
    runnable: ClassVar[bool] = True

    #: The metrics of its fixed-load trials (``<trial>@<rate>``), when it has a load mode: latency and CPU per unit
    #: of work lead there, since the throughput is the offered one.
    rate_metrics: ClassVar[tuple[MetricInfo, ...] | None] = None
    #: The metrics some of its trials have instead (its :meth:`metrics_of` says which: east-west's rr and crr),
    #: each name with one meaning across every scenario.
    trial_metrics: ClassVar[tuple[MetricInfo, ...]] = ()

    def sample_model_of(self, trial: str) -> type[SampleBase]:
        """The sample model of one of its trials (:attr:`sample_model`; a scenario whose trials differ in kind, such
        as network-policy's cost and latency trials, has one per kind)."""
        return self.sample_model

    def expectation_model_of(self, trial: str) -> type[Expectation]:
        """The expectation model of one of its trials (:attr:`expectation_model` unless its trials differ in kind)."""
        return self.expectation_model

    def owns(self, trial: str) -> bool:
        """Whether ``trial`` (``egress-baseline``, ``egress@500M``) is one of this scenario's."""
        return base_trial(trial) in self.trials

    def metrics_of(self, trial: str) -> tuple[MetricInfo, ...]:
        """The metrics statistics, reports and ``compare`` look at for one of its trials."""
        if load_suffix(trial) and self.rate_metrics is not None:
            return self.rate_metrics
        return self.metrics

    def baseline_of(self, trial: str) -> str | None:
        """The trial ``trial`` is paired with (its baseline at the same load), or None."""
        baseline = self.baselines.get(base_trial(trial))
        return baseline + load_suffix(trial) if baseline else None

    def ordered(self, trials: Sequence[str]) -> list[str]:
        """Its trials among ``trials``, loads in the order given, each load's trials in :attr:`trials`' order."""
        suffixes = list(dict.fromkeys(load_suffix(t) for t in trials if self.owns(t)))
        present = set(trials)
        return [base + suffix for suffix in suffixes for base in self.trials if base + suffix in present]

    def settings_of(self, spec: Spec) -> S | None:
        """This scenario's section of ``spec`` (None when the spec does not run it)."""
        settings = spec.scenarios.get(self.name)
        return settings  # type: ignore[return-value]

    def check(self, settings: S, spec: Spec) -> None:
        """Checks across fields that hold on every platform; raises :class:`~cnibench.spec.base.FieldError`."""

    def local_checks(self, settings: S | None) -> list[Check]:
        """The tools it runs on this machine (netns: all of them), for ``doctor`` and ``run``; ``settings`` None:
        the defaults."""
        from cnibench.doctor import check_tool

        return [check_tool(tool.command, tool.hint, what=tool.label) for tool in self.tools]

    @abstractmethod
    def trials_for(self, settings: S, cni: str) -> list[Trial]:
        """The trials of one CNI in one round, in run order (``repetitions``: per round)."""

    #: Its trials run alternately, repetition by repetition, so that repetition k of each ran back to back and the
    #: two pair up (a trial and its baseline); otherwise one trial after the other.
    paired: ClassVar[bool] = False

    def sequence(self, numbers: Mapping[str, range], *, pair: bool = True) -> list[tuple[str, int]]:
        """The order of its repetitions on one cluster: ``numbers`` maps each trial to its repetition numbers;
        returns (trial, number) pairs in run order. A paired scenario alternates its trials when the platform can
        (``pair``), else runs them trial by trial."""
        trials = self.ordered(list(numbers))
        if not (self.paired and pair):
            return [(t, n) for t in trials for n in numbers[t]]
        out: list[tuple[str, int]] = []
        for suffix in dict.fromkeys(load_suffix(t) for t in trials):  # a load's trials pair with each other
            group = [t for t in trials if load_suffix(t) == suffix]
            longest = max(len(numbers[t]) for t in group)
            out += [(t, numbers[t][i]) for i in range(longest) for t in group if i < len(numbers[t])]
        return out

    def make_sample(
        self,
        repetition: Repetition,
        *,
        run_dir: Path,
        started_at: float | None,
        ended_at: float | None,
        failure: str | None = None,
    ) -> SampleBase:
        """The sample of one repetition from its raw artifact; any problem makes it ``failed`` with the reason,
        ``failure`` (what went wrong running the tool) among them. An artifact the tool's parser cannot read
        (:class:`~cnibench.errors.MeasurementError`) gives a failed sample with the run's fields only; when the tool
        failed and left nothing, ``failure`` is the reason."""
        from cnibench.errors import MeasurementError

        model = self.expectation_model_of(repetition.scenario)
        if not isinstance(repetition.expect, model):  # a programming error: another scenario's
            raise TypeError(f"{self.name}: expected {model.__name__}, got {type(repetition.expect).__name__}")
        expect = cast("E", repetition.expect)
        artifact, data = repetition.read_artifact_bytes(run_dir)
        fields: dict[str, Any] = {
            **repetition.common(started_at=started_at, ended_at=ended_at),
            "artifact": artifact,
            **self.expected_fields(expect),
        }
        try:
            if self.binary_artifact:
                return self.sample_from_bytes(data, expect, fields, failure)
            text = data.decode("utf-8", errors="replace")
            return self.sample_from(text, expect, fields, failure)
        except MeasurementError as exc:
            error = failure if failure and not data.strip() else str(exc)
            return self.sample_model_of(repetition.scenario)(**fields, status="failed", error=error)

    @abstractmethod
    def expected_fields(self, expect: E) -> dict[str, Any]:
        """The sample fields that come from what the repetition expected (its ``expect``), parsed or not."""

    @abstractmethod
    def sample_from(self, text: str, expect: E, fields: dict[str, Any], failure: str | None) -> SampleBase:
        """The sample from the artifact's ``text`` and the repetition's ``fields`` (run and expected fields).
        Raises :class:`~cnibench.errors.MeasurementError` when the tool's output cannot be read."""

    def sample_from_bytes(self, data: bytes, expect: E, fields: dict[str, Any], failure: str | None) -> SampleBase:
        """The sample from a binary artifact's bytes (a scenario with :attr:`binary_artifact`, such as a pcap),
        as :meth:`sample_from` from text. Raises :class:`~cnibench.errors.MeasurementError` when the bytes cannot be
        read, and NotImplementedError in a scenario whose artifact is text."""
        raise NotImplementedError(f"{self.name}: its raw artifact is text")

    def settings_text(self, section: Mapping[str, Any], *, rounds: int | None = None) -> str:
        """A run's recorded settings of this scenario (its ``spec["scenarios"][name]``) in a few words, as ``plan``
        shows them, with the repetitions (per round, when the run had ``rounds`` > 1); the recorded values
        themselves when they no longer validate."""
        from pydantic import ValidationError

        try:
            settings = self.settings_model.model_validate(dict(section))
        except ValidationError:
            return ", ".join(f"{key} {value}" for key, value in section.items())
        trials = self.trials_for(settings, "")  # type: ignore[arg-type]
        if not trials:
            return ""
        per_round = " per round" if rounds is not None and rounds > 1 else ""
        own = getattr(settings, "settings_text", None)  # a load mode's: every offered rate (scenarios.load)
        text = own(trials[0].settings) if callable(own) else trials[0].settings
        return f"{text}, {settings.repetitions} repetition(s){per_round}"

    def summary_lines(self, samples: Sequence[SampleBase], warnings: list[str]) -> list[str]:
        """This scenario's lines of the terminal summary (its table) from a run's ``samples`` (every scenario's);
        adds what it warns about to ``warnings``."""
        return []

    def with_cost(self, sample: SampleBase, metrics_dir: Path) -> SampleBase:
        """``sample`` with its CPU cost per unit of work, from the CPU counters saved in ``metrics_dir`` (a fixed
        load's: :mod:`cnibench.scenarios.load`); unchanged for a scenario without a load mode."""
        return sample

    def report_plots(self, groups: Sequence[Group]) -> list[Plot]:
        """Plots of its own for the report (``groups``: every run x CNI x trial), besides those every report has."""
        return []

    def artifact_dir(self, run_dir: Path, cni: str, trial: str) -> Path:
        return run_dir / "raw" / cni / trial

    @abstractmethod
    def recorded_expectation(self, sample: SampleBase, settings: dict[str, Any], artifact: Path) -> E:
        """What ``reanalyze`` judges a recorded sample against again: the expectation it was checked against, from
        the sample, the run's recorded settings of this scenario (``settings``) and its raw ``artifact``."""

    def parse_trial(self, path: Path) -> str | None:
        """The trial ``cnibench parse`` reads the file ``path`` as, or None when the file is another scenario's (one
        tool, such as ``pcap``, may serve several scenarios: the first that claims the file reads it). Default: its
        own name as a trial, else its first trial."""
        return self.name if self.owns(self.name) else self.trials[0]

    def parse_expectation(self, path: Path, options: ParseOptions) -> E:
        """What ``cnibench parse`` checks the file ``path`` against, from ``options``; raises
        :class:`~cnibench.errors.SpecError` (exit 2) for options the file contradicts. Only for a scenario with a
        :attr:`parse_tool`."""
        raise NotImplementedError(f"{self.name} reads no tool's output for `cnibench parse`")


def trial_names(scenarios: Sequence[Scenario[Any, Any]]) -> tuple[str, ...]:
    return tuple(trial for scenario in scenarios for trial in scenario.trials)
