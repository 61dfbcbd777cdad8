"""Small text helpers for the terminal summary's tables (the scenarios' and the run's own lines)."""

from __future__ import annotations

from collections.abc import Sequence

from cnibench.results.sample import SampleBase
from cnibench.results.stats import CV_WARNING, Summary, summarize


def summarize_field(samples: Sequence[SampleBase], field: str) -> Summary | None:
    """Summary of one figure over the successful samples that have it; None when none has it."""
    values = [getattr(s, field, None) for s in samples if s.status == "ok"]
    return summarize([float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)])


def number_text(value: float | None, scale: float = 1.0, digits: int = 2) -> str:
    return "-" if value is None else f"{value / scale:.{digits}f}"


def median_text(summary: Summary | None, scale: float = 1.0, digits: int = 2) -> str:
    return number_text(summary.median if summary else None, scale, digits)


def cv_text(summary: Summary | None) -> str:
    """The coefficient of variation in %, flagged with ``!`` from :data:`CV_WARNING`."""
    cv = summary.cv if summary else None
    return "-" if cv is None else f"{cv * 100:.1f}%" + (" !" if cv >= CV_WARNING else "")


def table(header: tuple[str, ...], body: Sequence[tuple[str, ...]]) -> list[str]:
    """Left-aligned columns, two spaces apart."""
    widths = [max(len(x) for x in col) for col in zip(header, *body, strict=True)]
    return ["  ".join(x.ljust(w) for x, w in zip(row, widths, strict=True)).rstrip() for row in (header, *body)]
