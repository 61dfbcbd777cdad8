"""Statistics for summaries, verdicts and comparisons.

Descriptive figures (median, mean, sample stdev, coefficient of variation) come from the standard library; the
inferential ones follow the nonparametric textbook and use SciPy:

* the confidence interval of the median is the exact order-statistic (binomial) interval (Conover, *Practical
  Nonparametric Statistics*, 3rd ed., 1999, section 3.2; what ``scipy.stats.quantile_test`` returns): for ``n`` too
  small for the asked level it is ``[min, max]`` with the level it really has (``1 - 2 * 0.5**n``: 75 % at n = 3);
* Mann-Whitney U is exact (no ties) or an exact/permutation test (ties: integer RTTs, counts), never the normal
  approximation, which at n = 3 turns ``[31, 31, 31]`` vs ``[39, 39, 39]`` into p = 0.047;
* the smallest p-value a sample size can reach is computed before anything is measured;
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

#: Bootstrap settings: seeded, so the same data always gives the same interval.
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 20241217
MIN_REPETITIONS = 3


def bootstrap_median_ci(
    values: Sequence[float],
    *,
    confidence: float = 0.95,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float] | None:
    """Percentile-bootstrap confidence interval of the median; None with fewer than two values."""
    if len(values) < 2:
        return None
    import numpy as np

    rng = np.random.default_rng(seed)
    data = np.asarray(values, dtype=float)
    medians = np.median(rng.choice(data, size=(resamples, data.size), replace=True), axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(medians, [tail, 1 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class MetricStats:
    """One metric of one CNI x scenario: over the successful repetitions only; failures counted apart."""

    n: int
    failed: int
    median: float | None
    mean: float | None
    stdev: float | None
    minimum: float | None
    maximum: float | None
    ci: tuple[float, float] | None
    values: tuple[float, ...]

    @property
    def cv(self) -> float | None:
        if self.n < 2 or not self.mean or self.stdev is None:
            return None
        return self.stdev / abs(self.mean)

    def warnings(self) -> list[str]:
        out = []
        if self.cv is not None and self.cv >= CV_WARNING:
            out.append(f"stdev is {self.cv:.0%} of the mean (>= {CV_WARNING:.0%})")
        if self.n < MIN_REPETITIONS:
            out.append(f"only {self.n} successful repetition(s) (fewer than {MIN_REPETITIONS})")
        if self.failed:
            out.append(f"{self.failed} failed repetition(s) left out")
        return out


def metric_stats(values: Sequence[float], failed: int = 0) -> MetricStats:
    summary = summarize(values)
    return MetricStats(
        n=len(values),
        failed=failed,
        median=summary.median if summary else None,
        mean=summary.mean if summary else None,
        stdev=summary.stdev if summary else None,
        minimum=summary.minimum if summary else None,
        maximum=summary.maximum if summary else None,
        ci=bootstrap_median_ci(values),
        values=tuple(float(v) for v in values),
    )


# --------------------------------------------------------------------------------------------- inference

#: The permutations the tied Mann-Whitney test may enumerate: every split of up to 10 vs 10 (184,756) is counted
#: exactly; larger samples are resampled with a fixed seed (the same data always gives the same p).
PERMUTATIONS = 200_000
PERMUTATION_SEED = 20261203


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


def median_interval(values: Sequence[float], confidence: float = 0.95) -> MedianInterval | None:
    """The widest-needed symmetric order-statistic interval ``[x(j), x(n+1-j)]`` of the median whose coverage
    ``P(j <= B <= n - j)``, ``B ~ Binomial(n, 1/2)``, is at least ``confidence``; with too few values for that,
    ``[min, max]`` with its real coverage. None for fewer than two values."""
    from scipy.stats import binom

    data = sorted(float(v) for v in values)
    n = len(data)
    if n < 2:
        return None
    best = 1  # j = 1: [min, max]
    for j in range(1, n // 2 + 1):
        if binom.cdf(n - j, n, 0.5) - binom.cdf(j - 1, n, 0.5) >= confidence:
            best = j
        else:
            break
    level = float(binom.cdf(n - best, n, 0.5) - binom.cdf(best - 1, n, 0.5))
    return MedianInterval(data[best - 1], data[n - best], level)


def min_p_value(n1: int, n2: int, alternative: str = "two-sided") -> float:
    """The smallest p-value an exact Mann-Whitney U test can give for samples of ``n1`` and ``n2``: one split of
    ``C(n1 + n2, n1)`` (two for a two-sided test) is the most extreme. 3 vs 3: 0.10; 5 vs 5: 0.0079. Ties only make
    it larger."""
    if n1 < 1 or n2 < 1:
        return 1.0
    return min(1.0, (2.0 if alternative == "two-sided" else 1.0) / math.comb(n1 + n2, n1))


def mann_whitney(a: Sequence[float], b: Sequence[float], alternative: str = "two-sided") -> float | None:
    """p-value of the Mann-Whitney U test: exact without ties, an exact (or, above :data:`PERMUTATIONS` splits,
    seeded Monte Carlo) permutation test with ties. None with fewer than two values on a side."""
    if len(a) < 2 or len(b) < 2:
        return None
    from scipy.stats import PermutationMethod, mannwhitneyu

    x, y = [float(v) for v in a], [float(v) for v in b]
    tied = len(set(x + y)) < len(x) + len(y)
    if not tied:
        return float(mannwhitneyu(x, y, alternative=alternative, method="exact").pvalue)
    import numpy as np

    method = PermutationMethod(n_resamples=PERMUTATIONS, rng=np.random.default_rng(PERMUTATION_SEED))
    return float(mannwhitneyu(x, y, alternative=alternative, method=method).pvalue)


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
