"""The scoreboard: the answer first, in the terminal, ``report.md`` and ``report.html``.

One row per trial x primary metric x CNI compared with the reference: the reference's value, the CNI's value (each
the geometric mean of its clusters), the change with its simultaneous interval, and the outcome in a symbol and a
word (with the effect the design could detect when it is inconclusive); the policies' costs per CNI follow as rows
of their own. Then the caveats that change how to read it: a busy or CPU-bound machine, failed checks, loads that
were not sustained, an incomplete run. The numbers are the verdicts' own (:mod:`cnibench.results.verdicts`), so
no place shows another estimate of the same comparison.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cnibench.results.analysis import percent
from cnibench.results.group import number
from cnibench.results.trust import warnings_for
from cnibench.results.verdicts import RunAnalysis
from cnibench.results.wording import SYMBOLS, change_cell, detectable

#: The width of a table on a pipe (a terminal's own width is used when there is one), in columns.
PIPE_WIDTH = 100
#: Machine CPU over a measurement window from which the numbers are called CPU-bound (a fraction).
CPU_BOUND_MACHINE = 0.90


@dataclass(frozen=True)
class Row:
    """One comparison on the scoreboard, as text: ``trial``, ``metric`` (label and unit), ``reference`` and its
    ``reference_value``, ``cni`` and its ``value``, ``change`` (``-9.7 % [-43.6, +44.4]``), ``outcome`` (different /
    equivalent / inconclusive), ``symbol`` and ``note`` (the detectable effect, or the margin)."""

    trial: str
    metric: str
    reference: str
    reference_value: str
    cni: str
    value: str
    change: str
    outcome: str
    symbol: str
    note: str


def rows(analysis: RunAnalysis) -> list[Row]:
    """The scoreboard's rows: each primary verdict's comparisons, then each policy's cost per CNI."""
    out = []
    for v in analysis.verdicts:
        if not v.metric.primary:
            continue
        unit = f" {v.metric.unit}" if v.metric.unit else ""
        for cni, j in v.judgements.items():
            note = _note(j.outcome, j.mde, j.margin, j.why)
            ref = v.reference or "-"
            out.append(
                Row(v.scenario, f"{v.metric.label}{f' ({v.metric.unit})' if unit else ''}", ref,
                    v.metric.show(v.levels.get(ref)), cni, v.metric.show(v.levels.get(cni)), change_cell(j),
                    j.outcome, SYMBOLS[j.outcome], note)
            )  # fmt: skip
    for r in analysis.ratios:
        j = r.judgement
        out.append(
            Row(f"{r.scenario} / {r.baseline}", f"{r.metric.label} cost", "no policy", "1", r.cni,
                f"{j.ratio:.3f}" if j.ratio is not None else "-", change_cell(j), j.outcome, SYMBOLS[j.outcome],
                _note(j.outcome, j.mde, j.margin, j.why))
        )  # fmt: skip
    for c in analysis.contrasts:  # "vxlan's policy costs more" is tested before it is said
        j = c.judgement
        out.append(
            Row(f"{c.scenario} / {c.baseline}", f"{c.metric.label} cost", "no policy", "1",
                f"{c.cni}'s vs {c.reference}'s", f"{j.ratio:.3f}" if j.ratio is not None else "-", change_cell(j),
                j.outcome, SYMBOLS[j.outcome], _note(j.outcome, j.mde, j.margin, j.why))
        )  # fmt: skip
    return out


def _note(outcome: str, mde: float | None, margin: float, why: str) -> str:
    if outcome == "equivalent":
        return f"within ±{percent(margin, 0)}"
    if outcome == "inconclusive":
        return why if mde is None else detectable(mde)
    return ""


def caveats(analysis: RunAnalysis) -> list[str]:
    """What changes how to read the scoreboard, most important first: the run's own state and a busy machine,
    CPU-bound measurements (iperf3 at a full core; the machine's CPU at 90 % or more during a trial), failed
    checks, loads that were not sustained."""
    run = analysis.run
    out = []
    for w in warnings_for(run):
        if w.cni is None or "% of a core" in w.text:  # the whole run: incomplete, missing repetitions, a busy machine
            out.append(w.line())
    busy: dict[str, float] = {}
    for sample in run.samples:
        for figures in (sample.node_metrics or {}).values():
            cpu = number(figures.get("cpu_util_avg")) if isinstance(figures, dict) else None
            if cpu is not None:
                busy[sample.scenario] = max(busy.get(sample.scenario, 0.0), cpu)
    for trial, cpu in busy.items():
        if cpu >= CPU_BOUND_MACHINE:
            out.append(f"{trial}: the machine's CPU reached {percent(cpu, 0)} during its windows: CPU-bound numbers")
    out += [f"check failed: {c.line()}" for c in analysis.checks if not c.passed]
    unsustained: dict[tuple[str, str], int] = {}
    for sample in run.samples:
        if getattr(sample, "sustained", None) is False:
            key = (sample.cni, sample.scenario)
            unsustained[key] = unsustained.get(key, 0) + 1
    out += [
        f"{cni} {trial}: {n} repetition(s) did not sustain the offered load" for (cni, trial), n in unsustained.items()
    ]
    return out


def width() -> int:
    """The terminal's width, or :data:`PIPE_WIDTH` on a pipe."""
    import sys

    if sys.stdout.isatty():
        return max(60, shutil.get_terminal_size((PIPE_WIDTH, 24)).columns)
    return PIPE_WIDTH


def table(found: list[Row], columns: int = PIPE_WIDTH) -> list[str]:
    """The comparisons as a plain-text table at most ``columns`` wide (100 for the default's rows): symbol, trial,
    metric (unit), the reference's value, the CNI's, the change in % with its interval, the outcome, and the
    minimum detectable effect of an inconclusive one (``MDE``). A wider table folds (:func:`aligned`)."""
    rows_ = [r for r in found if r.reference != "no policy"]
    others = sorted({r.cni for r in rows_})
    cni_head = others[0] if len(others) == 1 else "cni"
    header = ("", "trial", "metric", _reference_head(rows_), cni_head, "change % [95 % CI]", "outcome", "MDE")
    body = [
        (r.symbol, r.trial, r.metric, r.reference_value, r.value if cni_head != "cni" else f"{r.cni} {r.value}",
         r.change.replace(" %", ""), r.outcome, _mde(r))
        for r in rows_
    ]  # fmt: skip
    return aligned(header, body, columns, keys=(0, 1, 2, 4))  # symbol, trial, metric, the CNI


def aligned(
    header: tuple[str, ...], body: Sequence[tuple[str, ...]], columns: int, keys: Sequence[int] = (0, 1, 2)
) -> list[str]:
    """A header and rows as left-aligned columns two spaces apart, each line at most ``columns`` wide: a wider table
    folds into blocks, each repeating the ``keys`` columns (what a row is) beside the other columns that fit, a blank
    line between blocks; columns that do not fit beside the keys go under each row's keys, named
    (``change % [95 % CI]: -8.3 [-41.7, +44.3]; outcome: inconclusive``); only a key cell wider than the width is
    cut with ``…``."""
    widths = [max(len(row[i]) for row in (header, *body)) for i in range(len(header))]
    rows = (header, *body)

    def line(row: tuple[str, ...], chosen: Sequence[int]) -> str:
        text = "  ".join(row[i].ljust(widths[i]) for i in chosen).rstrip()
        return text if len(text) <= columns else text[: columns - 1] + "…"

    every = range(len(widths))
    rest = [i for i in every if i not in keys]
    whole = ["  ".join(row[i].ljust(widths[i]) for i in every).rstrip() for row in rows]
    if all(len(text) <= columns for text in whole) or not rest:
        return [line(row, every) for row in rows]
    out: list[str] = []
    start = 0
    while start < len(rest):
        used, end = sum(widths[i] for i in keys) + 2 * (len(keys) - 1), start
        while end < len(rest) and used + 2 + widths[rest[end]] <= columns:
            used += 2 + widths[rest[end]]
            end += 1
        if out:
            out.append("")
        if end == start:  # not one more cell fits beside the keys: each row's keys, then its other cells below
            for row in rows[1:]:
                cells = "; ".join(f"{header[i]}: {row[i]}" for i in rest[start:] if row[i])
                out += [line(row, list(keys)), *textwrap.wrap(cells, columns, initial_indent="     ",
                        subsequent_indent="     ", break_long_words=False, break_on_hyphens=False)]  # fmt: skip
            break
        out += [line(row, sorted([*keys, *rest[start:end]])) for row in rows]
        start = end
    return out


def policy_lines(found: list[Row]) -> list[str]:
    """The policies' costs, one line per CNI: ``? <trial> / <its baseline> throughput: vxlan 0.884 [-27.0, +7.0] %,
    inconclusive (MDE 27 %)``."""
    return [
        f"{r.symbol} {r.trial} {r.metric.removesuffix(' cost')}: {r.cni} {r.value}, change {r.change}, {r.outcome}"
        + (f" (MDE {_mde(r)})" if _mde(r) != "-" else "")
        for r in found
        if r.reference == "no policy"
    ]


def _reference_head(found: list[Row]) -> str:
    references = sorted({r.reference for r in found})
    return references[0] if len(references) == 1 else "reference"


def _mde(row: Row) -> str:
    """An inconclusive row's detectable effect, ``51 %`` (``>1000 %`` beyond), else ``-``."""
    if row.outcome != "inconclusive" or not row.note.startswith("detects"):
        return "-"
    if "below" in row.note:
        return ">1000 %"
    return row.note.removeprefix("detects differences of about ").removesuffix(" or more")


def _short(note: str) -> str:
    """A note as a table cell: ``detects about 51 % or more`` -> ``detects >= 51 %``."""
    return note.replace("detects differences of about ", "detects >= ").replace(" or more", "")


def heading(analysis: RunAnalysis) -> str:
    """The line above the table: the reference, the clusters per CNI (the unit), the intervals."""
    counts = sorted({n for v in analysis.verdicts if v.metric.primary for n in v.clusters.values()})
    clusters = (
        f"{counts[0]} cluster(s) per CNI" if len(counts) == 1 else f"{counts[0]}-{counts[-1]} clusters per CNI"
    ) if counts else "no clusters"  # fmt: skip
    return (
        f"verdicts: each CNI against {analysis.reference}; {clusters}, the cluster is the unit; simultaneous 95 % "
        "intervals; ≠ different, ≈ equivalent, ? inconclusive; MDE: the difference the design detects with 80 % "
        "power"
    )


def _fit(text: str, size: int) -> str:
    return text.ljust(size) if len(text) <= size else text[: size - 1] + "…"


def compare_table(changes: list[Any], columns: int = PIPE_WIDTH, *, only_changed: bool = False) -> list[str]:
    """``compare``'s changes as a table at most ``columns`` wide, asv-style: CNI, trial, metric (unit), A, B, the
    change in % with its interval, the outcome, and the gate's word (``REGRESSION``, ``ok``, or ``-`` for a
    reported, ungated metric). ``only_changed``: only rows whose outcome is *different* or that regressed."""
    header = ("cni", "trial", "metric", "A", "B", "change % [95 % CI]", "outcome", "gate")
    body = []
    for c in changes:
        j = c.judgement
        if only_changed and not (c.regression or (j is not None and j.outcome == "different")):
            continue
        m = c.metric
        unit = f" ({m.unit})" if m.unit else ""
        before = m.show(j.estimate.reference_level if j else c.before.median)
        after = m.show(j.estimate.other_level if j else c.after.median)
        gate = ("REGRESSION" if c.regression else "ok") if c.gated else "-"
        change = change_cell(j).replace(" %", "") if j is not None else "n/a"
        outcome = j.outcome if j is not None else "-"
        body.append((c.cni, c.scenario, m.label + unit, before, after, change, outcome, gate))
    if not body:
        return []
    return aligned(header, body, columns)
