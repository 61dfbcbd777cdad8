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
