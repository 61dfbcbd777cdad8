"""Spec -> plan: the experiment's design (rounds of every CNI on a fresh cluster, in alternating order; each
scenario's repetitions in its own order within a cluster), what it can show, and an estimate of its time."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from cnibench.errors import SpecError
from cnibench.estimate import Estimate, Priors
from cnibench.results.analysis import percent
from cnibench.results.inference import POWER, Power, cluster_means, cluster_sd_prior, power
from cnibench.scenarios import SCENARIOS, scenario_of
from cnibench.scenarios.base import Trial

if TYPE_CHECKING:
    from cnibench.results.model import RunResults
    from cnibench.spec.model import Spec

#: cnibench's own work around the playbook: checks and rendering before, results and report after (s).
OWN_OVERHEAD_S = 2.0
#: Measured orchestration cost around one repetition on any platform (an Ansible task plus parsing), s.
OVERHEAD_PER_REPETITION_S = 0.6
#: Waiting for the scrape after a repetition and querying its window, s.
METRICS_PER_REPETITION_S = 0.7


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

    def primary_metrics(self) -> list[tuple[str, str]]:
        """The ``(trial, metric)`` pairs the headline judges (the primary contest metrics of the planned trials)."""
        from cnibench.scenarios import metrics_for

        trials = list(dict.fromkeys(t.scenario for t in self.trials))
        return [(t, m.name) for t in trials for m in metrics_for(t) if m.primary and m.role == "contest"]

    def power(self, history: Sequence[RunResults] = ()) -> dict[tuple[str, str], Power]:
        """Per primary ``(trial, metric)``: what the design can show (:func:`cnibench.results.inference.power`),
        from the spread of cluster values in ``history`` (earlier runs of the same spec) where they have at least
        3 clusters of it, else from the netns priors. Empty with fewer than two CNIs."""
        if len(self.spec.cni_names) < 2:
            return {}
        rounds = self.rounds
        per_round = {t.scenario: t.repetitions // max(1, rounds) for t in self.trials}
        chosen = self.primary_metrics()
        family = len(chosen) * (len(self.spec.cni_names) - 1)
        margin = self.spec.margin
        out = {}
        for trial, metric in chosen:
            measured = history_sd(history, trial, metric)
            if measured is not None:
                sd, source = measured
            else:
                sd, source = cluster_sd_prior(metric, per_round.get(trial, 1)), "netns priors"
            out[(trial, metric)] = power(rounds, family, sd, source, margin)
        return out

    def warnings(self, history: Sequence[RunResults] = ()) -> list[str]:
        """What is wrong before anything runs: the CNIs' configurations the platform knows to be bad (a pod MTU
        above what the underlay carries after encapsulation), then the design's: one cluster per CNI (nothing
        testable), the metrics whose minimum detectable effect is above 10 % or that cannot come out equivalent."""
        return self.spec.platform_class.configuration_warnings(self.spec) + self._design_warnings(history)

    def _design_warnings(self, history: Sequence[RunResults]) -> list[str]:
        if len(self.spec.cni_names) < 2:
            return []
        if self.rounds < 2:
            return [
                f"{self.rounds} round: one cluster per CNI, no variance between clusters: every comparison will be "
                "inconclusive (the cluster is the unit). Run at least 3 rounds (--rounds), or judge runs against "
                "the store's history (compare RUN --history N)"
            ]
        weak = {key: p.mde for key, p in self.power(history).items() if p.mde is None or p.mde > PLANNED_EFFECT}
        if not weak:
            return []
        head = f"{self.rounds} clusters per CNI cannot show a {percent(PLANNED_EFFECT, 0)} difference with " \
               f"{percent(POWER, 0)} power"  # fmt: skip
        if len(weak) <= WARN_LISTED:
            listed = [f"{t} {m}: detects about {percent(e, 0)} or more" if e is not None else f"{t} {m}"
                      for (t, m), e in weak.items()]  # fmt: skip
            return [f"{head} ({'; '.join(listed)}); more rounds (--rounds) shrink that"]
        # many trials (a matrix, a cost curve): one line a terminal can hold, its range and the worst metric
        known = {key: e for key, e in weak.items() if e is not None}
        if known:
            (trial, metric), worst = max(known.items(), key=lambda item: item[1])
            spread = f"detecting about {percent(min(known.values()), 0)} to {percent(worst, 0)} or more; the " \
                     f"least sensitive: {trial} {metric}"  # fmt: skip
        else:
            spread = "none can be estimated"
        return [f"{head} in {len(weak)} trial metrics ({spread}); more rounds (--rounds) shrink that"]


#: The effect the plan warns about not being able to detect (a fraction).
PLANNED_EFFECT = 0.10
#: Up to this many weak metrics the warning names each; beyond, it gives their count and range.
WARN_LISTED = 4


def history_sd(history: Sequence[RunResults], trial: str, metric: str) -> tuple[float, str] | None:
    """The pooled standard deviation of cluster values (log scale) of ``trial`` and ``metric`` over ``history``:
    each run x CNI's clusters about their own mean, pooled over all of them; None with fewer than 3 degrees of
    freedom."""
    from cnibench.results.analysis import groups
    from cnibench.results.group import by_round
    from cnibench.scenarios import metric_named

    info = metric_named(metric)
    squares, df = 0.0, 0
    for group in groups(list(history)):
        if group.scenario != trial:
            continue
        values = by_round(group, info)
        flat = [v for vs in values.values() for v in vs]
        if len(values) < 2 or not flat or min(flat) <= 0:
            continue
        means = list(cluster_means(values, "log").values())
        centre = statistics.fmean(means)
        squares += sum((m - centre) ** 2 for m in means)
        df += len(means) - 1
    if df < 3:
        return None
    runs = len({g.run_id for g in groups(list(history))})
    return math.sqrt(squares / df), f"{runs} earlier run(s)"


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
    for cni in spec.cni_names:
        for scenario in SCENARIOS.values():
            settings = spec.scenarios.get(scenario.name)
            if settings is not None and (not only or scenario.name in only):
                per_round.setdefault(cni, []).extend(scenario.trials_for(settings, cni))
    trials = tuple(replace(t, repetitions=t.repetitions * rounds) for ts in per_round.values() for t in ts)
    blocks = []
    for number in range(1, rounds + 1):
        order = spec.cni_names if number % 2 else list(reversed(spec.cni_names))
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
