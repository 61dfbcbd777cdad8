"""A group of samples: one series (a CNI, or a CNI of one run) in one trial, and what every reader of it needs (a
sample field as a number, which repetition a sample is). A leaf beside the samples, so that a scenario's
``report_plots`` can take groups without importing the analysis."""

from __future__ import annotations

from dataclasses import dataclass

from cnibench.results.metric import MetricInfo
from cnibench.results.sample import SampleBase
from cnibench.results.stats import MetricStats, metric_stats


def number(value: object) -> float | None:
    """A sample field as a float; None when it is missing or not a number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def repetition_key(sample: SampleBase) -> tuple[int, int]:
    """Which repetition a sample is, within its CNI and trial: ``(round, repetition)``. Samples of results that
    record no ``round`` (schema 6 and older) are all in round 1. An egress trial and its baseline with the same key
    ran back to back in the same cluster: they pair."""
    found = getattr(sample, "round", None)
    return (found if isinstance(found, int) and not isinstance(found, bool) else 1), sample.repetition


@dataclass(frozen=True)
class Group:
    """The samples of one series (a CNI, or a CNI of one run when several runs are shown) in one trial
    (``scenario``: ``egress``, ``egress-baseline``, ``ingress``)."""

    series: str
    run_id: str
    cni: str
    scenario: str
    samples: tuple[SampleBase, ...]

    def values(self, metric: MetricInfo) -> list[float]:
        """The metric's values of the successful repetitions."""
        found = (number(getattr(s, metric.name, None)) for s in self.samples if s.status == "ok")
        return [v for v in found if v is not None]

    def stats(self, metric: MetricInfo) -> MetricStats:
        return metric_stats(self.values(metric), failed=sum(1 for s in self.samples if s.status != "ok"))

    @property
    def ok(self) -> int:
        return sum(1 for s in self.samples if s.status == "ok")


def by_round(group: Group, metric: MetricInfo) -> dict[int, list[float]]:
    """``{round: [values of the successful repetitions]}`` of one group (CNI x trial)."""
    out: dict[int, list[float]] = {}
    for sample in group.samples:
        value = number(getattr(sample, metric.name, None))
        if sample.status == "ok" and value is not None:
            out.setdefault(repetition_key(sample)[0], []).append(value)
    return out
