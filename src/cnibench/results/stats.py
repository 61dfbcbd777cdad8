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
