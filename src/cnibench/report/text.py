"""Small text helpers for the terminal summary's tables (the scenarios' and the run's own lines)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

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


#: The width (columns) a table folds to: the summary's (the terminal's, or 100 on a pipe) while
#: :func:`table_width` holds it, else 100. A context variable rather than a parameter: every scenario's
#: ``summary_lines`` builds its tables with :func:`table` and need not know the terminal.
TABLE_WIDTH: ContextVar[int] = ContextVar("table_width", default=100)


@contextmanager
def table_width(columns: int) -> Iterator[None]:
    """Tables built in this block fold to ``columns``."""
    token = TABLE_WIDTH.set(columns)
    try:
        yield
    finally:
        TABLE_WIDTH.reset(token)


def table(header: tuple[str, ...], body: Sequence[tuple[str, ...]]) -> list[str]:
    """Left-aligned columns, two spaces apart. A table wider than :data:`TABLE_WIDTH` is folded: its first column
    (what a row is: the CNI) repeated beside as many further columns as fit, block after block, a blank line
    between blocks."""
    widths = [max(len(x) for x in col) for col in zip(header, *body, strict=True)]
    rows = (header, *body)
    limit = TABLE_WIDTH.get()
    whole = ["  ".join(x.ljust(w) for x, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    if all(len(line) <= limit for line in whole) or len(widths) <= 2:
        return whole
    out: list[str] = []
    start = 1
    while start < len(widths):
        used, end = widths[0], start
        while end < len(widths) and used + 2 + widths[end] <= limit:
            used += 2 + widths[end]
            end += 1
        end = max(end, start + 1)  # a column wider than the limit stands alone
        if out:
            out.append("")
        columns = [0, *range(start, end)]
        out += ["  ".join(row[i].ljust(widths[i]) for i in columns).rstrip() for row in rows]
        start = end
    return out
