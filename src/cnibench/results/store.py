"""Every finished run in one SQLite database, queryable across runs: runs, samples, metrics, environment.

Adding a run is one transaction: it is all there or not at all (a crash mid-write leaves the database as it was),
and adding the same run again changes nothing. Runs are validated completely before the database is touched.
Several processes may write at once (two ``import``s, a ``run`` finishing during an ``import``): a writer takes
SQLite's write lock first (``BEGIN IMMEDIATE``) and checks inside its transaction whether the run is already
there; the others wait for the lock (SQLite's busy timeout) instead of failing.

Where the store is, for every command (:func:`locate_store`): ``--db`` > ``$CNIBENCH_DB`` > the store recorded in
the run directory named on the command line (``store.json``, written by ``run``) > ``$CNIBENCH_RESULTS/cnibench.db``
> ``./results/cnibench.db``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnibench.errors import ResultsError
from cnibench.files import atomic_write_text
from cnibench.results.model import RESULTS_FILE, RunResults, read_results
from cnibench.scenarios import all_metrics

#: The results directory of every command (where ``run`` puts run directories and ``latest``), default ./results.
RESULTS_ENV = "CNIBENCH_RESULTS"
#: The results database of every command; wins over the run directory's own store and ``$CNIBENCH_RESULTS``.
DB_ENV = "CNIBENCH_DB"
DB_NAME = "cnibench.db"
DEFAULT_DB = Path("results") / DB_NAME
#: In every run directory: where ``run`` stored the run (so that later commands find that store).
STORE_RECORD = "store.json"
DB_VERSION = 1
#: Seconds a writer waits for another one to finish before "database is locked" (SQLite's busy timeout).
BUSY_TIMEOUT_S = 30.0
_TABLES = frozenset({"runs", "samples", "metrics", "environment"})

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
    """The SQLite results database at ``path`` (created on the first write)."""

    def __init__(self, path: Path, *, timeout: float = BUSY_TIMEOUT_S) -> None:
        self.path = path
        self.timeout = timeout

    @contextlib.contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection in autocommit mode (writers open their own ``BEGIN IMMEDIATE`` transaction), the schema
        created if the database is new. Every SQLite error becomes a :class:`ResultsError` saying what happened."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise ResultsError(f"{self.path}: cannot open the results database: {self._describe(exc)}") from None
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                with self._writing(conn):
                    self._create(conn)
            elif version != DB_VERSION:
                raise ResultsError(f"{self.path}: database version {version}, this cnibench knows {DB_VERSION}")
            yield conn
        except sqlite3.DatabaseError as exc:
            raise ResultsError(f"{self.path}: {self._describe(exc)}") from None
        finally:
            conn.close()

    @staticmethod
    @contextlib.contextmanager
    def _writing(conn: sqlite3.Connection) -> Iterator[None]:
        """One write transaction that holds SQLite's write lock from its start (``BEGIN IMMEDIATE``): a second
        writer waits for it (busy timeout) instead of both reading "not there yet" and then colliding."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _create(self, conn: sqlite3.Connection) -> None:
        """Create the tables, inside the write transaction (another process may have done it meanwhile)."""
        if conn.execute("PRAGMA user_version").fetchone()[0] == DB_VERSION:
            return
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables - _TABLES:
            raise ResultsError(
                f"{self.path}: not a cnibench database (an SQLite database with the tables "
                f"{', '.join(sorted(tables - _TABLES))})"
            )
        # one statement at a time: executescript() would COMMIT the transaction first
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {DB_VERSION}")

    def _describe(self, exc: sqlite3.Error) -> str:
        """What an SQLite error means for the user, by its result code (https://sqlite.org/rescode.html)."""
        code = getattr(exc, "sqlite_errorcode", None)
        primary = code & 0xFF if isinstance(code, int) else None
        known = {
            sqlite3.SQLITE_BUSY: f"database is locked: another process kept it busy for more than {self.timeout:g} s "
            "(a long import or report?); try again",
            sqlite3.SQLITE_LOCKED: "database is locked by another connection of this process",
            sqlite3.SQLITE_NOTADB: "not a cnibench database (not an SQLite database at all)",
            sqlite3.SQLITE_CORRUPT: "the database is damaged (SQLite: database disk image is malformed)",
            sqlite3.SQLITE_IOERR: "disk I/O error while reading or writing the database",
            sqlite3.SQLITE_FULL: "the disk is full",
            sqlite3.SQLITE_READONLY: "cannot write the database: it is read-only for this user",
            sqlite3.SQLITE_CANTOPEN: "cannot open the database file (is it a directory, or its directory "
            "not writable?)",
            sqlite3.SQLITE_PERM: "permission denied",
        }
        what = known.get(primary) if primary is not None else None
        if what is None:
            return f"SQLite error: {exc}"
        return what if str(exc) in what else f"{what} ({exc})"

    def add(self, results: RunResults, run_dir: Path | None = None) -> bool:
        """Store a finished run; False if it was already there (nothing changes then). Safe with other writers:
        the check and the inserts are one transaction under the write lock. Raises :class:`ResultsError`."""
        if results.status == "running":
            raise ResultsError(f"run {results.run_id} has not finished (status running)")
        with self.connect() as conn, self._writing(conn):  # one transaction: all or nothing
            if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (results.run_id,)).fetchone():
                return False
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
    for metric in all_metrics():
        value = getattr(sample, metric.name, None)
        if isinstance(value, int | float) and not isinstance(value, bool):
            rows.append((metric.name, "", float(value)))
    for node, figures in (sample.node_metrics or {}).items():
        rows += [(name, node, float(value)) for name, value in figures.items()]
    return rows


# --------------------------------------------------------------------------------------------- where it is


def results_dir() -> Path:
    """Where run directories go and ``latest`` is: ``$CNIBENCH_RESULTS``, else ./results."""
    return Path(os.environ.get(RESULTS_ENV) or "results")


def record_store(run_dir: Path, db: Path) -> None:
    """Write down in ``run_dir`` which database the run is stored in: relative when the database sits in the
    run's results directory (the default; it stays right when the whole directory moves), else absolute."""
    db, run_dir = db.resolve(), run_dir.resolve()
    where = os.path.relpath(db, run_dir) if db.parent == run_dir.parent else str(db)
    atomic_write_text(run_dir / STORE_RECORD, json.dumps({"db": where}) + "\n")


def recorded_store(run_dir: Path) -> Path | None:
    """The database a run directory says it was stored in, if that record exists and the database is there."""
    try:
        where = json.loads((run_dir / STORE_RECORD).read_text(encoding="utf-8"))["db"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    db = run_dir / str(where)  # the system resolves ".." from the real directory (run_dir may be a link)
    if not db.is_file():
        return None
    shorter = Path(os.path.normpath(db))  # results/latest/../cnibench.db -> results/cnibench.db, if the same file
    with contextlib.suppress(OSError):
        if shorter.samefile(db):
            return shorter
    return db


def _run_dir_of(ref: str | Path) -> Path | None:
    path = Path(ref)
    if str(ref) == "latest" and not path.exists():
        path = results_dir() / "latest"
    if path.is_file() and path.name == RESULTS_FILE:
        path = path.parent
    return path if (path / RESULTS_FILE).is_file() else None


def locate_store(db: Path | None = None, runs: Iterable[str | Path] = (), *, results: Path | None = None) -> Path:
    """The results database a command uses, by one rule for every command: ``--db`` (``db``) >
    ``$CNIBENCH_DB`` > the store recorded in the first of ``runs`` (run directories, results.json files or
    ``latest``) that has one > ``$CNIBENCH_RESULTS/cnibench.db`` > ``./results/cnibench.db``. ``run`` passes
    its results directory as ``results`` (``--results-dir``): its run directory's store is ``results/cnibench.db``.
    """
    if db is not None:
        return db
    if os.environ.get(DB_ENV):
        return Path(os.environ[DB_ENV])
    for ref in runs:
        run_dir = _run_dir_of(ref)
        recorded = recorded_store(run_dir) if run_dir is not None else None
        if recorded is not None:
            return recorded
    return (results or results_dir()) / DB_NAME


def resolve(ref: str, store: Store | None = None) -> tuple[RunResults, Path | None]:
    """A run named on the command line: a run directory, its results.json, ``latest`` (in the results directory,
    see :func:`results_dir`), or the run id of a stored run."""
    path = Path(ref)
    if ref == "latest" and not path.exists():
        path = results_dir() / "latest"
    if path.is_dir() or path.name == RESULTS_FILE or path.suffix == ".json":
        if path.is_dir() and not (path / RESULTS_FILE).exists():
            raise ResultsError(f"{path}: not a run directory (it has no {RESULTS_FILE})")
        results = read_results(path)
        return results, path if path.is_dir() else path.parent  # as given: its parents may not be ours to search
    if store is not None and store.path.exists():
        return store.get(ref)
    where = f" ({store.path} does not exist)" if store is not None else ""
    raise ResultsError(f"{ref}: no such run directory or stored run{where}")
