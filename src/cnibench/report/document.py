"""The report: one self-contained HTML file (no scripts, no external fonts or styles; plots as SVG data URIs) and a
Markdown summary, both from the same analysis."""

from __future__ import annotations

import base64
import html
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cnibench import __version__
from cnibench.results.analysis import Verdict, environment_differences, groups, verdicts
from cnibench.results.model import RunResults
from cnibench.results.stats import CV_WARNING, MIN_REPETITIONS

if TYPE_CHECKING:
    from cnibench.report.plots import Plot

ENV_ROWS = (
    ("kernel", "kernel"),
    ("cpu_model", "CPU"),
    ("cpu_count", "CPUs"),
    ("memory_bytes", "memory (bytes)"),
    ("cnibench", "cnibench"),
)


@dataclass(frozen=True)
class Report:
    html: str
    markdown: str
    seconds: float


def when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _cell(verdict: Verdict, series: str) -> str:
    stats = verdict.stats.get(series)
    if stats is None or stats.median is None:
        return "-"
    m = verdict.metric
    text = m.show(stats.median)
    if stats.ci:
        text += f" [{m.show(stats.ci[0])}, {m.show(stats.ci[1])}]"
    text += f" (n={stats.n}" + (f", {stats.failed} failed" if stats.failed else "") + ")"
    relative = verdict.relative(series)
    if series != verdict.winner and relative is not None:
        text += f" {relative:+.1%}"
    return text


def _warnings(runs: Sequence[RunResults], all_verdicts: Sequence[Verdict]) -> list[str]:
    out: list[str] = []
    counted: set[tuple[str, str]] = set()
    for verdict in all_verdicts:
        for series, stats in verdict.stats.items():
            if stats.cv is not None and stats.cv >= CV_WARNING:
                out.append(
                    f"{series} {verdict.scenario} {verdict.metric.label}: stdev is {stats.cv:.0%} of the "
                    f"mean (>= {CV_WARNING:.0%})"
                )
            if (series, verdict.scenario) not in counted:  # repetition counts: once per series and scenario
                counted.add((series, verdict.scenario))
                if stats.n < MIN_REPETITIONS:
                    out.append(
                        f"{series} {verdict.scenario}: only {stats.n} successful repetition(s) "
                        f"(fewer than {MIN_REPETITIONS})"
                    )
                if stats.failed:
                    out.append(
                        f"{series} {verdict.scenario}: {stats.failed} failed repetition(s) left out of the statistics"
                    )
    for run in runs:
        if run.status != "complete":
            out.append(f"run {run.run_id} is {run.status}" + (f": {run.error}" if run.error else ""))
        missing = run.planned_repetitions - len(run.samples)
        if missing > 0:
            out.append(f"run {run.run_id}: {missing} planned repetition(s) did not run")
        out += [f"{s.cni} {s.scenario} rep {s.repetition}: {s.metrics_error}" for s in run.samples if s.metrics_error]
    if any(v.too_few_to_tell for v in all_verdicts):
        out.append(
            "with 3 repetitions or fewer per side the Mann-Whitney U test cannot reach p <= 0.05 (the smallest "
            "possible two-sided p is 0.10): no difference can be called significant; run 4 or more (--repeat 5)"
        )
    for a, b in itertools.pairwise(runs):
        out += [f"environments differ ({a.run_id} vs {b.run_id}): {d}" for d in environment_differences(a, b)]
    return list(dict.fromkeys(out))


def build(runs: Sequence[RunResults], run_dirs: Sequence[Path | None]) -> Report:
    from cnibench.report import plots as p  # matplotlib only when a report is drawn

    start = time.perf_counter()
    all_groups = groups(runs)
    all_verdicts = verdicts(runs)
    series = list(dict.fromkeys(g.series for g in all_groups))
    figures = [
        p.per_series(all_verdicts, "throughput_bps", ("egress-baseline", "egress"), "Egress throughput per CNI"),
        p.per_series(all_verdicts, "rtt_mean_us", ("egress-baseline", "egress"), "TCP round-trip time per CNI"),
        p.gateway_ratio(all_verdicts),
        p.throughput_over_time(all_groups),
        p.per_series(all_verdicts, "requests_per_s", ("ingress",), "Ingress requests per second per CNI"),
        p.latency_percentiles(all_groups),
        p.backend_spread(all_groups),
    ]
    for run, run_dir in zip(runs, run_dirs, strict=True):
        figures += p.node_metrics_over_time(run, run_dir)
    plots = [f for f in figures if f is not None]
    warnings = _warnings(runs, all_verdicts)
    html_text = _html(runs, series, all_verdicts, plots, warnings)
    markdown = _markdown(runs, series, all_verdicts, warnings)
    return Report(html_text, markdown, time.perf_counter() - start)


def write(report: Report, html_path: Path) -> tuple[Path, Path]:
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(report.html, encoding="utf-8")
    md_path = html_path.with_suffix(".md")
    md_path.write_text(report.markdown, encoding="utf-8")
    return html_path, md_path


# --------------------------------------------------------------------------------------------- HTML

_CSS = """
:root { color-scheme: light dark; --fg: #111; --bg: #fff; --muted: #555; --line: #ccc; --win: #e8f4ec;
        --warn: #fff4e0; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #eee; --bg: #16181c; --muted: #aaa; --line: #444; --win: #1f3a29; --warn: #3a2f1a; }
}
@media print { :root { --fg: #000; --bg: #fff; --muted: #444; --line: #999; --win: #eee; --warn: #f6f6f6; } }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg);
       max-width: 1100px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 1.8em; border-bottom: 1px solid var(--line); }
.muted { color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: 0.5em 0 1em; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: color-mix(in srgb, var(--line) 35%, transparent); }
td.win { background: var(--win); font-weight: 600; }
ul.warnings li { background: var(--warn); margin: 2px 0; padding: 2px 6px; list-style: none; }
figure { background: #fff; color: #111; border: 1px solid var(--line); border-radius: 6px; padding: 8px;
         margin: 1em 0; break-inside: avoid; }
figure img { display: block; max-width: 100%; height: auto; }
figcaption { font-size: 12px; color: #333; margin-top: 4px; }
"""


def _e(text: object) -> str:
    return html.escape(str(text))


def _html(
    runs: Sequence[RunResults],
    series: list[str],
    all_verdicts: Sequence[Verdict],
    plots: Sequence[Plot],
    warnings: list[str],
) -> str:
    head = "".join(
        f"<li><b>{_e(r.run_id)}</b> ({_e(r.name)}, platform {_e(r.platform)}, {_e(r.status)}): "
        f"{_e(when(r.started_at))}, {sum(1 for s in r.samples if s.status == 'ok')}/"
        f"{max(len(r.samples), r.planned_repetitions)} repetitions ok</li>"
        for r in runs
    )
    rows = []
    for v in all_verdicts:
        cells = "".join(
            f'<td class="{"win" if s == v.winner and v.best != "tie" and v.runner_up else ""}">{_e(_cell(v, s))}</td>'
            for s in series
        )
        unit = f" ({v.metric.unit})" if v.metric.unit else ""
        better = "higher" if v.metric.better == "higher" else "lower"
        rows.append(
            f"<tr><td>{_e(v.scenario)}</td><td>{_e(v.metric.label + unit)}<br><span class=muted>{better} is "
            f"better</span></td>{cells}<td>{_e(v.best)}</td><td>{_e(v.note)}</td></tr>"
        )
    figures = "".join(
        f'<figure><img alt="{_e(f.title)}" src="data:image/svg+xml;base64,'
        f'{base64.b64encode(f.svg.encode()).decode()}"><figcaption><b>{_e(f.title)}.</b> '
        f"{_e(f.caption)}</figcaption></figure>"
        for f in plots
    )
    warn = "".join(f"<li>{_e(w)}</li>" for w in warnings) or "<li>none</li>"
    env = _env_table(runs)
    failed = "".join(
        f"<tr><td>{_e(r.run_id)}</td><td>{_e(s.cni)}</td><td>{_e(s.scenario)}</td><td>{s.repetition}</td>"
        f"<td>{_e(s.error)}</td></tr>"
        for r in runs
        for s in r.samples
        if s.status != "ok"
    )
    failed_html = (
        f"<h2>Failed repetitions</h2><table><tr><th>run</th><th>cni</th><th>scenario</th><th>rep</th>"
        f"<th>reason</th></tr>{failed}</table>"
        if failed
        else ""
    )
    title = "cnibench report: " + ", ".join(r.run_id for r in runs)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title><style>{_CSS}</style></head>
<body>
<h1>{_e(title)}</h1>
<p class="muted">Generated by cnibench {_e(__version__)} on {_e(when(time.time()))}.</p>
<ul>{head}</ul>
<h2>Summary</h2>
<p>Per scenario and metric: median [95 % bootstrap confidence interval of the median] (n successful repetitions)
and, for the others, the difference to the best. A difference is called significant only when the Mann-Whitney U
test gives p &le; 0.05 <em>and</em> it is at least 5 %.</p>
<table><tr><th>scenario</th><th>metric</th>{"".join(f"<th>{_e(s)}</th>" for s in series)}<th>best</th>
<th>is it real?</th></tr>{"".join(rows)}</table>
<h2>Warnings</h2><ul class="warnings">{warn}</ul>
<h2>Plots</h2>{figures}
{failed_html}
<h2>Environment and versions</h2>{env}
</body></html>
"""


def _env_rows(runs: Sequence[RunResults]) -> list[tuple[str, list[str]]]:
    rows = [(label, [str(r.environment.get(key, "-")) for r in runs]) for key, label in ENV_ROWS]
    tools = sorted({t for r in runs for t in (r.environment.get("tools") or {})})
    rows += [(t, [str((r.environment.get("tools") or {}).get(t, "-")) for r in runs]) for t in tools]
    for r_index, run in enumerate(runs):
        for cni, facts in (run.environment.get("clusters") or {}).items():
            label = f"{cni}: datapath, pod MTU" + (f" ({run.run_id})" if len(runs) > 1 else "")
            values = ["-"] * len(runs)
            values[r_index] = f"{facts.get('datapath', '-')}, {facts.get('pod_mtu', '-')}"
            rows.append((label, values))
    scopes = [str((r.environment.get("metrics") or {}).get("scope", "-")) for r in runs]
    if any(s != "-" for s in scopes):
        rows.append(("node metrics", scopes))
    return rows


def _env_table(runs: Sequence[RunResults]) -> str:
    header = "".join(f"<th>{_e(r.run_id)}</th>" for r in runs)
    body = "".join(
        f"<tr><td>{_e(label)}</td>{''.join(f'<td>{_e(v)}</td>' for v in values)}</tr>"
        for label, values in _env_rows(runs)
    )
    return f"<table><tr><th></th>{header}</tr>{body}</table>"


# --------------------------------------------------------------------------------------------- Markdown


def _md(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _markdown(
    runs: Sequence[RunResults], series: list[str], all_verdicts: Sequence[Verdict], warnings: list[str]
) -> str:
    lines = ["# cnibench report: " + ", ".join(r.run_id for r in runs), ""]
    for r in runs:
        ok = sum(1 for s in r.samples if s.status == "ok")
        lines.append(
            f"- **{r.run_id}** ({r.name}, {r.platform}, {r.status}): {when(r.started_at)}, "
            f"{ok}/{max(len(r.samples), r.planned_repetitions)} repetitions ok"
        )
    lines += [
        "",
        "## Summary",
        "",
        "Median [95 % bootstrap CI of the median] (n); others: difference to the best. Significant = "
        "Mann-Whitney U p <= 0.05 and at least 5 %.",
        "",
        "| scenario | metric | " + " | ".join(_md(s) for s in series) + " | best | is it real? |",
        "|---|---|" + "---|" * len(series) + "---|---|",
    ]
    for v in all_verdicts:
        unit = f" ({v.metric.unit})" if v.metric.unit else ""
        cells = " | ".join(
            (f"**{_md(_cell(v, s))}**" if s == v.winner and v.best not in ("-", "tie") else _md(_cell(v, s)))
            for s in series
        )
        lines.append(f"| {v.scenario} | {_md(v.metric.label + unit)} | {cells} | {_md(v.best)} | {_md(v.note)} |")
    lines += ["", "## Warnings", ""] + ([f"- {_md(w)}" for w in warnings] or ["- none"])
    lines += [
        "",
        "## Environment",
        "",
        "| | " + " | ".join(r.run_id for r in runs) + " |",
        "|---|" + "---|" * len(runs),
    ]
    lines += [f"| {_md(label)} | " + " | ".join(_md(v) for v in values) + " |" for label, values in _env_rows(runs)]
    return "\n".join(lines) + "\n"
