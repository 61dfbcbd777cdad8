"""Verdicts within one run: for each trial, primary metric and CNI against the reference, one of three outcomes
(different, equivalent within a margin, inconclusive with the minimum detectable effect), with one estimate and
one interval that every place shows; the checks every repetition must keep; a policy's cost over its baseline.

The unit is the cluster (one CNI on one fresh cluster in one round): repetitions on one cluster are summarised,
never counted as independent (:mod:`cnibench.results.inference` says how and why). Every CNI is compared with the
reference (the spec's ``reference``, default its first CNI). The comparisons of a run form three families, each
with simultaneous intervals (Bonferroni): the primary metrics (the headline), the other contest metrics, and the
policies' costs; so adding secondary metrics never dilutes the headline.

CNIs are compared only within a run (their trials ran on one machine, in one sitting); the same CNI in two runs is
``compare``'s business (:mod:`cnibench.results.compare`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cnibench.results.analysis import CheckResult, check, groups, percent
from cnibench.results.group import Group, by_round, number, repetition_key
from cnibench.results.inference import (
    ALPHA,
    DEFAULT_MARGIN,
    Estimate,
    Judgement,
    Scale,
    cluster_means,
    estimate,
    judge,
    level_of,
    scale_of,
)
from cnibench.results.metric import MetricInfo
from cnibench.results.model import RunResults
from cnibench.results.policy import CostContrast, PairedVerdict, policy_costs
from cnibench.results.stats import MetricStats
from cnibench.results.wording import (
    SYMBOLS,
    change_cell,
    ci_text,
    detectable,
    p_text,
    words_of,
)
from cnibench.scenarios import SCENARIOS, metrics_for, scenario_of, trials_in


@dataclass(frozen=True)
class Verdict:
    """One contest metric of one trial of one run: each CNI's descriptive statistics over its repetitions
    (``stats``, for tables), its value from its clusters (``levels``: the geometric mean of cluster means on the
    metric's scale), and each other CNI judged against ``reference`` (``judgements``)."""

    run_id: str
    scenario: str
    metric: MetricInfo
    stats: dict[str, MetricStats]
    reference: str | None
    levels: dict[str, float | None]
    clusters: dict[str, int]
    judgements: dict[str, Judgement]

    @property
    def label(self) -> str:
        return f"{self.scenario} {self.metric.label}"

    def better(self, cni: str) -> bool | None:
        """Whether ``cni`` is better than the reference by its estimate (None: no estimate with a direction)."""
        j = self.judgements.get(cni)
        if j is None or j.estimate.se is None or math.isnan(j.estimate.estimate):
            return None
        return not self.metric.worse(j.estimate.estimate)

    @property
    def highlighted(self) -> set[str]:
        """The CNIs a table may highlight: each one shown *different* from the reference and better; the reference
        when every other CNI is shown *different* and worse."""
        out = {c for c, j in self.judgements.items() if j.outcome == "different" and self.better(c)}
        if (
            self.judgements
            and self.reference
            and all(j.outcome == "different" and self.better(c) is False for c, j in self.judgements.items())
        ):
            out.add(self.reference)
        return out

    def sentence(self, cni: str) -> str:
        """The comparison of ``cni`` with the reference, outcome first: ``different: vxlan is 17.0 % slower than
        hostgw (95 % CI 9.0 to 24.0 % slower; p = 0.003 adjusted over 4 tests; 6 vs 6 clusters, paired by
        round)``; ``equivalent within ±5 %: ...``; ``inconclusive: ...; this design detects differences of about
        14 % or more``."""
        j, m = self.judgements[cni], self.metric
        e = j.estimate
        unit = f" {m.unit}" if m.unit else ""
        counts = f"{e.clusters_other} vs {e.clusters_reference} clusters"
        if not e.testable:
            ref, mine = self.levels.get(self.reference or ""), self.levels.get(cni)
            return (
                f"inconclusive: {cni} {m.show(mine)} vs {self.reference} {m.show(ref)}{unit} ({j.why})"
                if mine is not None and ref is not None
                else f"inconclusive: {cni} vs {self.reference}: {j.why}"
            )
        change = j.change
        if change is not None:
            what = f"{cni} is {words_of(m, change)} {self.reference}"
        else:
            amount = e.estimate
            word = m.words[0] if amount > 0 else m.words[1]
            what = f"{cni} is {m.show(abs(amount))}{unit} {word} than {self.reference}"
        inside = [ci_text(m, j, unit), p_text(j), f"{counts}, {e.design}"]
        figures = "; ".join(part for part in inside if part)
        if j.outcome == "different":
            return f"different: {what} ({figures})"
        if j.outcome == "equivalent":
            return f"equivalent within ±{percent(j.margin, 0)}: {what} ({figures})"
        tail = f"; this design {detectable(j.mde)}" if j.mde is not None else ""
        return f"inconclusive: {what} ({figures}){tail}"

    def headline(self) -> list[str]:
        """The headline's lines: one per CNI compared with the reference (``egress throughput: different: ...``);
        one describing the only CNI when there is nothing to compare."""
        if not self.judgements:
            present = [(c, v) for c, v in self.levels.items() if v is not None]
            if not present:
                return [f"{self.label}: no successful repetition"]
            unit = f" {self.metric.unit}" if self.metric.unit else ""
            return [
                f"{self.label}: "
                + "; ".join(f"{c} {self.metric.show(v)}{unit} ({self.clusters[c]} clusters)" for c, v in present)
            ]
        return [f"{self.label}: {self.sentence(cni)}" for cni in self.judgements]

    def note(self, cni: str) -> str:
        """A table's short cell for ``cni`` against the reference: ``≠ -17.0 % [-24.0, -9.0]``."""
        j = self.judgements.get(cni)
        if j is None:
            return ""
        return f"{SYMBOLS[j.outcome]} {change_cell(j)}"


@dataclass(frozen=True)
class CheckVerdict:
    """One check of one trial of one run, per CNI."""

    run_id: str
    scenario: str
    metric: MetricInfo
    results: dict[str, CheckResult]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results.values())

    def line(self) -> str:
        """``ingress failed requests: hostgw pass (worst 0.00 %, limit 0.00 %), vxlan FAIL in 2 of 3 (...)``."""
        return f"{self.scenario} {self.metric.label}: " + ", ".join(
            f"{cni} {result.describe()}" for cni, result in self.results.items()
        )


@dataclass(frozen=True)
class RunAnalysis:
    """Everything judged within one run."""

    run: RunResults
    reference: str | None
    margin: float
    verdicts: list[Verdict]
    checks: list[CheckVerdict]
    ratios: list[PairedVerdict]
    contrasts: list[CostContrast]

    def headline(self) -> list[str]:
        """The headline: each primary metric's comparisons, the policies' costs, the checks that failed."""
        lines = [line for v in self.verdicts if v.metric.primary for line in v.headline()]
        by_metric: dict[tuple[str, str, str], list[PairedVerdict]] = {}
        for ratio in self.ratios:
            by_metric.setdefault((ratio.scenario, ratio.baseline, ratio.metric.label), []).append(ratio)
        for (trial, baseline, label), ratios in by_metric.items():
            contrasts = [
                c.describe()
                for c in self.contrasts
                if (c.scenario, c.baseline, c.metric.label) == (trial, baseline, label)
            ]
            lines.append(
                f"{trial} / {baseline} {label}, per cluster: " + "; ".join([r.describe() for r in ratios] + contrasts)
            )
        lines += [f"check failed: {c.line()}" for c in self.checks if not c.passed]
        return lines

    def objects(self) -> list[dict[str, Any]]:
        """The verdicts for machines (``summary --json``, ``compare --json``): one object per scenario, trial,
        contest metric and CNI compared with the reference (see :func:`verdict_object`)."""
        out = []
        for v in self.verdicts:
            for cni, j in v.judgements.items():
                out.append(verdict_object(v, cni, j))
        return out


def verdict_object(v: Verdict, cni: str, j: Judgement) -> dict[str, Any]:
    """One comparison as JSON: ``scenario``, ``trial``, ``metric``, ``primary``, ``reference``, ``cni``,
    ``outcome``, ``ratio`` (cni over reference on the metric's scale), ``ci`` ([low, high] ratios), ``ci_level``
    (simultaneous over ``family``), ``ci_level_each``, ``p_adjusted`` (Bonferroni), ``margin``, ``mde`` (a
    fraction), ``clusters`` ({cni: n}), ``design``, ``values`` ({cni: the cluster-based value, in the metric's
    field unit})."""
    e = j.estimate
    return {
        "scenario": scenario_of(v.scenario).name,
        "trial": v.scenario,
        "metric": v.metric.name,
        "primary": v.metric.primary,
        "reference": v.reference,
        "cni": cni,
        "outcome": j.outcome,
        "ratio": j.ratio,
        "ci": list(j.ci) if j.ci else None,
        "ci_level": j.ci_level,
        "ci_level_each": j.level_each,
        "family": j.family,
        "p_adjusted": j.p_adjusted,
        "margin": j.margin,
        "mde": j.mde,
        "clusters": {v.reference: e.clusters_reference, cni: e.clusters_other},
        "design": e.design,
        "values": {v.reference: v.levels.get(v.reference or ""), cni: v.levels.get(cni)},
        "why": j.why or None,
    }


def reference_of(run: RunResults, present: Sequence[str]) -> str | None:
    """The CNI every other is compared with: the spec's ``reference`` when it has samples, else the first CNI of
    the spec's list that has, else the first present."""
    wanted = run.spec.get("reference")
    order = [wanted] if isinstance(wanted, str) else []
    order += [c for c in run.spec.get("cnis") or [] if isinstance(c, str)]
    return next((c for c in order if c in present), present[0] if present else None)


def margin_of(run: RunResults) -> float:
    """The equivalence margin of the run's spec (a fraction), else :data:`DEFAULT_MARGIN`."""
    margin = number(run.spec.get("margin"))
    return margin if margin is not None and margin > 0 else DEFAULT_MARGIN


@dataclass(frozen=True)
class _Pending:
    trial: str
    metric: MetricInfo
    stats: dict[str, MetricStats]
    reference: str | None
    levels: dict[str, float | None]
    clusters: dict[str, int]
    estimates: dict[str, Estimate]


def _pending(trial: str, metric: MetricInfo, in_trial: list[Group], reference: str | None) -> _Pending:
    stats = {g.cni: g.stats(metric) for g in in_trial}
    rounds = {g.cni: by_round(g, metric) for g in in_trial}
    scale: Scale = scale_of([v for r in rounds.values() for vs in r.values() for v in vs])
    means = {cni: cluster_means(r, scale) for cni, r in rounds.items()}
    levels = {cni: level_of(m, scale) for cni, m in means.items()}
    clusters = {cni: len(m) for cni, m in means.items()}
    estimates = {}
    if reference in means:
        for cni in means:
            if cni != reference:
                estimates[cni] = estimate(means[reference], means[cni], scale)
    return _Pending(trial, metric, stats, reference, levels, clusters, estimates)


def _judged(run_id: str, pending: list[_Pending], margin: float) -> list[Verdict]:
    flat = [(i, cni, e) for i, p in enumerate(pending) for cni, e in p.estimates.items()]
    judged = judge([e for _, _, e in flat], margin=margin)
    by_item: dict[int, dict[str, Judgement]] = {}
    for (i, cni, _), j in zip(flat, judged, strict=True):
        by_item.setdefault(i, {})[cni] = j
    return [
        Verdict(run_id, p.trial, p.metric, p.stats, p.reference, p.levels, p.clusters, by_item.get(i, {}))
        for i, p in enumerate(pending)
    ]


def analyse(run: RunResults) -> RunAnalysis:
    """Verdicts, checks and the policies' costs of one run (see the module)."""
    run_groups = groups([run])
    present = list(dict.fromkeys(g.cni for g in run_groups))
    reference = reference_of(run, present)
    margin = margin_of(run)
    contests: list[_Pending] = []
    checks: list[CheckVerdict] = []
    for trial in trials_in(g.scenario for g in run_groups):
        in_trial = [g for g in run_groups if g.scenario == trial]
        for metric in metrics_for(trial):
            if metric.role == "check":
                results = {g.cni: r for g in in_trial if (r := check(g, metric)) is not None}
                if results:
                    checks.append(CheckVerdict(run.run_id, trial, metric, results))
            elif any(g.values(metric) for g in in_trial) or (
                # a primary metric is stated even when every repetition failed ("no successful repetition"); one
                # that no successful repetition has (UDP's RTT, a cost without metrics) is not this trial's figure
                metric.primary and in_trial and not any(g.ok for g in in_trial)
            ):
                contests.append(_pending(trial, metric, in_trial, reference))
    primary = _judged(run.run_id, [p for p in contests if p.metric.primary], margin)
    others = _judged(run.run_id, [p for p in contests if not p.metric.primary], margin)
    ordered = {(v.scenario, v.metric.name): v for v in primary + others}
    verdicts = [ordered[(p.trial, p.metric.name)] for p in contests]
    ratios, contrasts = policy_costs(run_groups, run.run_id, reference, margin)
    return RunAnalysis(run, reference, margin, verdicts, checks, ratios, contrasts)


__all__ = ["ALPHA", "SYMBOLS", "CheckResult", "RunAnalysis", "Verdict", "analyse", "settings"]


def settings(run: RunResults) -> list[str]:
    """The settings that produced the run's numbers, one entry per scenario (``egress: tcp, 1 stream(s), 10 s +
    2 s warm-up, 3 repetitions``), and the rounds: the spec's ``rounds`` when it has one, else the most any sample
    records (shown when more than 1)."""
    rounds = run.spec.get("rounds")
    if rounds is None:
        seen = max((repetition_key(s)[0] for s in run.samples), default=1)
        rounds = seen if seen > 1 else None
    out = []
    for name, section in (run.spec.get("scenarios") or {}).items():
        if isinstance(section, dict) and name in SCENARIOS:
            out.append(f"{name}: {SCENARIOS.get(name).settings_text(section, rounds=rounds)}")
    if rounds is not None:
        out.append(f"rounds: {rounds}")
    return out
