"""Verdicts within one run: which CNI is better at each metric, by how much, and whether to believe it; the checks
every repetition must keep; a policy's cost from paired repetitions; the headline.

CNIs are compared only within a run (their trials ran on one machine, in one sitting); the same CNI in two runs is
``compare``'s business (:mod:`cnibench.results.compare`), never a contest.

Per trial and contest metric: the best CNI by median and the runner-up's difference from it
(:func:`cnibench.results.stats.shift`: Hodges-Lehmann estimate, Moses' interval with its real level, exact
Mann-Whitney p). The p-values of a run form two families, the primary metrics (the headline) and the others, each
corrected with Holm's method, so that adding secondary metrics never dilutes the headline; a difference is
significant when its corrected p is at most :data:`~cnibench.results.analysis.ALPHA` and it is at least the minimum
effect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from cnibench.results.analysis import (
    ALPHA,
    DEFAULT_THRESHOLD,
    CheckResult,
    Group,
    change_words,
    check,
    groups,
    interval_words,
    large_enough,
    number,
    p_words,
    percent,
    repetition_key,
)
from cnibench.results.model import RunResults
from cnibench.results.stats import (
    CONFIDENCE,
    MetricStats,
    PairedRatio,
    Shift,
    holm,
    paired_ratio,
    shift,
    values_needed,
)
from cnibench.scenarios import SCENARIOS, metrics_for, scenario_of
from cnibench.scenarios.base import MetricInfo


@dataclass(frozen=True)
class Verdict:
    """One contest metric of one trial of one run: each CNI's statistics (``stats``), the best one by median
    (``winner``), and how the next best differs from it (``difference``: ``a`` = winner, ``b`` = runner-up).
    ``p_adjusted``: the p-value after Holm's correction over the run's family of ``family`` tests."""

    run_id: str
    scenario: str
    metric: MetricInfo
    stats: dict[str, MetricStats]
    winner: str | None
    runner_up: str | None
    difference: Shift | None
    p_adjusted: float | None
    family: int
    threshold: float
    significant: bool

    @property
    def label(self) -> str:
        return f"{self.scenario} {self.metric.label}"

    def relative(self, series: str) -> float | None:
        """How far ``series``'s median is from the winner's, relative to it (0 for the winner)."""
        best = self.stats[self.winner].median if self.winner else None
        value = self.stats[series].median
        if best in (None, 0) or value is None:
            return None
        return (value - best) / abs(best)

    @property
    def cannot_be_significant(self) -> bool:
        """The sample sizes cannot give p <= ALPHA at all (3 vs 3: the smallest two-sided p is 0.10)."""
        return self.difference is not None and self.difference.min_p > ALPHA

    @property
    def highlighted(self) -> str | None:
        """The series a table may highlight: the winner, and only when the difference is significant."""
        return self.winner if self.significant else None

    def _figures(self) -> str:
        d = self.difference
        assert d is not None and self.p_adjusted is not None
        p = p_words(d.p_value, self.p_adjusted, self.family)
        return f"{interval_words(self.metric, d)}; {p}, n = {d.n_b} vs {d.n_a}"

    def _why_not(self) -> str:
        d = self.difference
        assert d is not None
        if self.cannot_be_significant:
            return f"; cannot be significant at {d.n_b} vs {d.n_a}: the smallest possible p is {d.min_p:.3f}"
        reference = self.stats[self.winner].median if self.winner else None
        tested = self.p_adjusted is not None and self.p_adjusted <= ALPHA
        if tested and not large_enough(self.metric, d, reference, self.threshold):
            return f"; smaller than the minimum effect of {percent(self.threshold)}"
        return ""

    @property
    def note(self) -> str:
        """A table's "is it real?" cell."""
        d = self.difference
        if d is None or self.p_adjusted is None:
            if self.runner_up is not None:
                return "too few repetitions to test (fewer than 2 on a side)"
            return ""
        verdict = "significant" if self.significant else "no clear difference"
        return f"{verdict} ({p_words(d.p_value, self.p_adjusted, self.family)}{self._why_not()})"

    def headline(self) -> str:
        """The sentence of the headline: ``egress throughput: vxlan is 9.8 % slower than hostgw (95 % CI 7.1 to
        12.3 % slower; p = 0.008, n = 6 vs 6): significant`` or ``...: no clear difference (...)``."""
        m, d = self.metric, self.difference
        unit = f" {m.unit}" if m.unit else ""
        if self.winner is None:
            return f"{self.label}: no successful repetition"
        best = self.stats[self.winner]
        if self.runner_up is None:
            others = [s for s, st in self.stats.items() if st.median is None]
            text = f"{self.label}: {self.winner} {m.show(best.median)}{unit} (median"
            text += f", {best.ci.describe(m.show)}" if best.ci else ""
            text += f"; n = {best.n})"
            return text + "".join(f"; {other}: no successful repetition" for other in others)
        if d is None or self.p_adjusted is None:
            return (
                f"{self.label}: no clear difference ({self.runner_up} {m.show(self.stats[self.runner_up].median)} vs "
                f"{self.winner} {m.show(best.median)}{unit}; too few repetitions to test)"
            )
        if d.relative and abs(d.change) < 0.0005:  # "0.0 % slower" is no direction
            comparison = f"{self.runner_up} is within 0.05 % of {self.winner}"
        elif d.relative:
            comparison = f"{self.runner_up} is {change_words(m, d)} than {self.winner}"
        else:  # no relative change (a median of 0): the difference in the metric's unit, with its direction
            word = m.words[0] if d.change > 0 else m.words[1]
            comparison = f"{self.runner_up} is {m.show(abs(d.change))}{unit} {word} than {self.winner}"
        if self.significant:
            return f"{self.label}: {comparison} ({self._figures()}): significant"
        return f"{self.label}: no clear difference ({comparison}, {self._figures()}{self._why_not()})"


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
    for digits in range(3, 7):
        text = f"{value:.{digits}f}"
        if value == 1.0 or float(text) != 1.0:
            return text
    return text


@dataclass(frozen=True)
class PairedVerdict:
    """A trial over its baseline for one CNI and metric, from repetitions paired by round and number (run back to
    back in the same cluster)."""

    run_id: str
    cni: str
    scenario: str
    baseline: str
    metric: MetricInfo
    ratio: PairedRatio

    def describe(self) -> str:
        """``hostgw 0.950 (96 % CI 0.910 to 1.020; 12 pairs): inconclusive`` or ``vxlan 0.850 (...): 15.0 %
        slower with egress than egress-baseline`` (:func:`ratio_text`)."""
        r, m = self.ratio, self.metric
        figures = ratio_text(r.median)
        inside = (
            [f"{percent(r.interval.level, 0)} CI {ratio_text(r.interval.low)} to {ratio_text(r.interval.high)}"]
            if r.interval
            else []
        )
        inside.append(f"{len(r.ratios)} pair{'s' if len(r.ratios) != 1 else ''}")
        text = f"{self.cni} {figures} ({'; '.join(inside)})"
        if r.too_few:
            return (
                f"{text}: inconclusive (fewer than {values_needed()} pairs give no {percent(CONFIDENCE, 0)} interval)"
            )
        if r.inconclusive:
            return f"{text}: inconclusive"
        word = m.words[0] if r.median > 1 else m.words[1]
        return f"{text}: {percent(abs(r.median - 1))} {word} with {self.scenario} than {self.baseline}"


@dataclass(frozen=True)
class RunAnalysis:
    """Everything judged within one run."""

    run: RunResults
    verdicts: list[Verdict]
    checks: list[CheckVerdict]
    ratios: list[PairedVerdict]

    def headline(self) -> list[str]:
        """The headline: each primary metric's verdict, the paired ratios, the checks that failed."""
        lines = [v.headline() for v in self.verdicts if v.metric.primary]
        by_metric: dict[tuple[str, str, str], list[PairedVerdict]] = {}
        for ratio in self.ratios:
            by_metric.setdefault((ratio.scenario, ratio.baseline, ratio.metric.label), []).append(ratio)
        for (trial, baseline, label), ratios in by_metric.items():
            lines.append(
                f"{trial} / {baseline} {label}, paired by repetition: " + "; ".join(r.describe() for r in ratios)
            )
        lines += [f"check failed: {c.line()}" for c in self.checks if not c.passed]
        return lines


def _contest(run_id: str, trial: str, metric: MetricInfo, in_trial: list[Group], threshold: float) -> Verdict:
    stats = {g.cni: g.stats(metric) for g in in_trial}
    ranked = sorted((s for s in stats if stats[s].median is not None), key=lambda s: stats[s].median or 0.0)
    if metric.better == "higher":
        ranked.reverse()
    winner = ranked[0] if ranked else None
    runner_up = ranked[1] if len(ranked) > 1 else None
    difference = None
    if winner is not None and runner_up is not None:
        difference = shift(stats[winner].values, stats[runner_up].values)
    return Verdict(run_id, trial, metric, stats, winner, runner_up, difference, None, 0, threshold, False)


def _with_holm(verdicts: list[Verdict]) -> list[Verdict]:
    """The verdicts with their family's Holm-adjusted p-values and significance."""
    tested = [i for i, v in enumerate(verdicts) if v.difference is not None]
    raw = [d.p_value for i in tested if (d := verdicts[i].difference) is not None]
    adjusted = dict(zip(tested, holm(raw), strict=True))
    out = []
    for i, v in enumerate(verdicts):
        p = adjusted.get(i)
        significant = False
        if p is not None and v.difference is not None and v.winner is not None:
            reference = v.stats[v.winner].median
            significant = p <= ALPHA and large_enough(v.metric, v.difference, reference, v.threshold)
        out.append(replace(v, p_adjusted=p, family=len(tested), significant=significant))
    return out


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


def analyse(run: RunResults, threshold: float = DEFAULT_THRESHOLD) -> RunAnalysis:
    """Verdicts, checks and paired ratios of one run (``threshold``: the minimum relative effect, a fraction)."""
    run_groups = groups([run])
    contests: list[Verdict] = []
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
                contests.append(_contest(run.run_id, trial, metric, in_trial, threshold))
    primary = _with_holm([v for v in contests if v.metric.primary])
    others = _with_holm([v for v in contests if not v.metric.primary])
    ordered = {(v.scenario, v.metric.name): v for v in primary + others}
    verdicts = [ordered[(v.scenario, v.metric.name)] for v in contests]
    return RunAnalysis(run, verdicts, checks, paired_ratios(run_groups, run.run_id))


def paired_ratios(run_groups: Sequence[Group], run_id: str) -> list[PairedVerdict]:
    """Per CNI, each trial with a baseline over that baseline, primary metrics, repetitions paired by round and
    number."""
    out = []
    by_key = {(g.cni, g.scenario): g for g in run_groups}
    for trial in trials_in(run_groups):
        baseline = scenario_of(trial).baseline_of(trial)
        if baseline is None:
            continue
        for metric in (m for m in metrics_for(trial) if m.primary):
            for cni in dict.fromkeys(g.cni for g in run_groups):
                measured, base = by_key.get((cni, trial)), by_key.get((cni, baseline))
                if measured is None or base is None:
                    continue
                ratio = paired_ratio(_pairs(measured, base, metric))
                if ratio is not None:
                    out.append(PairedVerdict(run_id, cni, trial, baseline, metric, ratio))
    return out


def _pairs(measured: Group, base: Group, metric: MetricInfo) -> list[tuple[float, float]]:
    """``(measured, baseline)`` values of the successful repetitions with the same round and number in both trials
    (:func:`~cnibench.results.analysis.repetition_key`): they ran back to back in the same cluster."""

    def by_number(group: Group) -> dict[tuple[int, int], float]:
        found = {repetition_key(s): number(getattr(s, metric.name, None)) for s in group.samples if s.status == "ok"}
        return {k: v for k, v in found.items() if v is not None}

    mine, theirs = by_number(measured), by_number(base)
    return [(mine[k], theirs[k]) for k in sorted(mine) if k in theirs]


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
