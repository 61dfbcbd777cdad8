"""Small, dependency-free statistics for summaries: median, mean, sample stdev, coefficient of variation."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
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


def mann_whitney(a: Sequence[float], b: Sequence[float], alternative: str = "two-sided") -> float | None:
    """p-value of the Mann-Whitney U test (exact for small samples, as SciPy chooses); None below 2 per side."""
    if len(a) < 2 or len(b) < 2:
        return None
    from scipy.stats import mannwhitneyu

    return float(mannwhitneyu(list(a), list(b), alternative=alternative).pvalue)
