"""A policy's cost: a trial with a baseline (the egress policy against its baseline, run back to back on the same
cluster) over that baseline, per cluster, and that cost between CNIs. One family of comparisons (Bonferroni), apart
from the primary metrics' and the other metrics' (:mod:`cnibench.results.verdicts`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cnibench.results.analysis import percent
from cnibench.results.group import Group, by_round
from cnibench.results.inference import Estimate, Judgement, cluster_means, estimate, judge, one_sample
from cnibench.results.metric import MetricInfo
from cnibench.results.wording import detectable, ratio_text
from cnibench.scenarios import metrics_for, scenario_of, trials_in


@dataclass(frozen=True)
class PairedVerdict:
    """A trial over its baseline for one CNI and metric, per cluster: each cluster's ratio of its trial's and its
    baseline's cluster values (run back to back on the same cluster), judged against no change
    (``judgement``: its estimate is the mean of the clusters' log ratios)."""

    run_id: str
    cni: str
    scenario: str
    baseline: str
    metric: MetricInfo
    cluster_ratios: tuple[float, ...]
    judgement: Judgement

    def describe(self) -> str:
        """``hostgw 0.995 (95 % CI 0.943 to 1.050; 6 clusters): equivalent within ±5 %`` or ``vxlan 0.850 (...):
        different, 15.0 % slower with egress than egress-baseline``."""
        j, m = self.judgement, self.metric
        ratio = j.ratio
        if ratio is None:
            return f"{self.cni}: {j.why or 'no ratio'}"
        inside = []
        if j.ci is not None:
            inside.append(f"{percent(j.ci_level, 0)} CI {ratio_text(j.ci[0])} to {ratio_text(j.ci[1])}")
        inside.append(f"{len(self.cluster_ratios)} cluster{'s' if len(self.cluster_ratios) != 1 else ''}")
        text = f"{self.cni} {ratio_text(ratio)} ({'; '.join(inside)})"
        if j.outcome == "different":
            word = m.words[0] if ratio > 1 else m.words[1]
            return f"{text}: different, {percent(abs(ratio - 1))} {word} with {self.scenario} than {self.baseline}"
        if j.outcome == "equivalent":
            return f"{text}: equivalent within ±{percent(j.margin, 0)}"
        tail = f"; {detectable(j.mde)}" if j.mde is not None else f"; {j.why}"
        return f"{text}: inconclusive{tail}"


@dataclass(frozen=True)
class CostContrast:
    """Between CNIs, the difference of a trial's cost over its baseline: ``cni``'s per-round cluster ratio over the
    reference's (a ratio of ratios; rounds pair as for the metric itself)."""

    run_id: str
    scenario: str
    baseline: str
    metric: MetricInfo
    reference: str
    cni: str
    judgement: Judgement

    def describe(self) -> str:
        """``vxlan's egress cost vs hostgw's: 0.902 (95 % CI ...): inconclusive; ...``."""
        j = self.judgement
        ratio = j.ratio
        if ratio is None:
            return f"{self.cni}'s {self.scenario} cost vs {self.reference}'s: {j.why}"
        ci = f" ({percent(j.ci_level, 0)} CI {ratio_text(j.ci[0])} to {ratio_text(j.ci[1])})" if j.ci else ""
        text = f"{self.cni}'s {self.scenario} cost vs {self.reference}'s: {ratio_text(ratio)}{ci}"
        if j.outcome == "inconclusive" and j.mde is not None:
            return f"{text}: inconclusive; {detectable(j.mde)}"
        return f"{text}: {j.outcome}" + (f" within ±{percent(j.margin, 0)}" if j.outcome == "equivalent" else "")


def _cluster_log_ratios(measured: Group, base: Group, metric: MetricInfo) -> dict[int, float]:
    """Per round (cluster) the log of the trial's geometric mean over its baseline's (both positive), from the
    successful repetitions; rounds missing either side are left out."""
    mine, theirs = by_round(measured, metric), by_round(base, metric)
    out = {}
    for rnd in sorted(set(mine) & set(theirs)):
        a, b = mine[rnd], theirs[rnd]
        if a and b and min(a + b) > 0:
            out[rnd] = cluster_means({0: a}, "log")[0] - cluster_means({0: b}, "log")[0]
    return out


def policy_costs(
    run_groups: Sequence[Group], run_id: str, reference: str | None, margin: float
) -> tuple[list[PairedVerdict], list[CostContrast]]:
    """Per CNI, each trial with a baseline over that baseline (primary metrics), per cluster; between CNIs, each
    CNI's cost against the reference's, paired by round. One family (Bonferroni) for all of them."""
    by_key = {(g.cni, g.scenario): g for g in run_groups}
    cnis = list(dict.fromkeys(g.cni for g in run_groups))
    items: list[tuple[str, Any]] = []
    estimates: list[Estimate] = []
    for trial in trials_in(g.scenario for g in run_groups):
        baseline = scenario_of(trial).baseline_of(trial)
        if baseline is None:
            continue
        for metric in (m for m in metrics_for(trial) if m.primary):
            costs: dict[str, dict[int, float]] = {}
            for cni in cnis:
                measured, base = by_key.get((cni, trial)), by_key.get((cni, baseline))
                if measured is None or base is None:
                    continue
                logs = _cluster_log_ratios(measured, base, metric)
                if not logs:
                    continue
                costs[cni] = logs
                items.append(("ratio", (cni, trial, baseline, metric, tuple(math.exp(v) for v in logs.values()))))
                estimates.append(one_sample(list(logs.values()), "log"))
            if reference in costs:
                for cni in costs:
                    if cni != reference:
                        items.append(("contrast", (trial, baseline, metric, reference, cni)))
                        estimates.append(estimate(costs[reference], costs[cni], "log"))
    judged = judge(estimates, margin=margin)
    ratios: list[PairedVerdict] = []
    contrasts: list[CostContrast] = []
    for (kind, data), j in zip(items, judged, strict=True):
        if kind == "ratio":
            cni, trial, baseline, metric, values = data
            ratios.append(PairedVerdict(run_id, cni, trial, baseline, metric, values, j))
        else:
            trial, baseline, metric, ref, cni = data
            contrasts.append(CostContrast(run_id, trial, baseline, metric, ref, cni, j))
    return ratios, contrasts
