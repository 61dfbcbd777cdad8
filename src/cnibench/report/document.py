"""The report: one self-contained HTML file (no scripts, no external fonts or styles; plots as SVG data URIs) and a
Markdown summary, both rendered with Jinja2 from the same context (:mod:`cnibench.report.context`), from the
templates in ``report/templates/``."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2

from cnibench.report.context import context, when
from cnibench.results.analysis import groups
from cnibench.results.model import RunResults
from cnibench.results.verdicts import RunAnalysis, analyse
from cnibench.scenarios import SCENARIOS

if TYPE_CHECKING:
    from cnibench.report.figure import Plot

__all__ = ["Report", "build", "cni_order", "figures", "when", "write"]


@dataclass(frozen=True)
class Report:
    html: str
    markdown: str
    seconds: float


def _markdown_cell(text: object) -> str:
    """A Markdown table cell: a ``|`` escaped, a line break made a space."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("cnibench", "report/templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = _markdown_cell
    return env


def cni_order(runs: Sequence[RunResults], analyses: Sequence[RunAnalysis]) -> list[str]:
    """The report's one order of CNIs, which gives each its colour, marker and line style in every plot: each run's
    reference first (in run order), then the others by name."""
    references = [a.reference for a in analyses if a.reference]
    others = sorted({s.cni for run in runs for s in run.samples})
    return list(dict.fromkeys([*references, *others]))


def _section_of(name: str) -> str | None:
    """The scenario whose section a plot tagged ``name`` (a scenario's or a trial's name) belongs in."""
    for scenario in SCENARIOS.values():
        if scenario.name == name or scenario.owns(name):
            return scenario.name
    return None


def figures(run: RunResults, analysis: RunAnalysis, run_dir: Path | None) -> list[Plot]:
    """Every figure of one run, each tagged with the scenario whose section it goes in: each scenario's own
    (``report_plots``), its policies' costs, and the gateway node's metrics per trial."""
    from cnibench.report import plots as p  # matplotlib only when a report is drawn

    run_groups = groups([run])
    out: list[Plot] = []
    for scenario in SCENARIOS.values():
        drawn = scenario.report_plots(run_groups)  # each scenario draws its own
        drawn += p.policy_ratio([(r.cni, r) for r in analysis.ratios if scenario.owns(r.scenario)])
        out += [replace(plot, scenario=plot.scenario or scenario.name) for plot in drawn]
    for plot in p.node_metrics_over_time(run, run_dir):
        out.append(replace(plot, scenario=_section_of(plot.scenario or "")))
    return out


def build(runs: Sequence[RunResults], run_dirs: Sequence[Path | None]) -> Report:
    """The report of ``runs`` (``run_dirs``: their directories, for the raw node metrics; None when unknown),
    organised per run and, within a run, per scenario (its tables, its figures, its cost table)."""
    from cnibench.report.figure import cni_order as report_order
    from cnibench.report.plots import node_metrics_note

    start = time.perf_counter()
    analyses = [analyse(run) for run in runs]
    with report_order(cni_order(runs, analyses)):
        drawn = [figures(run, a, d) for run, a, d in zip(runs, analyses, run_dirs, strict=True)]
    notes = [node_metrics_note(run, run_dir) for run, run_dir in zip(runs, run_dirs, strict=True)]
    data = context(runs, analyses, drawn, notes)
    env = _environment()
    html = env.get_template("report.html.j2").render(data)
    markdown = env.get_template("report.md.j2").render(data)
    return Report(html, markdown, time.perf_counter() - start)


def write(report: Report, html_path: Path) -> tuple[Path, Path]:
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(report.html, encoding="utf-8")
    md_path = html_path.with_suffix(".md")
    md_path.write_text(report.markdown, encoding="utf-8")
    return html_path, md_path
