"""The report: one self-contained HTML file (no scripts, no external fonts or styles; plots as SVG data URIs) and a
Markdown summary, both rendered with Jinja2 from the same context (:mod:`cnibench.report.context`), from the
templates in ``report/templates/``."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jinja2

from cnibench.report.context import context, when
from cnibench.results.analysis import groups
from cnibench.results.model import RunResults
from cnibench.results.verdicts import analyse
from cnibench.scenarios import SCENARIOS

__all__ = ["Report", "build", "when", "write"]


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


def build(runs: Sequence[RunResults], run_dirs: Sequence[Path | None]) -> Report:
    """The report of ``runs`` (``run_dirs``: their directories, for the raw node metrics; None when unknown)."""
    from cnibench.report import plots as p  # matplotlib only when a report is drawn

    start = time.perf_counter()
    all_groups = groups(runs)
    analyses = [analyse(run) for run in runs]
    several = len(runs) > 1
    ratios = [(f"{r.cni} ({r.run_id})" if several else r.cni, r) for analysis in analyses for r in analysis.ratios]
    figures = []
    for scenario in SCENARIOS.values():
        figures += scenario.report_plots(all_groups)  # each scenario draws its own
        figures += p.policy_ratio([(name, r) for name, r in ratios if scenario.owns(r.scenario)])
    for run, run_dir in zip(runs, run_dirs, strict=True):
        figures += p.node_metrics_over_time(run, run_dir)
    data = context(runs, analyses, figures)
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
