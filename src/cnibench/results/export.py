"""Exports: samples as CSV (one row per repetition, one value per cell: times in ISO 8601, UTC; nested figures
flattened into columns, lists only in the JSON export) and the statistics per run x CNI x scenario x metric, with
each CNI's verdict against the reference, as CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from cnibench.results.analysis import groups
from cnibench.results.model import RunResults
from cnibench.results.stats import median_interval
from cnibench.scenarios import metrics_for

LEADING = ("run_id", "cni", "scenario", "repetition", "status", "error", "started_at", "ended_at", "artifact")


#: Sample fields holding a Unix time, written as ISO 8601 in UTC.
TIME_FIELDS = ("started_at", "ended_at")


def iso(ts: object) -> object:
    """A Unix time (s) as ISO 8601 in UTC with milliseconds (``2026-12-07T11:16:25.123Z``); anything else as it
    is."""
    if isinstance(ts, int | float) and not isinstance(ts, bool):
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return ts


def _flatten(prefix: str, value: dict[str, Any], row: dict[str, Any]) -> None:
    """``value``'s scalars as ``prefix.key`` columns, nested dicts recursively; lists are left to the JSON export."""
    for key, inner in value.items():
        if isinstance(inner, dict):
            _flatten(f"{prefix}.{key}", inner, row)
        elif not isinstance(inner, list):
            row[f"{prefix}.{key}"] = inner


def _row(run_id: str, sample: dict[str, Any]) -> dict[str, Any]:
    """One sample as one CSV row, one value per cell: node metrics as ``node.<node>.<figure>``, other objects as
    ``<field>.<key>``; lists (per-interval figures) only in the JSON export."""
    row: dict[str, Any] = {"run_id": run_id}
    for key, value in sample.items():
        if key == "node_metrics" and isinstance(value, dict):
            _flatten("node", value, row)
        elif isinstance(value, dict):
            _flatten(key, value, row)
        elif isinstance(value, list):
            continue
        else:
            row[key] = iso(value) if key in TIME_FIELDS else value
    return row


def export_csv(results: RunResults | Sequence[RunResults]) -> str:
    """The samples of one or several runs as CSV, one row per repetition (columns: the union of all runs')."""
    runs = [results] if isinstance(results, RunResults) else list(results)
    rows = [_row(run.run_id, s.model_dump(mode="json")) for run in runs for s in run.samples]
    columns = [c for c in LEADING if any(c in r for r in rows) or c == "run_id"]
    columns += sorted({key for r in rows for key in r} - set(columns))
    return _csv(columns, rows)


def _csv(columns: Sequence[str], rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


#: The summary's columns. Values are in the sample field's own unit, which its name says (``throughput_bps``:
#: bit/s, ``rtt_mean_us``: µs, ``latency_p95_ms``: ms, ``failed_rate``: a fraction 0..1).
SUMMARY_COLUMNS = (
    "run_id",
    "cni",
    "scenario",
    "metric",
    "label",
    "better",
    "n",
    "failed",
    "median",
    "ci_low",
    "ci_high",
    "ci_level",
    "mean",
    "stdev",
    "min",
    "max",
    "cv",
    "reference",
    "outcome",
    "ratio",
    "ratio_ci_low",
    "ratio_ci_high",
    "ratio_ci_level",
    "p_adjusted",
    "mde",
    "code",
    "path",
    "offered_rate",
    "warnings",
)
#: The interval in the summary: exact, and honest about its level at small n (STYLE.md: a bootstrap of the median
#: at n = 3 is [min, max] with 75 % coverage, not 95 %).
SUMMARY_CI = (
    "ci_low..ci_high: exact order-statistic (binomial) confidence interval of the median; ci_level: the coverage it "
    "really has (0.95 when n allows it, else the most n gives: [min, max] at 0.75 for n = 3)"
)


def summary_rows(runs: Sequence[RunResults]) -> list[dict[str, Any]]:
    """Statistics per run x CNI x scenario x metric, over the successful repetitions (failed ones counted in
    ``failed``), as the report computes them (:func:`cnibench.results.analysis.groups`,
    :func:`cnibench.results.stats.metric_stats`), with the median's exact interval and its real level
    (:func:`cnibench.results.stats.median_interval`). A metric is listed for a scenario when some CNI has a value
    for it; a CNI whose repetitions all failed keeps its rows, with n = 0 (a failure is never a missing row)."""
    from cnibench.results.verdicts import analyse

    verdicts: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    references: dict[str, str | None] = {}
    for run in runs:
        analysis = analyse(run)
        references[run.run_id] = analysis.reference
        for obj in analysis.objects():
            verdicts[(run.run_id, obj["trial"], obj["metric"], obj["cni"])] = obj
    all_groups = groups(runs)
    rows: list[dict[str, Any]] = []
    for scenario in dict.fromkeys(g.scenario for g in all_groups):
        in_scenario = [g for g in all_groups if g.scenario == scenario]
        metrics = [m for m in metrics_for(scenario) if any(g.stats(m).n for g in in_scenario)]
        for metric in metrics or metrics_for(scenario)[:1]:  # nothing ok anywhere: the primary metric, n = 0
            for group in in_scenario:
                stats = group.stats(metric)
                interval = median_interval(stats.values)
                rows.append(
                    {
                        "run_id": group.run_id,
                        "cni": group.cni,
                        "scenario": scenario,
                        "metric": metric.name,
                        "label": metric.label,
                        "better": metric.better,
                        "n": stats.n,
                        "failed": stats.failed,
                        "median": stats.median,
                        "ci_low": interval.low if interval else None,
                        "ci_high": interval.high if interval else None,
                        "ci_level": interval.level if interval else None,
                        "mean": stats.mean,
                        "stdev": stats.stdev,
                        "min": stats.minimum,
                        "max": stats.maximum,
                        "cv": stats.cv,
                        **_verdict_cells(verdicts.get((group.run_id, scenario, metric.name, group.cni)),
                                         references.get(group.run_id)),
                        **_trial_cells(group),
                        "warnings": stats.warnings(),
                    }
                )  # fmt: skip
    return rows


def _verdict_cells(obj: dict[str, Any] | None, reference: str | None) -> dict[str, Any]:
    """The CNI's verdict against the reference (:func:`cnibench.results.verdicts.verdict_object`): empty for the
    reference itself and for metrics without one."""
    ci = obj["ci"] if obj and obj.get("ci") else [None, None]
    return {
        "reference": reference,
        "outcome": obj["outcome"] if obj else None,
        "ratio": obj["ratio"] if obj else None,
        "ratio_ci_low": ci[0],
        "ratio_ci_high": ci[1],
        "ratio_ci_level": obj["ci_level"] if obj and obj.get("ci") else None,
        "p_adjusted": obj["p_adjusted"] if obj else None,
        "mde": obj["mde"] if obj else None,
    }


def _trial_cells(group: Any) -> dict[str, Any]:
    """What names the trial beyond its name: the east-west code and path, a fixed load's offered rate."""
    first = group.samples[0] if group.samples else None
    return {name: getattr(first, name, None) for name in ("code", "path", "offered_rate")}


def summary_csv(runs: Sequence[RunResults]) -> str:
    """:func:`summary_rows` as CSV (warnings joined with "; ", empty cells for undefined figures)."""
    rows = [{**row, "warnings": "; ".join(row["warnings"])} for row in summary_rows(runs)]
    return _csv(SUMMARY_COLUMNS, rows)


def summary_json(runs: Sequence[RunResults]) -> str:
    """:func:`summary_rows` as JSON: ``{"runs": [run ids], "ci": how the interval is made, "rows": [...]}``."""
    data = {"runs": [run.run_id for run in runs], "ci": SUMMARY_CI, "rows": summary_rows(runs)}
    return json.dumps(data, indent=2) + "\n"
