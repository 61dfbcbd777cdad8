"""Inference with the cluster as the experimental unit: one estimate, one interval and one outcome per comparison.

A *cluster* is one CNI on one fresh cluster in one round. Repetitions on one cluster are not independent (the real
pool runs in ``tests/data/results`` show a lag-1 autocorrelation of +0.40 to +0.66 in 10 of 16 series and an
intra-class correlation of about 0.58 within blocks of 3), so they are summarised first: a cluster's value is the
mean of its repetitions' logarithms (a geometric mean) when every value is positive, else their mean. Then:

* **Two CNIs in one run** (:func:`estimate`): the difference of the cluster values, CNI minus reference, with
  Student's t. With at least :data:`BLOCKED_MIN_ROUNDS` rounds that both CNIs completed, the round is a block
  (every CNI runs once per round, in ABBA order): the paired t-test on the per-round differences, which removes
  what drift or load did to a whole round. With fewer rounds the blocks cost more degrees of freedom than they
  remove noise, and the test is the pooled two-sample t-test on the clusters (valid, only conservative, when round
  effects exist: they add to both samples' variance alike). The rule depends on the design, never on the data, so
  the error rate holds either way; the committed simulation (``tests/unit/results/test_simulation.py``) measures
  it, with per-cluster and per-round effects. The pooled test, not Welch's, because the designs are balanced
  (every CNI the same number of clusters), where Student's t keeps its level under unequal variances and has the
  power Welch's loses at 3 vs 3 (Kalibera & Jones 2013, "Rigorous benchmarking in reasonable time", ISMM, for
  the hierarchy of runs and repetitions and the log scale; Delacre, Lakens & Leys 2017 for Welch vs Student).
* **A family of comparisons** (:func:`judge`): every interval is a two-sided Student interval at the level
  ``1 - alpha / m`` (Bonferroni over the ``m`` comparisons of the family), so that all of them hold together with
  at least ``1 - alpha`` (simultaneous intervals), and the outcome is read off that same interval: *different*
  when it excludes no change, *equivalent* when it lies within ``±margin`` (the interval-inclusion form of two
  one-sided tests, Schuirmann 1987, here at ``alpha / m`` each side, so conservative), else *inconclusive* with the
  minimum detectable effect at 80 % power. Bonferroni rather than Holm, because Holm's step-down has no interval
  that agrees with its decisions (Strassburger & Bretz 2008, Statistics in Medicine 27:4914): with Bonferroni no
  outcome can contradict the interval printed beside it.
* **Across runs** (:func:`against_history`): a run's value against the previous runs' values with the t prediction
  interval for one new observation (Hahn, Meeker & Escobar, *Statistical Intervals*, 2nd ed., 2017, section 4.6),
  so that run-to-run variance is in the test.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

#: The family-wise error rate (a fraction): the chance that any interval of a family misses.
ALPHA = 0.05
#: The power the minimum detectable effect is given at (a fraction).
POWER = 0.80
#: The equivalence margin, a fraction of the reference (``±5 %``), unless the spec sets ``margin``.
DEFAULT_MARGIN = 0.05
#: From this many rounds completed by both CNIs on, the comparison is paired by round (see the module).
BLOCKED_MIN_ROUNDS = 5

Outcome = Literal["different", "equivalent", "inconclusive"]
Scale = Literal["log", "linear"]


def scale_of(values: Sequence[float]) -> Scale:
    """``log`` when every value is positive (a ratio is then meaningful), else ``linear``."""
    return "log" if values and min(values) > 0 else "linear"


def cluster_means(by_round: Mapping[int, Sequence[float]], scale: Scale) -> dict[int, float]:
    """One value per cluster (round): the mean of its repetitions' logarithms (``log``) or values (``linear``).
    Rounds without a value are left out."""
    out = {}
    for rnd, values in by_round.items():
        if values:
            out[rnd] = statistics.fmean(math.log(v) for v in values) if scale == "log" else statistics.fmean(values)
    return out


def level_of(means: Mapping[int, float], scale: Scale) -> float | None:
    """A CNI's value on the metric's own scale: the geometric mean of its cluster values (``log``), else their
    mean; None without clusters."""
    if not means:
        return None
    centre = statistics.fmean(means.values())
    return math.exp(centre) if scale == "log" else centre


@dataclass(frozen=True)
class Estimate:
    """How a CNI differs from the reference, before the family is known.

    ``estimate``: the mean difference of cluster values, CNI minus reference (a difference of logarithms, i.e. the
    log of a ratio, for ``log``; in the metric's unit for ``linear``); ``se`` its standard error and ``df`` its
    degrees of freedom (``df`` 0: not testable, ``se`` None). ``design``: ``paired by round`` or ``unpaired``;
    ``clusters``: clusters per side; ``reference_level``: the reference's value on the metric's scale (what a
    ``linear`` change is relative to). ``p_value``: the two-sided t-test of no difference (None when untestable)."""

    scale: Scale
    estimate: float
    se: float | None
    df: int
    design: str
    clusters_reference: int
    clusters_other: int
    reference_level: float | None
    other_level: float | None

    @property
    def testable(self) -> bool:
        return self.df > 0 and self.se is not None

    @property
    def p_value(self) -> float | None:
        if not self.testable or self.se is None:
            return None
        if self.se == 0:
            return 1.0 if self.estimate == 0 else 0.0
        from scipy.stats import t

        return float(2 * t.sf(abs(self.estimate / self.se), self.df))


def estimate(
    reference: Mapping[int, float],
    other: Mapping[int, float],
    scale: Scale,
    *,
    blocked: bool = True,
    reference_level: float | None = None,
    other_level: float | None = None,
) -> Estimate:
    """``other`` against ``reference``, each ``{round: cluster value}`` (:func:`cluster_means`). ``blocked``:
    rounds pair (one run's ABBA rounds); False for clusters of different runs. Paired by round with at least
    :data:`BLOCKED_MIN_ROUNDS` shared rounds, else pooled two-sample (see the module)."""
    shared = sorted(set(reference) & set(other))
    ref_level = reference_level if reference_level is not None else level_of(reference, scale)
    oth_level = other_level if other_level is not None else level_of(other, scale)
    if blocked and len(shared) >= BLOCKED_MIN_ROUNDS:
        diffs = [other[r] - reference[r] for r in shared]
        sd = statistics.stdev(diffs)
        return Estimate(
            scale,
            statistics.fmean(diffs),
            sd / math.sqrt(len(diffs)),
            len(diffs) - 1,
            "paired by round",
            len(reference),
            len(other),
            ref_level,
            oth_level,
        )
    x, y = list(reference.values()), list(other.values())
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        return Estimate(scale, math.nan, None, 0, "unpaired", n1, n2, ref_level, oth_level)
    diff = statistics.fmean(y) - statistics.fmean(x)
    df = n1 + n2 - 2
    if df <= 0:
        return Estimate(scale, diff, None, 0, "unpaired", n1, n2, ref_level, oth_level)
    pooled = (sum((v - statistics.fmean(x)) ** 2 for v in x) + sum((v - statistics.fmean(y)) ** 2 for v in y)) / df
    return Estimate(scale, diff, math.sqrt(pooled * (1 / n1 + 1 / n2)), df, "unpaired", n1, n2, ref_level, oth_level)


def one_sample(values: Sequence[float], scale: Scale) -> Estimate:
    """The mean of per-cluster values against no change (a paired ratio's logarithms, or differences): one-sample
    t with ``len(values) - 1`` degrees of freedom."""
    n = len(values)
    centre = statistics.fmean(values) if values else math.nan
    if n < 2:
        return Estimate(scale, centre, None, 0, "paired within cluster", n, n, None, None)
    se = statistics.stdev(values) / math.sqrt(n)
    return Estimate(scale, centre, se, n - 1, "paired within cluster", n, n, None, None)


@dataclass(frozen=True)
class Judgement:
    """An :class:`Estimate` judged within its family of ``family`` comparisons at ``alpha``.

    ``low``, ``high``: the interval of the estimate (same scale as it) at ``level_each = 1 - alpha / family``
    (together, every interval of the family covers with at least ``1 - alpha``: ``ci_level``). ``p_adjusted``:
    ``min(1, family * p)`` (Bonferroni). ``outcome``: read off the interval (see the module); ``mde``: the smallest
    relative change (a fraction) this design detects with :data:`POWER` at this family's level, from the observed
    standard error (None when untestable). ``margin``: the equivalence margin, a fraction."""

    estimate: Estimate
    family: int
    alpha: float
    margin: float
    low: float | None
    high: float | None
    p_adjusted: float | None
    outcome: Outcome
    mde: float | None
    why: str = ""

    @property
    def ci_level(self) -> float:
        return 1 - self.alpha

    @property
    def level_each(self) -> float:
        return 1 - self.alpha / max(1, self.family)

    def as_ratio(self, value: float | None) -> float | None:
        """A value of the estimate's scale as a ratio other / reference (None when there is none: a linear metric
        whose reference is not positive)."""
        e = self.estimate
        if value is None or math.isnan(value):
            return None
        if e.scale == "log":
            return _exp(value)
        if e.reference_level is None or e.reference_level <= 0:
            return None
        return (e.reference_level + value) / e.reference_level

    @property
    def ratio(self) -> float | None:
        """The estimate as ``other / reference`` on the metric's own scale."""
        return self.as_ratio(self.estimate.estimate)

    @property
    def ci(self) -> tuple[float, float] | None:
        """The interval as ratios ``[low, high]``; None when untestable or without a ratio."""
        low, high = self.as_ratio(self.low), self.as_ratio(self.high)
        return None if low is None or high is None else (low, high)

    @property
    def change(self) -> float | None:
        """The estimate as a relative change (a fraction: ``-0.17``, 17 % lower); None without a ratio."""
        r = self.ratio
        return None if r is None else r - 1.0


def _exp(value: float) -> float:
    """``exp(value)``, ``inf`` past the largest float (a log-scale interval of 2 clusters over a big family can reach
    thousands: Student's t with 1 degree of freedom at 0.05 / 70 is about 900)."""
    try:
        return math.exp(value)
    except OverflowError:
        return math.inf


def _critical(df: int, alpha_each: float) -> float:
    from scipy.stats import t

    return float(t.ppf(1 - alpha_each / 2, df))


def minimum_detectable(se: float, df: int, family: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """The smallest true difference (in the estimate's scale) a two-sided t-test at ``alpha / family`` detects with
    ``power``: ``(t(1 - alpha / 2m) + t(power)) * se`` (the usual approximation of the noncentral t, e.g.
    Cohen 1988, section 2.5)."""
    from scipy.stats import t

    return (_critical(df, alpha / max(1, family)) + float(t.ppf(power, df))) * se


def judge(estimates: Sequence[Estimate], *, alpha: float = ALPHA, margin: float = DEFAULT_MARGIN) -> list[Judgement]:
    """Each estimate judged in one family (Bonferroni over the testable ones; see the module)."""
    m = sum(1 for e in estimates if e.testable)
    return [_judge_one(e, m, alpha, margin) for e in estimates]


def _relative(e: Estimate, amount: float) -> float | None:
    """A difference on the estimate's scale as a relative change (a fraction)."""
    if e.scale == "log":
        return _exp(amount) - 1
    if e.reference_level is None or e.reference_level == 0:
        return None
    return amount / abs(e.reference_level)


def _judge_one(e: Estimate, family: int, alpha: float, margin: float) -> Judgement:
    if not e.testable or e.se is None:
        if e.clusters_reference == 0 or e.clusters_other == 0:
            why = "no successful cluster on one side"
        elif e.design == "paired within cluster":
            why = f"{e.clusters_other} cluster: no variance between clusters to test"
        else:
            why = f"{e.clusters_other} vs {e.clusters_reference} cluster(s): no variance between clusters to test"
        return Judgement(e, family, alpha, margin, None, None, None, "inconclusive", None, why)
    half = _critical(e.df, alpha / family) * e.se
    low, high = e.estimate - half, e.estimate + half
    p = e.p_value
    p_adjusted = None if p is None else min(1.0, p * family)
    j = Judgement(e, family, alpha, margin, low, high, p_adjusted, "inconclusive", None)
    ci = j.ci
    if ci is not None and 1 - margin <= ci[0] and ci[1] <= 1 + margin:
        outcome: Outcome = "equivalent"
    elif low > 0 or high < 0:
        outcome = "different"
    else:
        outcome = "inconclusive"
    mde = _relative(e, minimum_detectable(e.se, e.df, family, alpha)) if e.se > 0 else 0.0
    return replace(j, outcome=outcome, mde=mde)


# --------------------------------------------------------------------------------------------- across runs


def against_history(value: float, history: Sequence[float], scale: Scale) -> Estimate:
    """A run's value against earlier runs' values (same scale), as an :class:`Estimate` whose interval (from
    :func:`judge`) is the t prediction interval for one new run, ``mean ± t(n - 1) * s * sqrt(1 + 1 / n)`` (Hahn,
    Meeker & Escobar, *Statistical Intervals*, 2nd ed., 2017, section 4.6), shifted to the difference: ``estimate``
    is the value minus the history's mean. Untestable (``df`` 0) with fewer than 2 earlier runs."""
    n = len(history)
    centre = statistics.fmean(history) if history else math.nan
    level = math.exp(centre) if scale == "log" and history else centre
    mine = math.exp(value) if scale == "log" else value
    if n < 2:
        return Estimate(scale, value - centre, None, 0, f"run vs {n} earlier run(s)", n, 1, level, mine)
    se = statistics.stdev(history) * math.sqrt(1 + 1 / n)
    return Estimate(scale, value - centre, se, n - 1, f"run vs {n} earlier runs", n, 1, level, mine)


# --------------------------------------------------------------------------------------------- planning

#: Priors for planning when the store has no earlier run of the spec: the standard deviation of one repetition's
#: natural log (about its cv) per primary metric, measured on the netns platform on 2 cores (the 12-repetition pool
#: runs in ``tests/data/results``, medians over CNIs and runs: egress throughput 0.10-0.12, ingress requests/s and
#: p95 about 0.20), and :data:`PRIOR_ICC` of it between clusters.
PRIOR_LOG_SD = {"throughput_bps": 0.12, "requests_per_s": 0.20, "latency_p95_ms": 0.20}
#: The prior for a metric :data:`PRIOR_LOG_SD` does not list.
PRIOR_LOG_SD_OTHER = 0.20
#: The share of a repetition's variance that lies between clusters (the intra-class correlation): the real pool
#: runs give a median of 0.58 over blocks of 3 consecutive repetitions.
PRIOR_ICC = 0.58


def cluster_sd_prior(metric: str, repetitions: int) -> float:
    """The prior standard deviation of one cluster value (log scale) with ``repetitions`` per cluster:
    ``sd * sqrt(icc + (1 - icc) / repetitions)``."""
    sd = PRIOR_LOG_SD.get(metric, PRIOR_LOG_SD_OTHER)
    return sd * math.sqrt(PRIOR_ICC + (1 - PRIOR_ICC) / max(1, repetitions))


@dataclass(frozen=True)
class Power:
    """What a design can show for one metric: ``clusters`` per CNI, the test's ``design`` and ``df``, the family
    size, and ``mde``, the smallest relative difference (a fraction) found *different* with :data:`POWER`, from
    ``cluster_sd`` (log scale; ``source``: ``prior`` or ``N earlier runs``). ``equivalence``: the largest true
    difference (a fraction) for which the interval is still expected to fit in ``margin`` (None: never)."""

    clusters: int
    design: str
    df: int
    family: int
    cluster_sd: float
    source: str
    mde: float | None
    equivalence: float | None


def power(clusters: int, family: int, cluster_sd: float, source: str, margin: float = DEFAULT_MARGIN) -> Power:
    """The power analysis of one comparison of two CNIs with ``clusters`` clusters each (see :class:`Power`): the
    paired design from :data:`BLOCKED_MIN_ROUNDS` rounds on, its standard error ``sd * sqrt(2 / clusters)`` (the
    round effect cancels in the pairs; unpaired, round effects only add to it)."""
    paired = clusters >= BLOCKED_MIN_ROUNDS
    df = clusters - 1 if paired else 2 * clusters - 2
    design = "paired by round" if paired else "unpaired"
    if df <= 0:
        return Power(clusters, design, df, family, cluster_sd, source, None, None)
    se = cluster_sd * math.sqrt(2 / clusters)
    mde = math.exp(minimum_detectable(se, df, family)) - 1
    half = _critical(df, ALPHA / max(1, family)) * se  # the expected half-width of the interval, log scale
    room = math.log(1 + margin) - half
    return Power(clusters, design, df, family, cluster_sd, source, mde, math.exp(room) - 1 if room > 0 else None)
