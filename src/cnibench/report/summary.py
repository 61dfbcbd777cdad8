"""The terminal summary of a run: its status, the settings and the headline first, then each scenario's table (its
own lines), node metrics, the failed repetitions and the warnings."""

from __future__ import annotations

import textwrap

from cnibench.report import scoreboard
from cnibench.report.text import median_text, table_width
from cnibench.results import trust, verdicts
from cnibench.results.model import RunResults
from cnibench.results.sample import SampleBase
from cnibench.results.stats import summarize
from cnibench.scenarios import SCENARIOS, gateway_node, scenario_of


def _metrics_lines(results: RunResults) -> list[str]:
    """The gateway node during each trial: CPU (the machine's, see the note) and transmit rate, medians (the
    samples' metrics errors are among the trust warnings)."""
    groups: dict[tuple[str, str], list[SampleBase]] = {}
    for sample in results.samples:
        if sample.node_metrics is not None and sample.status == "ok":
            groups.setdefault((sample.cni, sample.scenario), []).append(sample)
    lines = []
    for (cni, trial), group in groups.items():
        node = gateway_node(results.environment, cni, trial)
        figures = [s.node_metrics[node] for s in group if s.node_metrics and node in s.node_metrics]
        if not figures:
            continue
        cpu = summarize([f["cpu_util_avg"] for f in figures if "cpu_util_avg" in f])
        tx = summarize([f["net_tx_bps_avg"] for f in figures if "net_tx_bps_avg" in f])
        text = f"  {cni} {trial}: gateway node {node}: CPU {median_text(cpu, 0.01, 0)}% (machine)"
        if scenario_of(trial).gateway_carries_measurement:
            text += f", transmit {median_text(tx, 1e9)} Gbit/s"
        lines.append(text)
    if lines:
        interval = results.environment.get("metrics", {}).get("scrape_interval", "?")
        lines.insert(
            0,
            f"node metrics (Prometheus, {interval} scrape; medians of per-window averages; CPU is the whole "
            "machine's, network the node's own):",
        )
    return lines


def format_summary(results: RunResults, run_dir: str, columns: int | None = None) -> str:
    """The closing note of a run: its status, the settings, the scoreboard (each primary comparison and policy cost,
    :mod:`cnibench.report.scoreboard`) and its caveats, each scenario's table, node metrics, failed repetitions,
    the warnings. ``columns``: the scoreboard's width (default: the terminal's, 100 on a pipe)."""
    columns = columns or scoreboard.width()
    ok = sum(1 for s in results.samples if s.status == "ok")
    total = max(len(results.samples), results.planned_repetitions)
    not_run = total - len(results.samples)
    headline = f"cnibench run {results.run_id} on {results.platform}: {results.status}, {ok}/{total} repetitions ok"
    if not_run:
        headline += f" ({not_run} did not run)"
    lines = [headline]
    if results.error:
        lines.append(f"error: {results.error}")
    settings = verdicts.settings(results)
    if settings:
        lines += textwrap.wrap("settings: " + "; ".join(settings), columns, subsequent_indent="  ")
    for note in results.environment.get("measured") or []:  # what the numbers mean on this platform
        lines += textwrap.wrap(f"what the numbers mean: {note}", columns, subsequent_indent="  ")
    analysis = verdicts.analyse(results)
    found = scoreboard.rows(analysis)
    if found:
        lines += textwrap.wrap(scoreboard.heading(analysis), columns, subsequent_indent="  ")
        lines += [f"  {line}" if line else "" for line in scoreboard.table(found, columns - 2)]
        policy = scoreboard.policy_lines(found)
        if policy:
            lines.append("policy cost per cluster (with / without, change in %):")
            lines += [w for line in policy for w in textwrap.wrap(line, columns, initial_indent="  ",
                                                                  subsequent_indent="    ")]  # fmt: skip
    else:
        lines += [line for v in analysis.verdicts if v.metric.primary for line in v.headline()]
    notes = scoreboard.caveats(analysis)
    if notes:
        lines.append("caveats:")
        lines += [wrapped for note in notes for wrapped in textwrap.wrap(f"- {note}", columns, initial_indent="  ",
                                                                         subsequent_indent="    ")]  # fmt: skip
    warnings: list[str] = []
    with table_width(columns):
        for scenario in SCENARIOS.values():
            lines += scenario.summary_lines(results.samples, warnings)
        lines += _metrics_lines(results)
    failed = [s for s in results.samples if s.status == "failed"]
    for sample in failed[:5]:
        lines.append(f"failed: {sample.cni} {sample.scenario} rep {sample.repetition}: {sample.error}")
    if len(failed) > 5:
        lines.append(f"failed: ... and {len(failed) - 5} more (see results.json)")
    lines += [f"warning: {w.line()}" for w in trust.warnings_for(results)]
    lines += [f"warning: {w}" for w in warnings]
    lines.append(f"results: {run_dir}")
    # a line still wider than the terminal is prose (tables fold): wrapped, its continuation indented
    fitted = [part for line in lines for part in (_wrapped(line, columns) if len(line) > columns else [line])]
    return "\n".join(fitted)


def _wrapped(line: str, columns: int) -> list[str]:
    """A prose line of the summary at most ``columns`` wide, its continuation indented by four spaces; a word longer
    than that (a path) is kept whole."""
    return textwrap.wrap(line, columns, subsequent_indent="    ", break_on_hyphens=False, break_long_words=False) or [
        line
    ]
