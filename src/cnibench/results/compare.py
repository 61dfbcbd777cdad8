"""``compare A B``: what changed from run A to run B, as a gate that CI can trust; ``compare --history N RUN``:
a run against the store's last N runs of the same spec.

A regression (exit code 1, one line each) is any of:

* a CNI x trial of A that B lacks, has fewer successful repetitions of, or has any failed or missing repetition of
  (a failure is never a vanished row); B itself not complete, or with planned repetitions that did not run;
* a check (a floor or ceiling: failed requests, backend fairness, UDP loss) that every repetition of A kept and
  some repetition of B broke;
* a gated metric that got worse: the unit is the cluster (one CNI on one fresh cluster in one round), so A's
  clusters are compared with B's (:func:`cnibench.results.inference.estimate`, unpaired: rounds of two runs do not
  pair), with a simultaneous interval over the gated tests (Bonferroni) and the outcome read off it, exactly as
  within a run (:mod:`cnibench.results.verdicts`); a regression is a gated comparison whose outcome is *different*,
  in the worse direction, by at least the threshold (which is also the equivalence margin). A run of one cluster
  per CNI has no variance between clusters: only ``--history`` can judge it.

With ``--history N`` the unit is the run: per CNI, trial and gated metric, the run's value (the mean of its
clusters' log values) against the t prediction interval of the previous N runs' values
(:func:`cnibench.results.inference.prediction`), simultaneous over the gated tests; run-to-run variance is in the
test. Its false-alarm rate, measured on whole real runs (each run of a set of runs of one spec judged against the
others, leave one out), is in the README.

Bonferroni over the gated tests, not Benjamini-Hochberg: a gate fails a build on ONE alarm, so what must be bounded
is the chance of any false alarm (the family-wise error rate). The gated metrics are the scenarios' primary ones by
default; the others are reported in a family of their own and never fail the gate. asv's rule, for comparison
(airspeed-velocity/asv ``asv/statistics.py`` ``is_different``): Mann-Whitney at p < 0.002 when the sample sizes
can reach it, else two 99 % intervals that do not overlap; plus a change of at least ``--factor``.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cnibench.results.analysis import DEFAULT_THRESHOLD, check, groups, located, percent
from cnibench.results.group import Group, by_round, repetition_key
from cnibench.results.inference import (
    ALPHA,
    Estimate,
    Judgement,
    Scale,
    against_history,
    cluster_means,
    estimate,
    judge,
    scale_of,
)
from cnibench.results.metric import MetricInfo
from cnibench.results.model import RunResults
from cnibench.results.stats import MetricStats
from cnibench.results.wording import ci_text, detectable, p_text, words_of
from cnibench.scenarios import all_metrics, metrics_for, scenario_of


def contest_metrics() -> dict[str, MetricInfo]:
    """Every scenario's contest metrics by name: what ``--metric`` may name."""
    return {m.name: m for m in all_metrics() if m.role == "contest"}


@dataclass(frozen=True)
class Change:
    """One contest metric of one CNI x trial from A to B: ``judgement`` is B's clusters against A's (None when
    neither run has a value), judged in the family of the gated tests (``gated``) or of the others."""

    cni: str
    scenario: str
    metric: MetricInfo
    before: MetricStats
    after: MetricStats
    judgement: Judgement | None
    gated: bool
    threshold: float = DEFAULT_THRESHOLD

    @property
    def regression(self) -> bool:
        """A gated change shown *different*, worse, by at least the threshold."""
        j = self.judgement
        if not self.gated or j is None or j.outcome != "different":
            return False
        change = j.change
        if change is not None:
            return self.metric.worse(change) and abs(change) >= self.threshold
        return self.metric.worse(j.estimate.estimate) and abs(j.estimate.estimate) >= (self.metric.absolute or 0.0)

    def describe(self, where: bool = True) -> str:
        """``hostgw egress throughput: 14.05 -> 12.05 Gbit/s: different: 14.3 % slower (95 % CI ...; 3 vs 3
        clusters): REGRESSION``; a regression's own line (not ``where``) names neither the CNI and trial nor the
        verdict."""
        m, j = self.metric, self.judgement
        unit = f" {m.unit}" if m.unit else ""
        head = f"{self.cni} {self.scenario} " if where else ""
        before = level_text(m, j.estimate.reference_level if j else None, self.before.median)
        after = level_text(m, j.estimate.other_level if j else None, self.after.median)
        head += f"{m.label}: {before} -> {after}{unit}"
        if j is None:
            return f"{head} (nothing to compare)"
        text = f"{head}: {change_sentence(m, j)}" + ("" if self.gated else " (reported, not gated)")
        return f"{text}: {'REGRESSION' if self.regression else 'ok'}" if where and self.gated else text

    def to_json(self) -> dict[str, Any]:
        """The change as the verdict object of ``summary --json`` (``reference`` is run A, ``cni`` the CNI in B)."""
        j = self.judgement
        e = j.estimate if j else None
        return {
            "scenario": scenario_of(self.scenario).name,
            "trial": self.scenario,
            "metric": self.metric.name,
            "cni": self.cni,
            "gated": self.gated,
            "outcome": j.outcome if j else None,
            "ratio": j.ratio if j else None,
            "ci": list(j.ci) if j and j.ci else None,
            "ci_level": j.ci_level if j else None,
            "ci_level_each": j.level_each if j else None,
            "family": j.family if j else None,
            "p_adjusted": j.p_adjusted if j else None,
            "margin": j.margin if j else None,
            "mde": j.mde if j else None,
            "clusters": {"a": e.clusters_reference, "b": e.clusters_other} if e else None,
            "values": {"a": e.reference_level, "b": e.other_level} if e else None,
            "regression": self.regression,
        }


def level_text(metric: MetricInfo, level: float | None, median: float | None) -> str:
    """A run's value of a metric: its cluster-based value, else its median."""
    return metric.show(level if level is not None else median)


def change_sentence(metric: MetricInfo, j: Judgement) -> str:
    """``different: 14.3 % slower (95 % CI 9.0 to 20.1 % slower; p = 0.004 adjusted over 4 tests; 3 vs 3
    clusters, unpaired)``; the same words as the verdicts."""
    e = j.estimate
    if not e.testable:
        return f"inconclusive ({j.why})"
    change = j.change
    what = words_of(metric, change).removesuffix(" than") if change is not None else f"{e.estimate:+g}"
    inside = [ci_text(metric, j), p_text(j), f"{e.clusters_other} vs {e.clusters_reference} clusters, {e.design}"]
    figures = "; ".join(part for part in inside if part)
    if j.outcome == "inconclusive" and j.mde is not None:
        return f"inconclusive: {what} ({figures}); this design {detectable(j.mde)}"
    label = f"equivalent within ±{percent(j.margin, 0)}" if j.outcome == "equivalent" else j.outcome
    return f"{label}: {what} ({figures})"


@dataclass(frozen=True)
class Regression:
    """Why the gate fails, in one line (``cni`` and ``scenario`` None: about run B as a whole)."""

    text: str
    cni: str | None = None
    scenario: str | None = None
    metric: str | None = None

    def line(self) -> str:
        """``hostgw egress: 2 of 3 repetitions failed in B (first: ...)``."""
        return located(self.text, self.cni, self.scenario)


@dataclass(frozen=True)
class Comparison:
    """Run A against run B: every change, the regressions, and what else a reader must know (``notes``)."""

    a: str
    b: str
    threshold: float
    gated: tuple[str, ...]
    changes: list[Change]
    regressions: list[Regression]
    notes: list[str]
    unit: str = "cluster"

    @property
    def exit_code(self) -> int:
        return 1 if self.regressions else 0

    def to_json(self) -> dict[str, Any]:
        """The comparison for machines (``compare --json``): the regressions, and per CNI x trial x metric the
        verdict object of ``summary --json`` (:meth:`Change.to_json`)."""
        return {
            "a": self.a,
            "b": self.b,
            "threshold": self.threshold,
            "alpha": ALPHA,
            "correction": "bonferroni",
            "unit": self.unit,
            "gated_metrics": list(self.gated),
            "exit_code": self.exit_code,
            "regressions": [r.__dict__ for r in self.regressions],
            "verdicts": [c.to_json() for c in self.changes],
            "notes": self.notes,
        }


def _failures(before: Group, after: Group | None) -> str | None:
    """Why a CNI x trial of A is a regression in B for its repetitions' sake; None when it is not."""
    if after is None:
        return f"in A ({before.ok} of {len(before.samples)} ok), missing from B"
    reasons = []
    if after.ok < before.ok:
        reasons.append(f"{after.ok} successful repetition(s) in B, {before.ok} in A")
    failed = [s for s in after.samples if s.status != "ok"]
    if failed:
        reasons.append(f"{len(failed)} of {len(after.samples)} repetitions failed in B (first: {failed[0].error})")
    mine, theirs = {repetition_key(s) for s in before.samples}, {repetition_key(s) for s in after.samples}
    if len(theirs) < len(mine):
        if theirs <= mine:  # numbered alike: name the missing ones
            missing = sorted(mine - theirs)
            names = ", ".join(str(rep) if rnd == 1 else f"{rep} of round {rnd}" for rnd, rep in missing)
            reasons.append(f"repetition(s) {names} of A missing in B")
        else:  # numbered differently (runs with and without rounds): count them
            reasons.append(f"{len(theirs)} repetitions in B, {len(mine)} in A")
    return "; ".join(reasons) or None


def _checks(before: Group, after: Group) -> list[Regression]:
    out = []
    for metric in metrics_for(before.scenario):
        if metric.role != "check":
            continue
        was, now = check(before, metric), check(after, metric)
        if was is not None and now is not None and was.passed and not now.passed:
            text = f"{metric.label}: passed in A ({was.describe()}), fails in B: {now.describe()}"
            out.append(Regression(text, before.cni, before.scenario, metric.name))
    return out


def _run_b(b: RunResults) -> list[Regression]:
    out = []
    if b.status != "complete":
        out.append(Regression(f"run B is {b.status}" + (f": {b.error}" if b.error else "")))
    missing = b.planned_repetitions - len(b.samples)
    if missing > 0:
        out.append(Regression(f"run B: {missing} planned repetition(s) did not run"))
    return out


def compare(
    a: RunResults,
    b: RunResults,
    threshold: float = DEFAULT_THRESHOLD,
    metrics: tuple[str, ...] | None = None,
    *,
    shared_only: bool = False,
) -> Comparison:
    """Run B judged against run A (see the module). ``metrics``: the gated metrics' names (default: each
    scenario's primary metrics); ``threshold``: the minimum relative change, a fraction; ``shared_only``: only
    the CNI x trials both runs have (a report over runs of different scenarios), B's own state left to its
    warnings. Raises KeyError for a name that is no contest metric."""
    known = contest_metrics()
    unknown = [name for name in metrics or () if name not in known]
    if unknown:
        raise KeyError(f"no contest metric {unknown[0]!r}; valid: {', '.join(known)}")
    before = {(g.cni, g.scenario): g for g in groups([a])}
    # by default each trial's own primary metrics (a fixed load's lead with latency and CPU per unit of work)
    gated = (
        metrics
        if metrics is not None
        else tuple(
            dict.fromkeys(
                m.name for _, trial in before for m in metrics_for(trial) if m.primary and m.role == "contest"
            )
        )
    )
    after = {(g.cni, g.scenario): g for g in groups([b])}
    regressions = [] if shared_only else _run_b(b)
    pending: list[tuple[tuple[str, str], MetricInfo, MetricStats, MetricStats, Estimate | None, bool]] = []
    for key, group in before.items():
        if shared_only and key not in after:
            continue
        why = _failures(group, after.get(key))
        if why:
            regressions.append(Regression(why, *key))
        if key not in after:
            continue
        regressions += _checks(group, after[key])
        for metric in (m for m in metrics_for(key[1]) if m.role == "contest"):
            x, y = group.stats(metric), after[key].stats(metric)
            if x.n == 0 and y.n == 0:
                continue
            is_gated = metric.primary if metrics is None else metric.name in gated
            pending.append((key, metric, x, y, _estimate(group, after[key], metric), is_gated))
    changes = _judged(pending, threshold)
    regressions += [
        Regression(c.describe(where=False), c.cni, c.scenario, c.metric.name) for c in changes if c.regression
    ]  # fmt: skip
    notes = [f"{cni} {trial}: in B, not in A" for cni, trial in after if (cni, trial) not in before]
    notes += [f"{cni} {trial}: in A, not in B" for cni, trial in before if shared_only and (cni, trial) not in after]
    notes += _power_note(changes)
    return Comparison(a.run_id, b.run_id, threshold, tuple(gated), changes, regressions, notes)


def _estimate(before: Group, after: Group, metric: MetricInfo) -> Estimate | None:
    """B's clusters against A's for one metric (unpaired); None when neither has a value."""
    a, b = by_round(before, metric), by_round(after, metric)
    values = [v for r in (a, b) for vs in r.values() for v in vs]
    if not values:
        return None
    scale = scale_of(values)
    return estimate(cluster_means(a, scale), cluster_means(b, scale), scale, blocked=False)


def _judged(
    pending: list[tuple[tuple[str, str], MetricInfo, MetricStats, MetricStats, Estimate | None, bool]],
    threshold: float,
) -> list[Change]:
    """The changes judged in two families, the gated tests and the others (margin: the threshold)."""
    out: dict[int, Judgement] = {}
    for gated in (True, False):
        chosen = [(i, p[4]) for i, p in enumerate(pending) if p[5] is gated and p[4] is not None]
        judged = judge([e for _, e in chosen if e is not None], margin=threshold)
        out.update({i: j for (i, _), j in zip(chosen, judged, strict=True)})
    return [
        Change(key[0], key[1], metric, x, y, out.get(i), is_gated, threshold)
        for i, (key, metric, x, y, _, is_gated) in enumerate(pending)
    ]


def _power_note(changes: list[Change]) -> list[str]:
    """Say so when the gated metrics cannot be judged from clusters (one cluster per CNI in a run)."""
    untestable = [c for c in changes if c.gated and c.judgement is not None and not c.judgement.estimate.testable]
    if not untestable:
        return []
    first = untestable[0].judgement
    assert first is not None
    return [
        f"{len(untestable)} gated metric(s) cannot be judged: {first.why} (the unit is the cluster; run more "
        "rounds, or judge the run against the store's history with --history N)"
    ]


def run_value(group: Group, metric: MetricInfo, scale: Scale) -> float | None:
    """A run's value of one CNI x trial x metric on ``scale``: the mean of its cluster values (None without)."""
    means = cluster_means(by_round(group, metric), scale)
    return statistics.fmean(means.values()) if means else None


def compare_history(
    history: Sequence[RunResults],
    b: RunResults,
    threshold: float = DEFAULT_THRESHOLD,
    metrics: tuple[str, ...] | None = None,
) -> Comparison:
    """Run B judged against ``history`` (earlier runs of the same spec, oldest first): per CNI x trial and gated
    metric, B's run value against the prediction interval of the earlier runs' values
    (:func:`~cnibench.results.inference.against_history`), simultaneous over the gated tests; B's failures and
    checks count as against its newest predecessor. Raises ValueError without history."""
    if not history:
        raise ValueError("no earlier run to judge against")
    newest = history[-1]
    base = compare(newest, b, threshold, metrics)
    after = {(g.cni, g.scenario): g for g in groups([b])}
    earlier = [{(g.cni, g.scenario): g for g in groups([run])} for run in history]
    pending: list[tuple[tuple[str, str], MetricInfo, MetricStats, MetricStats, Estimate | None, bool]] = []
    for c in base.changes:
        key = (c.cni, c.scenario)
        group = after.get(key)
        if group is None:
            continue
        values_all = [v for g in [group, *(e[key] for e in earlier if key in e)] for v in g.values(c.metric)]
        if not values_all:
            continue
        scale = scale_of(values_all)
        mine = run_value(group, c.metric, scale)
        past = [v for e in earlier if key in e and (v := run_value(e[key], c.metric, scale)) is not None]
        found = against_history(mine, past, scale) if mine is not None else None
        pending.append((key, c.metric, c.before, c.after, found, c.gated))
    changes = _judged(pending, threshold)
    regressions = [r for r in base.regressions if r.metric not in contest_metrics()]
    regressions += [
        Regression(c.describe(where=False), c.cni, c.scenario, c.metric.name) for c in changes if c.regression
    ]
    notes = [f"judged against {len(history)} earlier run(s) of {b.name} on {b.platform}: "
             + ", ".join(r.run_id for r in history)]  # fmt: skip
    few = [c for c in changes if c.gated and c.judgement is not None and not c.judgement.estimate.testable]
    if few:
        notes.append(f"{len(few)} gated metric(s) have fewer than 2 earlier runs: not judged")
    return Comparison(f"{len(history)} earlier runs", b.run_id, threshold, base.gated, changes, regressions,
                      notes, unit="run")  # fmt: skip
