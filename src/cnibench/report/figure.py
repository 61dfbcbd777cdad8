"""What every figure of the report shares: the :class:`Plot` a scenario's ``report_plots`` returns (with the
:class:`Table` of its numbers as text), the SVG writer, the figure's size and one style (colour, marker, line) per
CNI, held across every plot of a report. A leaf: it imports matplotlib and nothing of cnibench, so a scenario
module can draw its own figures without importing the report.

Every plot sits on a white card with dark ink and the Okabe-Ito palette (Okabe & Ito 2008, "Color Universal Design";
readable for colour-blind readers), with a marker and a line style per CNI as well, so that CNIs stay apart without
colour (deuteranopia, print). Text is drawn as paths (matplotlib's default ``svg.fonttype``): no fonts needed.

Size: every figure is :data:`WIDTH_IN` wide with text of at least :data:`MIN_FONT_PT`. The report scales a plot to
its card's width; a card is about 370 px wide on a 420 px screen, so a figure at most 4.8 in (346 pt) wide keeps
9 pt text at least 9 px tall (the browser test measures it).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, NamedTuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import matplotlib.text
from matplotlib.figure import Figure

LOG = logging.getLogger(__name__)

__all__ = [
    "MARKERS",
    "PALETTE",
    "Plot",
    "Style",
    "Table",
    "cni_order",
    "cni_style",
    "color",
    "legend_below",
    "panels",
    "plt",
    "svg",
]

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
#: One marker per CNI, with its colour, so that CNIs stay apart without colour (deuteranopia, print).
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
#: One line style per CNI (solid, dashed, dotted, dash-dot, then dash patterns).
LINESTYLES: tuple[Any, ...] = ("-", "--", ":", "-.", (0, (5, 1, 1, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 3)), "-")
#: Every figure's width (inches) and the smallest text in it (points); see the module's docstring.
WIDTH_IN = 4.8
MIN_FONT_PT = 9.0

plt.rcParams.update(
    {
        "figure.facecolor": "white",
        "axes.facecolor": "white",
        "axes.edgecolor": "#333333",
        "axes.labelcolor": "#111111",
        "text.color": "#111111",
        "xtick.color": "#333333",
        "ytick.color": "#333333",
        "axes.grid": True,
        "grid.color": "#dddddd",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "font.size": MIN_FONT_PT,
        "axes.titlesize": 10,
        "axes.labelsize": MIN_FONT_PT,
        "xtick.labelsize": MIN_FONT_PT,
        "ytick.labelsize": MIN_FONT_PT,
        "legend.fontsize": MIN_FONT_PT,
        "svg.hashsalt": "cnibench",  # the same data gives the same SVG
    }
)


@dataclass(frozen=True)
class Table:
    """A figure's numbers as text (searchable, readable without the image): a title, column names, rows of cells
    (strings) and a note under it."""

    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


@dataclass(frozen=True)
class Plot:
    """One figure of the report: its title, the caption under it, the SVG document (text), the scenario whose
    section it belongs in (None: the report places it by what it shows) and tables of its numbers."""

    title: str
    caption: str
    svg: str
    scenario: str | None = None
    tables: tuple[Table, ...] = ()


def overlapping_texts(fig: Figure) -> list[tuple[str, str]]:
    """The pairs of ``fig``'s texts (tick labels, titles, axis labels, legend entries) whose drawn boxes overlap by
    more than half a point each way: text printed over text."""
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    texts: list[Any] = []
    for ax in fig.axes:
        texts += [ax.title, ax.xaxis.label, ax.yaxis.label]
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            span = (high - low) * 1e-6
            # the ticks drawn: a tick outside the view keeps a stale label that is never drawn
            texts += [t.label1 for t in axis.get_major_ticks() if low - span <= t.get_loc() <= high + span]
        legend = ax.get_legend()
        texts += legend.get_texts() if legend else []
    for legend in fig.legends:
        texts += legend.get_texts()
    texts = [t for t in texts if t.get_visible() and t.get_text().strip()]
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
    found = []
    for i, (a, box_a) in enumerate(boxes):
        for b, box_b in boxes[i + 1 :]:
            width = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
            height = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
            if width > 0.5 and height > 0.5:
                found.append((a, b))
    return found


def svg(fig: Figure) -> str:
    """``fig`` as an SVG document (no date in it: the same data gives the same bytes); closes the figure. Texts
    that overlap (:func:`overlapping_texts`) are logged as a warning naming them (the tests fail on it)."""
    overlaps = overlapping_texts(fig)
    if overlaps:
        title = " / ".join(ax.get_title() for ax in fig.axes if ax.get_title())
        LOG.warning("plot %r: texts overlap: %s", title, "; ".join(f"{a!r} over {b!r}" for a, b in overlaps))
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return buffer.getvalue()


def panels(count: int, *, height: float = 2.4, columns: int = 2, sharey: bool = False) -> tuple[Figure, list[Any]]:
    """A figure :data:`WIDTH_IN` wide with ``count`` panels, at most ``columns`` to a row (rows of ``height``
    inches); the unused axes of the last row are removed. Returns the figure and the ``count`` axes."""
    columns = max(1, min(columns, count))
    rows = -(-count // columns)
    fig, grid = plt.subplots(
        rows, columns, figsize=(WIDTH_IN, height * rows + 0.2), sharey=sharey, squeeze=False, layout="constrained"
    )
    axes = [ax for row in grid for ax in row]
    for ax in axes[count:]:
        ax.remove()
    return fig, axes[:count]


def legend_below(fig: Figure, handles: Sequence[Any] | None = None, labels: Sequence[str] | None = None) -> None:
    """The figure's legend under its panels (never over the data), as many columns as fit the width."""
    if handles is None or labels is None:
        found: dict[str, Any] = {}
        for ax in fig.axes:
            for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
                found.setdefault(label, handle)
        handles, labels = list(found.values()), list(found)
    if not labels:
        return
    longest = max(len(label) for label in labels)
    columns = max(1, min(len(labels), int(WIDTH_IN * 72 / (MIN_FONT_PT * 0.6 * longest + 30))))
    fig.legend(handles, labels, loc="outside lower center", ncols=columns, frameon=False)


def color(index: int) -> str:
    """The palette's ``index``-th colour (it repeats after eight)."""
    return PALETTE[index % len(PALETTE)]


class Style(NamedTuple):
    """A CNI's look in every plot: colour, marker and line style."""

    color: str
    marker: str
    linestyle: Any


_ORDER: ContextVar[tuple[str, ...]] = ContextVar("cni_order", default=())


@contextmanager
def cni_order(order: Iterable[str]) -> Iterator[None]:
    """Within the block, every :func:`cni_style` places CNIs in ``order`` first (the report's one order), so that
    a CNI looks the same in every plot of a report, whichever CNIs a plot shows."""
    token = _ORDER.set(tuple(dict.fromkeys(order)))
    try:
        yield
    finally:
        _ORDER.reset(token)


def cni_style(cni: str, order: Sequence[str] = ()) -> Style:
    """A CNI's colour (Okabe-Ito), marker and line style, the same in every plot of a report: by its place in the
    report's order (:func:`cni_order`), then in ``order`` (the plot's CNIs, for a plot drawn outside a report)."""
    names = list(_ORDER.get())
    names += [c for c in order if c not in names]
    index = names.index(cni) if cni in names else len(names)
    return Style(PALETTE[index % len(PALETTE)], MARKERS[index % len(MARKERS)], LINESTYLES[index % len(LINESTYLES)])
