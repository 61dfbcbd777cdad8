"""What every figure of the report shares: the :class:`Plot` a scenario's ``report_plots`` returns, the SVG writer
and one palette with one marker per CNI. A leaf: it imports matplotlib and nothing of cnibench, so a scenario module
can draw its own figures without importing the report.

Every plot sits on a white card with dark ink and the Okabe-Ito palette (Okabe & Ito 2008, "Color Universal Design";
readable for colour-blind readers), so it reads the same in a light page, a dark page and on paper. Text is drawn
as paths (matplotlib's default ``svg.fonttype``): no fonts needed.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

__all__ = ["MARKERS", "PALETTE", "Plot", "cni_style", "color", "plt", "svg"]

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
#: One marker per CNI, with its colour, so that CNIs stay apart without colour (deuteranopia, print).
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")

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
        "font.size": 9,
        "svg.hashsalt": "cnibench",  # the same data gives the same SVG
    }
)


@dataclass(frozen=True)
class Plot:
    """One figure of the report: its title, the caption under it and the SVG document (text)."""

    title: str
    caption: str
    svg: str


def svg(fig: Figure) -> str:
    """``fig`` as an SVG document (no date in it: the same data gives the same bytes); closes the figure."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return buffer.getvalue()


def color(index: int) -> str:
    """The palette's ``index``-th colour (it repeats after eight)."""
    return PALETTE[index % len(PALETTE)]


def cni_style(cni: str, order: Sequence[str]) -> tuple[str, str]:
    """A CNI's colour (Okabe-Ito) and marker, the same in every plot of a report: by its place in ``order``."""
    index = list(order).index(cni) if cni in order else len(order)
    return PALETTE[index % len(PALETTE)], MARKERS[index % len(MARKERS)]
