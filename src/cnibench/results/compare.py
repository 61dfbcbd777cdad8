"""``compare A B``: what changed from run A to run B, as a gate that CI can trust.

A regression (exit code 1, one line each) is any of:

* a CNI x trial of A that B lacks, has fewer successful repetitions of, or has any failed or missing repetition of
  (a failure is never a vanished row); B itself not complete, or with planned repetitions that did not run;
* a check (a floor or ceiling: failed requests, backend fairness, UDP loss) that every repetition of A kept and
  some repetition of B broke;
* a gated metric that got worse: the one-sided Mann-Whitney test of "B is worse" (exact up to 100 values, ties
  included: :func:`cnibench.results.stats.mann_whitney`), corrected with Holm's method over every gated test of
  the comparison, gives p <= ALPHA, AND the change is at least the threshold (relative to A's median; a metric
  whose median in A is 0 has no relative change and uses its own absolute minimum, ``MetricInfo.absolute``).

Holm, not Benjamini-Hochberg: a gate fails a build on ONE alarm, so what must be bounded is the chance of any false
alarm among the tests (the family-wise error rate, which Holm keeps at ALPHA under any dependence between them),
not the share of false ones among many (the false discovery rate, which BH bounds and a gate does not care about).
The gated metrics are the scenarios' primary ones by default (throughput, requests/s, latency p95: few tests, so
the correction costs little power); the others are reported with their uncorrected p and never fail the gate.
asv's own rule, for comparison (airspeed-velocity/asv ``asv/statistics.py`` ``is_different``, and ``--factor`` in
``asv/commands/common_args.py``, 1.1 by default): Mann-Whitney at p < 0.002 when the sample sizes can reach it,
else two 99 % intervals of the median that do not overlap; plus a change of at least the factor; no family
correction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from cnibench.results.analysis import (
    ALPHA,
    DEFAULT_THRESHOLD,
    Group,
    change_words,
    check,
    groups,
    interval_words,
    large_enough,
    located,
    p_words,
    percent,
    repetition_key,
)
from cnibench.results.model import RunResults
from cnibench.results.stats import MetricStats, Shift, holm, shift
from cnibench.scenarios import all_metrics, metrics_for
from cnibench.scenarios.base import MetricInfo


def contest_metrics() -> dict[str, MetricInfo]:
    """Every scenario's contest metrics by name: what ``--metric`` may name."""
    return {m.name: m for m in all_metrics() if m.role == "contest"}


@dataclass(frozen=True)
class Change:
    """One contest metric of one CNI x trial from A to B: ``difference`` is B against A with the one-sided test of
    "B is worse" (None with fewer than two values on a side); ``p_adjusted`` is Holm's over the gated tests."""

    cni: str
    scenario: str
    metric: MetricInfo
    before: MetricStats
    after: MetricStats
    difference: Shift | None
    gated: bool
    p_adjusted: float | None = None
    family: int = 0
    regression: bool = False

    def describe(self, where: bool = True) -> str:
        """``hostgw egress throughput: 14.05 -> 12.05 Gbit/s, 14.3 % slower (95 % CI ...; p = 0.004, 0.031 after
        Holm over 8 tests, n = 5 vs 5): ok``; a regression's own line (not ``where``) names neither the CNI and
        trial nor the verdict."""
        m, d = self.metric, self.difference
        unit = f" {m.unit}" if m.unit else ""
        head = f"{self.cni} {self.scenario} " if where else ""
        head += f"{m.label}: {m.show(self.before.median)} -> {m.show(self.after.median)}{unit}"
        if d is None:
            return f"{head} (too few repetitions to test)"
        if not self.gated:
            figures = f"{interval_words(m, d)}; {p_words(d.p_value)}, n = {d.n_a} vs {d.n_b}"
            return f"{head}, {change_words(m, d)} ({figures}; reported, not gated)"
        assert self.p_adjusted is not None
        p = p_words(d.p_value, self.p_adjusted, self.family)
        figures = f"{interval_words(m, d)}; {p}, n = {d.n_a} vs {d.n_b}"
        text = f"{head}, {change_words(m, d)} ({figures})"
        return f"{text}: {'REGRESSION' if self.regression else 'ok'}" if where else text


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

    @property
    def exit_code(self) -> int:
        return 1 if self.regressions else 0

    def to_json(self) -> dict[str, Any]:
        """The comparison for machines (``compare --json``); values in the metrics' own units and fractions."""

        def stats(s: MetricStats) -> dict[str, Any]:
            ci = s.ci
            return {"n": s.n, "failed": s.failed, "median": s.median, "ci_low": ci.low if ci else None,
                    "ci_high": ci.high if ci else None, "ci_level": ci.level if ci else None}  # fmt: skip

        def change(c: Change) -> dict[str, Any]:
            d = c.difference
            return {
                "cni": c.cni,
                "scenario": c.scenario,
                "metric": c.metric.name,
                "gated": c.gated,
                "before": stats(c.before),
                "after": stats(c.after),
                "relative": d.relative if d else None,
                "change": d.change if d else None,
                "change_low": d.interval[0] if d else None,
                "change_high": d.interval[1] if d else None,
                "change_level": d.level if d else None,
                "p_worse": d.p_value if d else None,
                "p_adjusted": c.p_adjusted,
                "regression": c.regression,
            }

        return {
            "a": self.a,
            "b": self.b,
            "threshold": self.threshold,
            "alpha": ALPHA,
            "correction": "holm",
            "gated_metrics": list(self.gated),
            "exit_code": self.exit_code,
            "regressions": [r.__dict__ for r in self.regressions],
            "changes": [change(c) for c in self.changes],
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
    changes: list[Change] = []
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
            worse = "greater" if metric.better == "higher" else "less"  # A greater than B: B lost
            changes.append(
                Change(
                    *key,
                    metric,
                    x,
                    y,
                    shift(x.values, y.values, alternative=worse),
                    metric.primary if metrics is None else metric.name in gated,
                )
            )
    changes = _judged(changes, threshold)
    regressions += [
        Regression(c.describe(where=False), c.cni, c.scenario, c.metric.name) for c in changes if c.regression
    ]  # fmt: skip
    notes = [f"{cni} {trial}: in B, not in A" for cni, trial in after if (cni, trial) not in before]
    notes += [f"{cni} {trial}: in A, not in B" for cni, trial in before if shared_only and (cni, trial) not in after]
    notes += _power_note(changes)
    return Comparison(a.run_id, b.run_id, threshold, tuple(gated), changes, regressions, notes)


def _judged(changes: list[Change], threshold: float) -> list[Change]:
    """The changes with Holm's p over the gated tests and the verdict of each gated one."""
    tested = [i for i, c in enumerate(changes) if c.gated and c.difference is not None]
    raw = [d.p_value for i in tested if (d := changes[i].difference) is not None]
    adjusted = dict(zip(tested, holm(raw), strict=True))
    out = []
    for i, c in enumerate(changes):
        p, d = adjusted.get(i), c.difference
        regression = (
            p is not None
            and d is not None
            and p <= ALPHA
            and c.metric.worse(d.change)
            and large_enough(c.metric, d, c.before.median, threshold)
        )
        out.append(replace(c, p_adjusted=p, family=len(tested), regression=regression))
    return out


def _power_note(changes: list[Change]) -> list[str]:
    """Say so when no gated test can be significant at these sample sizes (Holm's first step needs p <=
    ALPHA / m)."""
    tested = [c.difference for c in changes if c.gated and c.difference is not None]
    if not tested:
        return []
    needed = ALPHA / len(tested)
    smallest = min(tested, key=lambda d: d.min_p)
    if smallest.min_p <= needed:
        return []
    return [
        f"no gated metric can be significant: the smallest possible one-sided p at {smallest.n_a} vs "
        f"{smallest.n_b} repetitions is {smallest.min_p:.3f}, above {percent(ALPHA, 0)} / {len(tested)} tests = "
        f"{needed:.4f} (Holm's first step); only failures, missing repetitions and checks can fail this gate"
    ]
