"""The report's data, as plain values the templates only substitute (``report.html.j2`` and ``report.md.j2`` get the
same context): per run its settings, headline, one table per trial with its checks and the warnings about its
numbers beside it; the run-to-run changes of each CNI when there are several runs; plots, failures, environment.

CNIs are compared within each run only. Over several runs, each CNI's change from one run to the next is the
``compare`` logic (:mod:`cnibench.results.compare`), shown apart, never a contest between runs.
"""

from __future__ import annotations

import base64
import itertools
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cnibench import __version__
from cnibench.datapath_config import CONFIG_KEY, EFFECTIVE_KEY, describe
from cnibench.report import scoreboard
from cnibench.report.costs import cost_table
from cnibench.results.analysis import environment_differences, percent
from cnibench.results.compare import compare
from cnibench.results.inference import ALPHA, BLOCKED_MIN_ROUNDS
from cnibench.results.model import RunResults
from cnibench.results.trust import TrustWarning, warnings_for
from cnibench.results.verdicts import RunAnalysis, Verdict, settings
from cnibench.scenarios import SCENARIOS

if TYPE_CHECKING:
    from cnibench.report.figure import Plot

ENV_ROWS = (
    ("kernel", "kernel"),
    ("cpu_model", "CPU"),
    ("cpu_count", "CPUs"),
    ("memory_bytes", "memory"),
    ("cnibench", "cnibench"),
)
METHOD = (
    "Per trial and metric: each CNI's median over its successful repetitions [the median's exact order-statistic "
    "interval] (n), and each CNI compared with the reference. The experimental unit is the cluster (one CNI on one "
    "fresh cluster in one round): a cluster's value is the geometric mean of its repetitions, and the comparison "
    "is the ratio of the CNI's clusters to the reference's, paired by round from "
    f"{BLOCKED_MIN_ROUNDS} rounds on (Student's t on the logarithms), with an interval that holds simultaneously "
    f"over its family at {percent(1 - ALPHA, 0)} (Bonferroni; the primary metrics, the others and the policies' "
    "costs are three families). Outcome: different (≠) when the interval excludes no change, equivalent (≈) when "
    "it lies within the margin, else inconclusive (?) with the difference this design would detect with 80 % "
    "power. Checks (failed requests, backend fairness, UDP loss) are limits every repetition must keep. A policy's "
    "cost: per cluster, the trial over its baseline run back to back on it."
)


def when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _cell(verdict: Verdict, cni: str, marks: list[int]) -> dict[str, Any]:
    stats, m = verdict.stats[cni], verdict.metric
    if stats.median is None:
        text = f"- (n=0, {stats.failed} failed)" if stats.failed else "-"
    else:
        text = m.show(stats.median) + (f" {stats.ci.describe(m.show)}" if stats.ci else "")
        text += f" (n={stats.n}" + (f", {stats.failed} failed" if stats.failed else "") + ")"
        if cni in verdict.judgements:
            text += f" {verdict.note(cni)}"
        elif cni == verdict.reference and verdict.judgements:
            text += " (reference)"
    return {"text": text, "highlight": cni in verdict.highlighted, "marks": marks}


def _marks(warnings: list[TrustWarning], cni: str, metric: str | None) -> list[int]:
    """The numbers (1-based, in the trial's warning list) of the warnings about ``cni``'s figure of ``metric``."""
    return [i + 1 for i, w in enumerate(warnings) if w.cni in (None, cni) and (w.metric is None or w.metric == metric)]


def _trial(analysis: RunAnalysis, trial: str, warnings: list[TrustWarning]) -> dict[str, Any]:
    verdicts = [v for v in analysis.verdicts if v.scenario == trial]
    cnis = list(dict.fromkeys(c for v in verdicts for c in v.stats))
    mine = [w for w in warnings if w.scenario == trial]
    rows = []
    for v in verdicts:
        unit = f" ({v.metric.unit})" if v.metric.unit else ""
        rows.append(
            {
                "metric": v.metric.label + unit,
                "better": f"{v.metric.better} is better" + (", primary" if v.metric.primary else ""),
                "cells": [_cell(v, cni, _marks(mine, cni, v.metric.name)) for cni in cnis],
                "note": "; ".join(f"{cni}: {v.sentence(cni)}" for cni in v.judgements),
            }
        )
    checks = []
    for c in (c for c in analysis.checks if c.scenario == trial):
        unit = f" ({c.metric.unit})" if c.metric.unit else ""
        cells = [
            {"text": c.results[cni].describe(), "passed": c.results[cni].passed} if cni in c.results else None
            for cni in cnis
        ]
        checks.append({"metric": c.metric.label + unit, "better": f"limit, {c.metric.better} passes", "cells": cells})
    return {"name": trial, "cnis": cnis, "rows": rows, "checks": checks, "warnings": [w.line() for w in mine]}


def _plot(plot: Plot) -> dict[str, Any]:
    return {
        "title": plot.title,
        "caption": plot.caption,
        "uri": "data:image/svg+xml;base64," + base64.b64encode(plot.svg.encode()).decode(),
        "tables": [
            {"title": t.title, "header": list(t.header), "rows": [list(r) for r in t.rows], "note": t.note}
            for t in plot.tables
        ],
    }


def _sections(
    run: RunResults, analysis: RunAnalysis, warnings: list[TrustWarning], plots: Sequence[Plot], anchor: str
) -> list[dict[str, Any]]:
    """One section per scenario of the run (in the registry's order): its trials' tables, its figures (the plots
    whose ``scenario`` is its name), its CPU-cost table."""
    trials = list(dict.fromkeys(v.scenario for v in analysis.verdicts))
    trials += [c.scenario for c in analysis.checks if c.scenario not in trials]
    trials += [t for t in dict.fromkeys(s.scenario for s in run.samples) if t not in trials]
    sections = []
    for scenario in SCENARIOS.values():
        mine = [t for t in trials if scenario.owns(t)]
        figures = [_plot(p) for p in plots if p.scenario == scenario.name]
        if not mine and not figures:
            continue
        sections.append(
            {
                "name": scenario.name,
                "anchor": f"{anchor}-{scenario.name}",
                "trials": [_trial(analysis, trial, warnings) for trial in mine],
                "plots": figures,
                "costs": cost_table([run], mine),
            }
        )
    return sections


def _run(run: RunResults, analysis: RunAnalysis, index: int, plots: Sequence[Plot], note: str | None) -> dict[str, Any]:
    warnings = warnings_for(run)
    caveats = scoreboard.caveats(analysis)
    anchor = f"run-{index + 1}"
    return {
        "id": run.run_id,
        "anchor": anchor,
        "name": run.name,
        "platform": run.platform,
        "status": run.status,
        "started": when(run.started_at),
        "ok": sum(1 for s in run.samples if s.status == "ok"),
        "total": max(len(run.samples), run.planned_repetitions),
        "settings": settings(run),
        # what the numbers mean on the run's platform (environment.json "measured"; runs recorded before have none)
        "measured": [str(line) for line in run.environment.get("measured") or []],
        "headline": analysis.headline(),
        "scoreboard": {
            "heading": scoreboard.heading(analysis),
            "rows": [r.__dict__ for r in scoreboard.rows(analysis)],
            "caveats": caveats,
        },
        "sections": _sections(run, analysis, warnings, plots, anchor),
        "node_note": note,
        "warnings": [w.line() for w in warnings if w.scenario is None and w.line() not in caveats],
    }


def _changes(runs: Sequence[RunResults]) -> list[dict[str, Any]]:
    """Each CNI's change from one run to the next (the ``compare`` logic), per pair of consecutive runs."""
    out: list[dict[str, Any]] = []
    for a, b in itertools.pairwise(runs):
        result = compare(a, b, shared_only=True)
        if not result.changes and not result.regressions:
            out.append({"a": a.run_id, "b": b.run_id, "lines": [], "regressions": [],
                        "notes": ["the runs share no CNI x trial with results: nothing to compare"]})  # fmt: skip
            continue
        cnis_a = {s.cni for s in a.samples}
        cnis_b = {s.cni for s in b.samples}
        apart = sorted(cnis_a ^ cnis_b)
        notes = list(result.notes)
        if apart:
            notes.append(
                f"{', '.join(apart)} ran in only one of the two runs: a CNI is compared with other CNIs only within "
                "a run (between runs, a difference would mix the CNI with the run's conditions)"
            )
        out.append(
            {
                "a": a.run_id,
                "b": b.run_id,
                "lines": [{"text": c.describe(), "regression": c.regression} for c in result.changes],
                "regressions": [r.line() for r in result.regressions],
                "notes": notes,
            }
        )
    return out


def _env_value(key: str, value: object) -> str:
    """An environment figure as the table shows it: a memory size in GiB (2^30 bytes), else as recorded."""
    if value is None:
        return "-"
    if key == "memory_bytes" and isinstance(value, int | float):
        return f"{value / 2**30:.1f} GiB"
    return str(value)


def _offloads(offloads: dict[str, Any]) -> str:
    """The offloads read back, each distinct set once with where it was found: ``eth: tx-checksumming on, ...``."""
    seen: dict[str, list[str]] = {}
    for found in offloads.values():
        for dev, features in (found or {}).items():
            text = ", ".join(f"{k} {'on' if v else 'off'}" for k, v in features.items())
            seen.setdefault(text, [])
            if dev not in seen[text]:
                seen[text].append(dev)
    return "; ".join(f"{'/'.join(devs)}: {text}" for text, devs in seen.items())


def _env_rows(runs: Sequence[RunResults]) -> list[tuple[str, list[str]]]:
    rows = [(label, [_env_value(key, r.environment.get(key)) for r in runs]) for key, label in ENV_ROWS]
    tools = sorted({t for r in runs for t in (r.environment.get("tools") or {})})
    rows += [(t, [str((r.environment.get("tools") or {}).get(t, "-")) for r in runs]) for t in tools]
    for r_index, run in enumerate(runs):
        for cni, facts in (run.environment.get("clusters") or {}).items():
            label = f"{cni}: datapath, pod MTU" + (f" ({run.run_id})" if len(runs) > 1 else "")
            values = ["-"] * len(runs)
            values[r_index] = f"{facts.get('datapath', '-')}, {facts.get('pod_mtu', '-')}"
            rows.append((label, values))
            config = facts.get(CONFIG_KEY)
            if isinstance(config, dict):  # recorded since CNI variants (issue 31)
                values = ["-"] * len(runs)
                values[r_index] = describe(config)
                rows.append((f"{cni}: datapath configuration" + (f" ({run.run_id})" if len(runs) > 1 else ""), values))
            effective = facts.get(EFFECTIVE_KEY)
            if isinstance(effective, dict) and effective:  # read back from a Kubernetes variant's agents
                values = ["-"] * len(runs)
                values[r_index] = describe(effective)
                rows.append((f"{cni}: read back" + (f" ({run.run_id})" if len(runs) > 1 else ""), values))
            offloads = facts.get("offloads")
            if isinstance(offloads, dict) and offloads:
                values = ["-"] * len(runs)
                values[r_index] = _offloads(offloads)
                rows.append((f"{cni}: offloads read back" + (f" ({run.run_id})" if len(runs) > 1 else ""), values))
    loads = [r.environment.get("background_load") for r in runs]
    if any(isinstance(load, dict) for load in loads):
        rows.append(
            (
                "other work before the run",
                [f"{load.get('cpu_percent', '-')} % busy" if isinstance(load, dict) else "-" for load in loads],
            )
        )
    scopes = [str((r.environment.get("metrics") or {}).get("scope", "-")) for r in runs]
    if any(s != "-" for s in scopes):
        rows.append(("node metrics", scopes))
    return rows


def _differences(runs: Sequence[RunResults]) -> list[str]:
    """What differs between the runs' machines and tools (CPU model, kernel, cores, tools, background load), once
    for the whole report: each difference of consecutive runs, a repeated one only once."""
    found: list[str] = []
    for a, b in itertools.pairwise(runs):
        for line in environment_differences(a, b):
            line = f"{line} ({a.run_id} vs {b.run_id})"
            if line not in found:
                found.append(line)
    return found


def context(
    runs: Sequence[RunResults],
    analyses: Sequence[RunAnalysis],
    plots: Sequence[Sequence[Plot]],
    notes: Sequence[str | None],
) -> dict[str, Any]:
    """Everything both templates show, as strings, numbers, lists and dicts. ``plots``: per run, its figures (each
    placed in the section of its ``scenario``); ``notes``: per run, why it has no node-metric plots (or None)."""
    title = "cnibench report: " + ", ".join(r.run_id for r in runs)
    rows = _env_rows(runs)
    return {
        "title": title,
        "generated": f"Generated by cnibench {__version__} on {when(time.time())}.",
        "method": METHOD,
        "several": len(runs) > 1,
        "runs": [
            _run(run, analysis, i, mine, note)
            for i, (run, analysis, mine, note) in enumerate(zip(runs, analyses, plots, notes, strict=True))
        ],
        "changes": _changes(runs),
        "differences": _differences(runs),
        "failed": [
            {"run": r.run_id, "cni": s.cni, "scenario": s.scenario, "repetition": s.repetition, "reason": s.error}
            for r in runs
            for s in r.samples
            if s.status != "ok"
        ],
        "environment": {
            "runs": [r.run_id for r in runs],
            "rows": [
                {"label": label, "values": values, "differs": len(runs) > 1 and len(set(values) - {"-"}) > 1}
                for label, values in rows
            ],
        },
    }
