"""Samples as CSV: one row per repetition, every scalar field a column, nested figures flattened."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from cnibench.results.model import RunResults

LEADING = ("run_id", "cni", "scenario", "repetition", "status", "error", "started_at", "ended_at", "artifact")


def _row(run_id: str, sample: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"run_id": run_id}
    for key, value in sample.items():
        if key == "node_metrics" and isinstance(value, dict):
            for node, figures in value.items():
                row.update({f"node.{node}.{name}": v for name, v in figures.items()})
        elif isinstance(value, dict | list):
            row[key] = json.dumps(value, sort_keys=True)
        else:
            row[key] = value
    return row


def export_csv(results: RunResults) -> str:
    rows = [_row(results.run_id, s.model_dump(mode="json")) for s in results.samples]
    columns = [c for c in LEADING if any(c in r for r in rows) or c == "run_id"]
    columns += sorted({key for r in rows for key in r} - set(columns))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
