"""What a metric is: a sample field that statistics, reports and ``compare`` read, its unit, and which way is better.
A leaf (it knows samples only), so that results and scenarios can both import it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cnibench.results.sample import SampleBase

#: What a larger and a smaller value of a metric mean, for the headline ("vxlan is 9.8 % slower than hostgw").
FASTER: tuple[str, str] = ("faster", "slower")  # a rate
SLOWER: tuple[str, str] = ("slower", "faster")  # a time


@dataclass(frozen=True)
class MetricInfo:
    """A sample figure that statistics, reports and ``compare`` look at: its field, label, unit (the value divided
    by ``scale`` is in ``unit``) and which way is better.

    ``role``: a ``contest`` is compared between CNIs and runs (medians, intervals, tests); a ``check`` is a floor or
    ceiling every repetition must keep (failed requests, backend fairness, UDP loss): CNIs that all keep it are not
    ranked by noise around it (a Jain index of 0.99999999989 vs 0.99999999986 is no contest). A check's limit is
    the sample's own ``limit_field`` when it has one (the spec's threshold the run used), else ``limit``, in the
    field's unit; ``better`` says which side passes (lower: value <= limit).

    ``primary``: the metrics the headline states and ``compare`` gates on by default. ``absolute``: the smallest
    change that counts, in the field's unit, where a relative change does not exist (a median of 0). ``words``:
    what a larger and a smaller value mean ("faster", "slower" for a throughput)."""

    name: str
    label: str
    unit: str
    scale: float
    better: Literal["higher", "lower"]
    digits: int = 2
    role: Literal["contest", "check"] = "contest"
    primary: bool = False
    limit: float | None = None
    limit_field: str | None = None
    absolute: float | None = None
    words: tuple[str, str] = ("higher", "lower")

    def show(self, value: float | None) -> str:
        return "-" if value is None else f"{value / self.scale:,.{self.digits}f}"

    def limit_of(self, sample: SampleBase) -> float | None:
        """The check's limit for ``sample`` (its own recorded threshold first); None for a contest."""
        own = getattr(sample, self.limit_field, None) if self.limit_field else None
        return float(own) if isinstance(own, int | float) and not isinstance(own, bool) else self.limit

    def passes(self, value: float, limit: float) -> bool:
        """Whether ``value`` keeps ``limit`` (on the better side of it, or equal)."""
        return value <= limit if self.better == "lower" else value >= limit

    def worse(self, change: float) -> bool:
        """Whether a change (after minus before, or a relative change) goes the wrong way."""
        return change < 0 if self.better == "higher" else change > 0
