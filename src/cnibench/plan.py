"""Spec -> plan: the experiment's design (rounds of every CNI on a fresh cluster, in alternating order; each
scenario's repetitions in its own order within a cluster), what it can show, and an estimate of its time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from cnibench.errors import SpecError
from cnibench.estimate import Estimate, Priors
from cnibench.results.stats import min_p_value
from cnibench.scenarios import SCENARIOS, scenario_of
from cnibench.scenarios.base import Trial

if TYPE_CHECKING:
    from cnibench.spec import Spec

#: cnibench's own work around the playbook: checks and rendering before, results and report after (s).
OWN_OVERHEAD_S = 2.0
#: Measured orchestration cost around one repetition on any platform (an Ansible task plus parsing), s.
OVERHEAD_PER_REPETITION_S = 0.6
#: Waiting for the scrape after a repetition and querying its window, s.
METRICS_PER_REPETITION_S = 0.7
#: The significance level the plan's warnings and the verdicts use.
ALPHA = 0.05


def repetition_overhead_s(spec: Spec) -> float:
    """What every platform spends around a repetition besides its own costs (s)."""
    return OVERHEAD_PER_REPETITION_S + (METRICS_PER_REPETITION_S if spec.metrics.enabled else 0.0)


@dataclass(frozen=True)
class Slot:
    """One repetition of the plan, in run order (what the time estimate needs of it)."""

    cni: str
    scenario: str
    repetition: int
    round: int
    expected_seconds: float
    loop: str  # the playbook loop it runs in (its scenario's where the platform pairs trials, else its trial's)


@dataclass(frozen=True)
class Block:
    """One CNI's cluster in one round: the repetition numbers of each of its trials in this round (numbers run on
    from round to round: with 3 per round, round 2 runs 4..6) and the order they run in."""

    round: int
    cni: str
    numbers: Mapping[str, range]  # trial -> repetition numbers in this round
    order: tuple[tuple[str, int], ...]  # (trial, repetition number), in run order

    @property
    def label(self) -> str:
        return f"round {self.round}: {self.cni}"


@dataclass(frozen=True)
class Plan:
    """``trials``: every (CNI, trial) with its repetitions over all rounds, in the order of the first round;
    ``blocks``: the clusters in run order."""

    spec: Spec
    trials: tuple[Trial, ...]
    blocks: tuple[Block, ...]

    @property
    def rounds(self) -> int:
        return max((b.round for b in self.blocks), default=0)

    @property
    def repetitions(self) -> int:
        return sum(t.repetitions for t in self.trials)

    @property
    def priors(self) -> Priors:
        """What a run's time estimate assumes until the run has measured it (seconds): the platform's costs."""
        return self.spec.platform_class.priors(self.spec)

    def slots(self) -> list[Slot]:
        """Every repetition in run order."""
        seconds = {(t.cni, t.scenario): t.seconds_each for t in self.trials}
        pairs = self.spec.platform_class.pairs_trials
        slots = []
        for block in self.blocks:
            for trial, number in block.order:
                loop = scenario_of(trial).name if pairs else trial
                slots.append(Slot(block.cni, trial, number, block.round, seconds[(block.cni, trial)], loop))
        return slots

    @property
    def estimated_seconds(self) -> float:
        """The whole run, from the same model a running run re-bases on what it measures (:mod:`estimate`)."""
        return Estimate(self.slots(), self.priors, 0.0).seconds_left(0.0) + OWN_OVERHEAD_S

    def smallest_p(self) -> dict[str, float]:
        """Per trial: the smallest two-sided p an exact Mann-Whitney U test of two CNIs can reach with the planned
        repetitions per arm (all successful); above :data:`ALPHA` no difference can be called significant."""
        per_trial: dict[str, int] = {}
        for trial in self.trials:
            per_trial[trial.scenario] = min(per_trial.get(trial.scenario, trial.repetitions), trial.repetitions)
        return {trial: min_p_value(n, n) for trial, n in per_trial.items()}

    def warnings(self) -> list[str]:
        """What the design cannot show, said before anything runs (one line per number of repetitions)."""
        if len(self.spec.cnis) < 2:
            return []
        per_round = {t.scenario: t.repetitions for t in self.trials}
        weak: dict[int, list[str]] = {}
        for trial, p in self.smallest_p().items():
            if p > ALPHA:
                weak.setdefault(per_round[trial], []).append(trial)
        return [
            f"{', '.join(trials)}: {n} repetition(s) per CNI cannot show a significant difference (the smallest "
            f"two-sided p of an exact Mann-Whitney U test of {n} vs {n} is {min_p_value(n, n):.3f} > {ALPHA}); "
            "plan at least 4 per CNI, 5 or more to leave room for a failed one (--repeat, --rounds)"
            for n, trials in sorted(weak.items())
        ]


def make_plan(spec: Spec, only: list[str] | None = None) -> Plan:
    """The design of a run: ``spec.rounds`` rounds (the platform's default when the spec has none); round r runs
    every CNI once, the CNI order reversed every other round (ABBA: drift over the run lands on every CNI alike);
    within a cluster each scenario's repetitions in the scenario's order (a paired scenario alternates its trials).
    ``only`` keeps some scenarios (``egress`` covers its baseline). Raises :class:`SpecError` for a scenario the
    spec does not have."""
    enabled = spec.scenarios.enabled()
    for name in only or []:
        if name not in enabled:
            raise SpecError(f"--only: scenario {name!r} is not in the spec (it has: {', '.join(enabled)})")
    rounds = spec.rounds or spec.platform_class.default_rounds
    per_round: dict[str, list[Trial]] = {}
    for cni in spec.cnis:
        for scenario in SCENARIOS.values():
            settings = spec.scenarios.get(scenario.name)
            if settings is not None and (not only or scenario.name in only):
                per_round.setdefault(cni, []).extend(scenario.trials_for(settings, cni))
    trials = tuple(replace(t, repetitions=t.repetitions * rounds) for ts in per_round.values() for t in ts)
    blocks = []
    for number in range(1, rounds + 1):
        order = spec.cnis if number % 2 else list(reversed(spec.cnis))
        for cni in (c for c in order if c in per_round):
            numbers = {
                t.scenario: range((number - 1) * t.repetitions + 1, number * t.repetitions + 1) for t in per_round[cni]
            }
            blocks.append(Block(number, cni, numbers, _order(numbers, pair=spec.platform_class.pairs_trials)))
    return Plan(spec=spec, trials=trials, blocks=tuple(blocks))


def _order(numbers: Mapping[str, range], *, pair: bool) -> tuple[tuple[str, int], ...]:
    """Each scenario's repetitions in its own order (scenarios in registry order; ``pair``: the platform alternates
    a paired scenario's trials)."""
    by_scenario: dict[str, dict[str, range]] = {}
    for trial, numbers_of in numbers.items():
        by_scenario.setdefault(scenario_of(trial).name, {})[trial] = numbers_of
    return tuple(item for name, group in by_scenario.items() for item in SCENARIOS.get(name).sequence(group, pair=pair))


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"
