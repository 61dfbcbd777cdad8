"""Every finished run in one SQLite database, queryable across runs: runs, samples, metrics, environment.

Adding a run is one transaction: it is all there or not at all (a crash mid-write leaves the database as it was),
and adding the same run again changes nothing. Runs are validated completely before the database is touched.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnibench.errors import ResultsError
from cnibench.results.catalog import METRICS
from cnibench.results.model import RESULTS_FILE, RunResults, read_results

DEFAULT_DB = Path("results") / "cnibench.db"
DB_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    platform TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    started_at REAL NOT NULL,
    ended_at REAL,
    cnibench_version TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    planned_repetitions INTEGER NOT NULL,
    path TEXT,
    added_at REAL NOT NULL,
    results_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS samples (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    cni TEXT NOT NULL,
    scenario TEXT NOT NULL,
    repetition INTEGER NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    started_at REAL,
    ended_at REAL,
    artifact TEXT,
    sample_json TEXT NOT NULL,
    UNIQUE (run_id, cni, scenario, repetition)
);
CREATE TABLE IF NOT EXISTS metrics (
    sample_id INTEGER NOT NULL REFERENCES samples(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    node TEXT NOT NULL DEFAULT '',
    value REAL NOT NULL,
    PRIMARY KEY (sample_id, name, node)
);
CREATE TABLE IF NOT EXISTS environment (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT,
    PRIMARY KEY (run_id, key)
);
CREATE INDEX IF NOT EXISTS samples_by_group ON samples (cni, scenario);
CREATE INDEX IF NOT EXISTS metrics_by_name ON metrics (name);
"""


@dataclass(frozen=True)
class RunRow:
    run_id: str
    name: str
    platform: str
    status: str
    started_at: float
    samples: int
    ok: int
    cnis: str
    path: str | None


def flatten(data: Any, prefix: str = "") -> dict[str, str]:
    """``{"tools": {"iperf3": "3.12"}}`` -> ``{"tools.iperf3": "3.12"}`` (lists as JSON)."""
    out: dict[str, str] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}{key}."))
    elif isinstance(data, list):
        out[prefix[:-1]] = json.dumps(data)
    elif data is not None:
        out[prefix[:-1]] = str(data)
    return out


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self.path, timeout=30)
        except sqlite3.Error as exc:
            raise ResultsError(f"{self.path}: cannot open the results database: {exc}") from None
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, DB_VERSION):
                raise ResultsError(f"{self.path}: database version {version}, this cnibench knows {DB_VERSION}")
            if version == 0:
                with conn:
                    conn.executescript(_SCHEMA)
                    conn.execute(f"PRAGMA user_version = {DB_VERSION}")
            yield conn
        except sqlite3.DatabaseError as exc:
            raise ResultsError(f"{self.path}: not a cnibench database: {exc}") from None
        finally:
            conn.close()

    def add(self, results: RunResults, run_dir: Path | None = None) -> bool:
        """Store a finished run; False if it was already there (nothing changes then)."""
        if results.status == "running":
            raise ResultsError(f"run {results.run_id} has not finished (status running)")
        with self.connect() as conn:
            if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (results.run_id,)).fetchone():
                return False
            with conn:  # one transaction: all or nothing
                conn.execute(
                    "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        results.run_id,
                        results.name,
                        results.platform,
                        results.status,
                        results.error,
                        results.started_at,
                        results.ended_at,
                        results.cnibench_version,
                        results.schema_version,
                        results.planned_repetitions,
                        str(run_dir.resolve()) if run_dir else None,
                        time.time(),
                        results.model_dump_json(),
                    ),
                )
                conn.executemany(
                    "INSERT INTO environment VALUES (?,?,?)",
                    [(results.run_id, k, v) for k, v in sorted(flatten(results.environment).items())],
                )
                for sample in results.samples:
                    cursor = conn.execute(
                        "INSERT INTO samples (run_id, cni, scenario, repetition, status, error, started_at, "
                        "ended_at, artifact, sample_json) VALUES (?,?,?,?,?,?,?,?,?,?)",
                        (
                            results.run_id,
                            sample.cni,
                            sample.scenario,
                            sample.repetition,
                            sample.status,
                            sample.error,
                            sample.started_at,
                            sample.ended_at,
                            sample.artifact,
                            sample.model_dump_json(),
                        ),
                    )
                    conn.executemany(
                        "INSERT INTO metrics VALUES (?,?,?,?)",
                        [(cursor.lastrowid, name, node, value) for name, node, value in _metric_rows(sample)],
                    )
        return True

    def runs(self) -> list[RunRow]:
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT r.run_id, r.name, r.platform, r.status, r.started_at, COUNT(s.id), "
                "COALESCE(SUM(s.status = 'ok'), 0), COALESCE(GROUP_CONCAT(DISTINCT s.cni), ''), r.path "
                "FROM runs r LEFT JOIN samples s ON s.run_id = r.run_id GROUP BY r.run_id ORDER BY r.started_at"
            ).fetchall()
        return [RunRow(*row) for row in rows]

    def get(self, run_id: str) -> tuple[RunResults, Path | None]:
        with self.connect() as conn:
            row = conn.execute("SELECT results_json, path FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise ResultsError(f"no run {run_id!r} in {self.path} (see `cnibench runs`)")
        return RunResults.model_validate_json(row[0]), Path(row[1]) if row[1] else None


def _metric_rows(sample: Any) -> list[tuple[str, str, float]]:
    rows = []
    for metric in METRICS:
        value = getattr(sample, metric.name, None)
        if isinstance(value, int | float) and not isinstance(value, bool):
            rows.append((metric.name, "", float(value)))
    for node, figures in (sample.node_metrics or {}).items():
        rows += [(name, node, float(value)) for name, value in figures.items()]
    return rows


def resolve(ref: str, store: Store | None = None) -> tuple[RunResults, Path | None]:
    """A run named on the command line: a run directory, its results.json, ``latest`` under ./results, or the
    run id of a stored run."""
    path = Path(ref)
    if ref == "latest" and not path.exists():
        path = Path("results") / "latest"
    if path.is_dir() or path.name == RESULTS_FILE or path.suffix == ".json":
        if path.is_dir() and not (path / RESULTS_FILE).exists():
            raise ResultsError(f"{path}: not a run directory (it has no {RESULTS_FILE})")
        results = read_results(path)
        return results, (path if path.is_dir() else path.parent).resolve()
    if store is not None and store.path.exists():
        return store.get(ref)
    raise ResultsError(f"{ref}: no such run directory or stored run")
