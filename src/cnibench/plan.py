"""Spec -> plan: the matrix of trials (cni x scenario x repetition) in run order, and an estimate of its time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cnibench.errors import SpecError
from cnibench.estimate import Estimate, Priors
from cnibench.scenarios import SCENARIOS
from cnibench.scenarios.base import Trial

if TYPE_CHECKING:
    from cnibench.spec import Spec

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
class _Slot:
    cni: str
    scenario: str
    repetition: int
    expected_seconds: float


@dataclass(frozen=True)
class Plan:
    spec: Spec
    trials: tuple[Trial, ...]

    @property
    def repetitions(self) -> int:
        return sum(t.repetitions for t in self.trials)

    @property
    def priors(self) -> Priors:
        """What a run's time estimate assumes until the run has measured it (seconds): the platform's costs."""
        return self.spec.platform_class.priors(self.spec)

    @property
    def estimated_seconds(self) -> float:
        """The whole run, from the same model a running run re-bases on what it measures (:mod:`estimate`)."""
        slots = [
            _Slot(t.cni, t.scenario, rep, t.seconds_each) for t in self.trials for rep in range(1, t.repetitions + 1)
        ]
        return Estimate(slots, self.priors, 0.0).seconds_left(0.0) + OWN_OVERHEAD_S


def make_plan(spec: Spec, only: list[str] | None = None) -> Plan:
    """The trials of a run, in run order (each CNI in turn, its scenarios' trials in order); ``only`` keeps some
    scenarios (``egress`` covers its baseline). Raises :class:`SpecError` for a scenario the spec does not have."""
    enabled = spec.scenarios.enabled()
    for name in only or []:
        if name not in enabled:
            raise SpecError(f"--only: scenario {name!r} is not in the spec (it has: {', '.join(enabled)})")
    trials: list[Trial] = []
    for cni in spec.cnis:
        for scenario in SCENARIOS.values():
            settings = spec.scenarios.get(scenario.name)
            if settings is not None and (not only or scenario.name in only):
                trials += scenario.trials_for(settings, cni)
    return Plan(spec=spec, trials=tuple(trials))


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"
