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
from cnibench.results.group import Group, number, repetition_key
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
    one_sample,
    scale_of,
)
from cnibench.results.metric import MetricInfo
from cnibench.results.model import RunResults
from cnibench.results.stats import MetricStats
from cnibench.scenarios import SCENARIOS, metrics_for, scenario_of

#: A comparison's outcome as one symbol (terminal, Markdown, HTML): ``≠`` different, ``≈`` equivalent, ``?``
#: inconclusive.
SYMBOLS = {"different": "≠", "equivalent": "≈", "inconclusive": "?"}


def by_round(group: Group, metric: MetricInfo) -> dict[int, list[float]]:
    """``{round: [values of the successful repetitions]}`` of one group (CNI x trial)."""
    out: dict[int, list[float]] = {}
    for sample in group.samples:
        value = number(getattr(sample, metric.name, None))
        if sample.status == "ok" and value is not None:
            out.setdefault(repetition_key(sample)[0], []).append(value)
    return out


#: Relative changes beyond this (a fraction: 1000 %) are shown as "over 1000 %": an interval that wide says only
#: that the design cannot bound the change.
SHOWN_CHANGE = 10.0


def amount(change: float) -> str:
    """``|change|`` as a percentage, ``over 1000 %`` beyond :data:`SHOWN_CHANGE`."""
    return f"over {SHOWN_CHANGE:.0%}".replace("%", " %") if abs(change) > SHOWN_CHANGE else percent(abs(change))


def words_of(metric: MetricInfo, change: float) -> str:
    """``17.0 % slower``, ``0.2 % faster``; ``within 0.05 %`` for a change too small to have a direction."""
    if abs(change) < 0.0005:
        return "within 0.05 % of"
    return f"{amount(change)} {metric.words[0] if change > 0 else metric.words[1]} than"


def detectable(mde: float) -> str:
    """A minimum detectable effect (a fraction) in words: ``detects differences of about 14 % or more``,
    ``detects no difference below 1000 %``."""
    if abs(mde) > SHOWN_CHANGE:
        return f"detects no difference below {SHOWN_CHANGE:.0%}".replace("%", " %")
    return f"detects differences of about {percent(mde, 0)} or more"


def interval_text(metric: MetricInfo, low: float, high: float) -> str:
    """An interval of ratios as changes: ``9.0 to 24.0 % slower`` or ``3.1 % faster to 9.1 % slower``."""
    lo, hi = low - 1, high - 1
    if lo * hi > 0:
        near, far = sorted((abs(lo), abs(hi)))
        word = metric.words[0] if lo > 0 else metric.words[1]
        return f"{amount(near).removesuffix(' %')} to {amount(far)} {word}"

    def one(change: float) -> str:
        return f"{amount(change)} {metric.words[0] if change > 0 else metric.words[1]}"

    return f"{one(lo)} to {one(hi)}"


def p_text(j: Judgement) -> str:
    """``p = 0.003 adjusted over 4 tests`` (Bonferroni); ``p = 0.003`` in a family of one."""
    p = j.p_adjusted
    if p is None:
        return ""
    shown = "< 0.001" if p < 0.001 else f"= {p:.3f}"
    return f"p {shown}" + (f" adjusted over {j.family} tests" if j.family > 1 else "")


def ci_text(metric: MetricInfo, j: Judgement, unit: str = "") -> str:
    """``95 % CI 9.0 to 24.0 % slower`` (simultaneous over the family); in the metric's unit when the comparison
    has no ratio (a linear metric whose reference is not positive)."""
    level = percent(j.ci_level, 0)
    ci = j.ci
    if ci is not None:
        return f"{level} CI {interval_text(metric, *ci)}"
    if j.low is None or j.high is None:
        return ""
    return f"{level} CI {metric.show(j.low)} to {metric.show(j.high)}{unit}"


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


def change_cell(j: Judgement) -> str:
    """A comparison in a cell: ``-17.0 % [-24.0, -9.0]`` (the estimate and its interval as changes), ``n/a`` when
    it is not testable."""
    change, ci = j.change, j.ci
    if change is None or ci is None:
        return "n/a"

    def one(value: float) -> str:  # capped as in the sentences (:data:`SHOWN_CHANGE`)
        return (
            f"{'+' if value > 0 else '-'}>{SHOWN_CHANGE * 100:.0f}"
            if abs(value) > SHOWN_CHANGE
            else f"{value * 100:+.1f}"
        )

    return f"{one(change)} % [{one(ci[0] - 1)}, {one(ci[1] - 1)}]"


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


def ratio_text(value: float) -> str:
    """A ratio with three decimals, or as many more (up to six) as it takes not to show a ratio other than 1 as 1:
    ``0.972``, ``0.9997`` (an interval that ends there excludes 1, and must not seem to reach it)."""
    if value > 1000:
        return "over 1000"
    for digits in range(3, 7):
        text = f"{value:.{digits}f}"
        if value == 1.0 or float(text) != 1.0:
            return text
    return text


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


def trials_in(run_groups: Sequence[Group]) -> list[str]:
    """The trials that have samples, in the scenarios' registry order."""
    present = {g.scenario for g in run_groups}
    return [t for scenario in SCENARIOS.values() for t in scenario.ordered(sorted(present, key=_load_order))]


def _load_order(trial: str) -> tuple[float, str]:
    """Saturating trials first, then fixed loads from the lowest offered rate (the number in ``@500M``)."""
    from cnibench.scenarios.base import load_suffix

    suffix = load_suffix(trial)
    if not suffix:
        return (-1.0, trial)
    digits = "".join(ch for ch in suffix if ch.isdigit() or ch == ".")
    scale = {"K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}.get(suffix.rstrip("rps")[-1:], 1.0)
    try:
        return (float(digits) * scale, trial)
    except ValueError:
        return (0.0, trial)


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
    for trial in trials_in(run_groups):
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
    for trial in trials_in(run_groups):
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
