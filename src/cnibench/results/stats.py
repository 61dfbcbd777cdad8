"""Statistics for summaries, verdicts and comparisons.

Descriptive figures (median, mean, sample stdev, coefficient of variation) come from the standard library; the
inferential ones follow the nonparametric textbook and use SciPy:

* the confidence interval of the median is the exact order-statistic (binomial) interval (Conover, *Practical
  Nonparametric Statistics*, 3rd ed., 1999, section 3.2; what ``scipy.stats.quantile_test`` returns): for ``n`` too
  small for the asked level it is ``[min, max]`` with the level it really has (``1 - 2 * 0.5**n``: 75 % at n = 3);
* Mann-Whitney U is exact (no ties) or an exact permutation test (ties: integer RTTs, counts), never the normal
  approximation at small n, which at n = 3 turns ``[31, 31, 31]`` vs ``[39, 39, 39]`` into p = 0.047;
* the smallest p-value a sample size can reach is computed before anything is measured;
* how one sample differs from another is the Hodges-Lehmann estimate with Moses' distribution-free interval,
  the interval that inverts the same Mann-Whitney test (so it excludes "no difference" exactly when the test
  rejects at its level), on the logarithms when every value is positive (a ratio) and on the values otherwise;
* a ratio of paired repetitions (the egress policy and its baseline, run back to back) gets the order-statistic
  interval of the median of the per-pair ratios;
* families of tests are controlled with Holm's step-down method or Benjamini-Hochberg.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

#: pyperf warns when the standard deviation reaches 10% of the mean; so do we.
CV_WARNING = 0.10


@dataclass(frozen=True)
class Summary:
    n: int
    median: float
    mean: float
    stdev: float  # sample standard deviation (n-1); 0.0 for a single value
    minimum: float
    maximum: float

    @property
    def cv(self) -> float | None:
        """Coefficient of variation (stdev / mean), None when undefined."""
        if self.n < 2 or self.mean == 0:
            return None
        return self.stdev / abs(self.mean)

    @property
    def unstable(self) -> bool:
        cv = self.cv
        return cv is not None and cv >= CV_WARNING


def summarize(values: Sequence[float]) -> Summary | None:
    """Summary of ``values``; None when there are none."""
    if not values:
        return None
    data = [float(v) for v in values]
    return Summary(
        n=len(data),
        median=statistics.median(data),
        mean=statistics.fmean(data),
        stdev=statistics.stdev(data) if len(data) > 1 else 0.0,
        minimum=min(data),
        maximum=max(data),
    )


def jain_fairness(values: Sequence[float]) -> float | None:
    """Jain's fairness index, (sum x)^2 / (n * sum x^2): 1.0 when all are equal, 1/n when one gets everything.
    None when there is nothing to share (no values, or all zero)."""
    if not values:
        return None
    total = float(sum(values))
    squares = float(sum(v * v for v in values))
    return None if squares == 0 else total * total / (len(values) * squares)


def max_min_ratio(values: Sequence[float]) -> float | None:
    """Largest over smallest; None when the smallest is zero (the ratio is infinite) or there are no values."""
    if not values or min(values) <= 0:
        return None
    return float(max(values)) / float(min(values))


# --------------------------------------------------------------------------------------------- per metric

#: The confidence of every interval (a fraction), when the sample size allows it.
CONFIDENCE = 0.95
#: Fewer successful repetitions than this are warned about.
MIN_REPETITIONS = 3
#: pyperf warns when the minimum or the maximum is this far (a fraction of the mean) from the mean.
OUTLIER_WARNING = 0.50


@dataclass(frozen=True)
class MetricStats:
    """One metric of one CNI x scenario: over the successful repetitions only; failures counted apart. ``ci`` is
    the median's exact order-statistic interval with the level it really has (:func:`median_interval`)."""

    n: int
    failed: int
    median: float | None
    mean: float | None
    stdev: float | None
    minimum: float | None
    maximum: float | None
    ci: MedianInterval | None
    values: tuple[float, ...]

    @property
    def cv(self) -> float | None:
        if self.n < 2 or not self.mean or self.stdev is None:
            return None
        return self.stdev / abs(self.mean)

    def stability_warnings(self) -> list[str]:
        """pyperf's checks (``format_checks`` in psf/pyperf ``pyperf/_cli.py``): the standard deviation at least
        10 % of the mean; the minimum or the maximum at least 50 % away from the mean."""
        out = []
        if self.cv is not None and self.cv >= CV_WARNING:
            out.append(f"stdev is {self.cv:.0%} of the mean (>= {CV_WARNING:.0%})")
        if self.mean and self.n >= 2:
            for name, value in (("minimum", self.minimum), ("maximum", self.maximum)):
                away = ((value or 0.0) - self.mean) / abs(self.mean)
                if abs(away) >= OUTLIER_WARNING:
                    side = "above" if away > 0 else "below"
                    out.append(f"the {name} is {abs(away):.0%} {side} the mean (>= {OUTLIER_WARNING:.0%})")
        return out

    def warnings(self) -> list[str]:
        """:meth:`stability_warnings`, then too few and failed repetitions."""
        out = self.stability_warnings()
        if self.n < MIN_REPETITIONS:
            out.append(f"only {self.n} successful repetition(s) (fewer than {MIN_REPETITIONS})")
        if self.failed:
            out.append(f"{self.failed} failed repetition(s) left out")
        return out


def metric_stats(values: Sequence[float], failed: int = 0) -> MetricStats:
    """The statistics of one metric's successful ``values`` (``failed``: repetitions left out)."""
    summary = summarize(values)
    return MetricStats(
        n=len(values),
        failed=failed,
        median=summary.median if summary else None,
        mean=summary.mean if summary else None,
        stdev=summary.stdev if summary else None,
        minimum=summary.minimum if summary else None,
        maximum=summary.maximum if summary else None,
        ci=median_interval(values),
        values=tuple(float(v) for v in values),
    )


# --------------------------------------------------------------------------------------------- inference

#: The Mann-Whitney test is exact up to this many values in both samples together (with ties: every split counted,
#: 50 vs 50 is a table of 51 x 10,101 counts, built in milliseconds); beyond that, SciPy's normal approximation with
#: the tie and continuity corrections, accurate at such sizes (its error in p is below 0.001 from about 20 values a
#: side) and far cheaper: SciPy's exact distribution for 167 vs 167 took 0.17 s per test here.
EXACT_VALUES = 100


@dataclass(frozen=True)
class MedianInterval:
    """The exact order-statistic confidence interval of a median: ``[low, high]`` and ``level``, the coverage it
    really has (a fraction; at least the asked level when n allows it, else the most n gives)."""

    low: float
    high: float
    level: float

    def describe(self, show: Callable[[float], str] = lambda v: f"{v:g}", asked: float = 0.95) -> str:
        """``[a, b]`` when the interval has the asked level, ``[a, b], 75 %`` when it has less."""
        text = f"[{show(self.low)}, {show(self.high)}]"
        return text if self.level >= asked - 1e-12 else f"{text}, {self.level:.0%}"


def median_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> MedianInterval | None:
    """The widest-needed symmetric order-statistic interval ``[x(j), x(n+1-j)]`` of the median whose coverage
    ``P(j <= B <= n - j)``, ``B ~ Binomial(n, 1/2)``, is at least ``confidence``; with too few values for that,
    ``[min, max]`` with its real coverage. None for fewer than two values."""
    data = sorted(float(v) for v in values)
    n = len(data)
    if n < 2:
        return None

    def coverage(j: int) -> float:  # exact, in integers: sum of C(n, i) for j <= i <= n - j, over 2^n
        return sum(math.comb(n, i) for i in range(j, n - j + 1)) / (1 << n)

    best = 1  # j = 1: [min, max]
    while best < n // 2 and coverage(best + 1) >= confidence:
        best += 1
    return MedianInterval(data[best - 1], data[n - best], coverage(best))


def values_needed(confidence: float = CONFIDENCE) -> int:
    """The fewest values whose ``[min, max]`` covers the median with ``confidence``: 6 for 95 % (5 give 93.75 %)."""
    n = 2
    while 1 - 2 * 0.5**n < confidence:
        n += 1
    return n


def min_p_value(n1: int, n2: int, alternative: str = "two-sided") -> float:
    """The smallest p-value an exact Mann-Whitney U test can give for samples of ``n1`` and ``n2``: one split of
    ``C(n1 + n2, n1)`` (two for a two-sided test) is the most extreme. 3 vs 3: 0.10; 5 vs 5: 0.0079. Ties only make
    it larger."""
    if n1 < 1 or n2 < 1:
        return 1.0
    return min(1.0, (2.0 if alternative == "two-sided" else 1.0) / math.comb(n1 + n2, n1))


def mann_whitney(a: Sequence[float], b: Sequence[float], alternative: str = "two-sided") -> float | None:
    """p-value of the Mann-Whitney U test of ``a`` against ``b`` (``greater``: ``a`` tends to be larger), exact up
    to :data:`EXACT_VALUES` values: without ties SciPy's exact distribution; with ties (integer RTTs, counts) the
    exact permutation test, every split of the pooled values counted (:func:`tied_permutation_p`). Beyond that,
    SciPy's normal approximation with the tie and continuity corrections. Never the normal approximation at small
    n, which turns ``[31, 31, 31]`` vs ``[39, 39, 39]`` into p = 0.047 (the exact p is 0.10). None with fewer than
    two values on a side."""
    if len(a) < 2 or len(b) < 2:
        return None
    from scipy.stats import mannwhitneyu

    x, y = [float(v) for v in a], [float(v) for v in b]
    if len(x) + len(y) > EXACT_VALUES:
        return float(mannwhitneyu(x, y, alternative=alternative, method="asymptotic").pvalue)
    if len(set(x + y)) == len(x) + len(y):  # no ties
        return float(mannwhitneyu(x, y, alternative=alternative, method="exact").pvalue)
    return tied_permutation_p(x, y, alternative)


def tied_permutation_p(a: Sequence[float], b: Sequence[float], alternative: str = "two-sided") -> float:
    """The exact permutation p-value of the rank sum of ``a`` (mid-ranks for ties) over all ``C(m + n, m)`` ways to
    split the pooled values into samples of ``m = len(a)`` and ``n = len(b)``; two-sided: twice the smaller tail,
    at most 1 (SciPy's ``permutation_test`` convention).

    Written here because SciPy offers it only as ``permutation_test``, which evaluates every split one by one: 18 s
    for one 10 vs 10 test on this machine, too slow for a report of many metrics. This counts the splits by their
    rank sum instead (the knapsack recursion of the network algorithm, Mehta, Patel & Tsiatis 1984; Streitberg &
    Röhmel's shift algorithm, 1986): ``ways[k, t]``, the subsets of ``k`` values whose doubled mid-ranks sum to
    ``t``, one pooled value at a time. Tested against a brute-force enumeration of every split."""
    import numpy as np
    from scipy.stats import rankdata

    m, pooled = len(a), [*a, *b]
    doubled = [round(2 * r) for r in rankdata(pooled)]  # mid-ranks are multiples of 1/2
    top = sum(sorted(doubled)[-m:])
    ways = np.zeros((m + 1, top + 1))
    ways[0, 0] = 1.0
    for r in doubled:
        ways[1:, r:] += ways[:-1, : top + 1 - r]  # NumPy reads the right side whole first: each value used once
    counts = ways[m] / math.comb(len(pooled), m)
    observed = sum(doubled[:m])
    greater, less = float(counts[observed:].sum()), float(counts[: observed + 1].sum())
    if alternative == "greater":
        return min(1.0, greater)
    if alternative == "less":
        return min(1.0, less)
    return min(1.0, 2 * min(greater, less))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (Holm 1979), in the input's order: reject ``i`` when its adjusted p is
    at most alpha, with the family-wise error rate at most alpha. (Written here: SciPy has Benjamini-Hochberg,
    ``false_discovery_control``, but not Holm; statsmodels would be a dependency for five lines.)"""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (false discovery rate), in the input's order (SciPy's)."""
    if not p_values:
        return []
    from scipy.stats import false_discovery_control

    return [float(p) for p in false_discovery_control(list(p_values), method="bh")]


# --------------------------------------------------------------------------------------------- differences


def u_counts(m: int, n: int) -> list[int]:
    """How many of the ``C(m + n, m)`` equally likely arrangements of two samples without ties give each value
    ``U = 0 .. m * n`` of the Mann-Whitney statistic: the coefficients of the Gaussian binomial coefficient
    ``[m + n choose m]_q`` (Mann & Whitney 1947), built as ``prod_i (1 - q^(n+i)) / (1 - q^i)`` in exact integers.
    (Written here: SciPy computes this distribution inside ``mannwhitneyu`` but does not expose it.)"""
    size = m * n + 1
    poly = [1] + [0] * (size - 1)
    for i in range(1, m + 1):
        for k in range(size - 1, n + i - 1, -1):  # times (1 - q^(n+i)), truncated at degree m * n
            poly[k] -= poly[k - n - i]
        for k in range(i, size):  # divided by (1 - q^i): a running sum with stride i
            poly[k] += poly[k - i]
    return poly


@dataclass(frozen=True)
class Shift:
    """How sample ``b`` differs from sample ``a``.

    ``relative`` (every value positive): ``estimate``, ``low`` and ``high`` are ratios ``b / a`` (the
    Hodges-Lehmann estimate and Moses' interval of the shift of the logarithms, exponentiated); otherwise they are
    differences ``b - a`` in the values' unit. ``level`` is the interval's real coverage (a fraction: 0.95 when the
    sample sizes allow it, else the most they give: 0.90 at 3 vs 3). ``p_value``: the Mann-Whitney test of
    ``alternative``; ``min_p``: the smallest p those sample sizes can give."""

    relative: bool
    estimate: float
    low: float
    high: float
    level: float
    p_value: float
    min_p: float
    n_a: int
    n_b: int
    alternative: str = "two-sided"

    @property
    def change(self) -> float:
        """The estimate as a change from ``a``: a fraction (``-0.098``: 9.8 % lower) when relative, else ``b - a``."""
        return self.estimate - 1.0 if self.relative else self.estimate

    @property
    def interval(self) -> tuple[float, float]:
        """The interval as changes (see :attr:`change`)."""
        offset = 1.0 if self.relative else 0.0
        return self.low - offset, self.high - offset


def shift(
    a: Sequence[float], b: Sequence[float], *, alternative: str = "two-sided", confidence: float = CONFIDENCE
) -> Shift | None:
    """How ``b`` differs from ``a`` (see :class:`Shift`); None with fewer than two values on a side.

    Moses' interval (Hollander, Wolfe & Chicken, *Nonparametric Statistical Methods*, 3rd ed., 2014, section 4.3):
    the ``m * n`` differences ``b_j - a_i`` sorted, ``[D(k), D(mn + 1 - k)]`` with ``k`` the largest whose coverage
    ``1 - 2 P(U <= k - 1)`` is at least ``confidence`` (``[D(1), D(mn)]`` with its real coverage when none is);
    the estimate is their median. It needs no normal distribution and is the interval of the very test reported
    beside it. With ties (integer RTTs) the coverage is approximate; the p-value stays exact (:func:`mann_whitney`).
    """
    x, y = [float(v) for v in a], [float(v) for v in b]
    m, n = len(x), len(y)
    p_value = mann_whitney(x, y, alternative)
    if p_value is None:
        return None
    relative = min(x + y) > 0
    if relative:
        x, y = [math.log(v) for v in x], [math.log(v) for v in y]
    differences = sorted(yj - xi for xi in x for yj in y)
    k, level = _moses_k(m, n, confidence)
    back = math.exp if relative else float
    return Shift(
        relative=relative,
        estimate=back(statistics.median(differences)),
        low=back(differences[k - 1]),
        high=back(differences[-k]),
        level=level,
        p_value=p_value,
        min_p=min_p_value(m, n, alternative),
        n_a=m,
        n_b=n,
        alternative=alternative,
    )


#: Above this many pairs of values (m * n) the exact U distribution gives way to its normal approximation
#: (Hollander, Wolfe & Chicken, eq. 4.41), which is accurate there and spares building the distribution.
EXACT_PAIRS = 2500


def _moses_k(m: int, n: int, confidence: float) -> tuple[int, float]:
    """Moses' ``k`` (the interval is ``[D(k), D(mn + 1 - k)]``) and the coverage it really has."""
    if m * n > EXACT_PAIRS:
        from scipy.stats import norm

        sd = math.sqrt(m * n * (m + n + 1) / 12)
        k = max(1, math.floor(m * n / 2 - norm.ppf(1 - (1 - confidence) / 2) * sd))
        return k, float(1 - 2 * norm.cdf((k - 0.5 - m * n / 2) / sd))
    counts, total = u_counts(m, n), math.comb(m + n, m)
    k, below = 1, counts[0]  # below: arrangements with U <= k - 1
    while k < m * n // 2 and 1 - 2 * (below + counts[k]) / total >= confidence:
        below += counts[k]
        k += 1
    return k, 1 - 2 * below / total


@dataclass(frozen=True)
class PairedRatio:
    """The ratio of paired repetitions (e.g. with the egress policy over its baseline run just before): the median
    of the per-pair ratios and its exact order-statistic interval (None for fewer than two pairs)."""

    ratios: tuple[float, ...]
    median: float
    interval: MedianInterval | None

    @property
    def too_few(self) -> bool:
        """Too few pairs for an interval of :data:`CONFIDENCE` (fewer than 6: ``[min, max]`` of 5 covers 94 %)."""
        return self.interval is None or self.interval.level < CONFIDENCE - 1e-12

    @property
    def inconclusive(self) -> bool:
        """No cost or gain is shown: the interval contains 1, or it is not a :data:`CONFIDENCE` interval."""
        return self.too_few or self.interval is None or self.interval.low <= 1.0 <= self.interval.high


def paired_ratio(pairs: Sequence[tuple[float, float]], confidence: float = CONFIDENCE) -> PairedRatio | None:
    """Per pair ``(numerator, denominator)`` the ratio; their median and its order-statistic interval (the sign
    test's interval, Conover section 3.2: it assumes nothing about the ratios' distribution, not even symmetry,
    which the Wilcoxon signed-rank interval would). Pairs with a denominator <= 0 are left out; None without any."""
    ratios = tuple(num / den for num, den in pairs if den > 0)
    if not ratios:
        return None
    return PairedRatio(ratios, statistics.median(ratios), median_interval(ratios, confidence))
