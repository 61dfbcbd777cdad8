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
