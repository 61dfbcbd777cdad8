"""The store's errors say what happened, and writers that meet (two imports at once) both succeed."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnibench.errors import ResultsError
from cnibench.results.model import read_results
from cnibench.results.store import Store

RUNS = ("netns-hostgw-vxlan.json", "netns-ingress-l7.json")


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run_dirs(tmp_path, data_dir, copies=3):
    """Run directories of the real captured runs, each ``copies`` times under another run id."""
    dirs = []
    for name in RUNS:
        data = json.loads((data_dir / "results" / name).read_text())
        for copy in range(copies):
            run_dir = tmp_path / f"{data['run_id']}-{copy}"
            run_dir.mkdir()
            (run_dir / "results.json").write_text(json.dumps({**data, "run_id": run_dir.name}))
            dirs.append(run_dir)
    return dirs


def test_a_locked_database_says_locked_and_changes_nothing(tmp_path, data_dir):
    db = tmp_path / "x.db"
    store = Store(db, timeout=0.2)
    store.add(read_results(data_dir / "results" / RUNS[0]))
    before = _digest(db)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process in the middle of a long write
    try:
        started = time.monotonic()
        with pytest.raises(ResultsError) as info:
            store.add(read_results(data_dir / "results" / RUNS[1]))
        waited = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert str(info.value) == (
        f"{db}: database is locked: another process kept it busy for more than 0.2 s (a long import or report?); "
        "try again"
    )
    assert waited >= 0.2  # it waited (the busy timeout) before giving up
    assert _digest(db) == before


def test_a_file_that_is_not_sqlite_is_not_a_cnibench_database(tmp_path):
    db = tmp_path / "x.db"
    db.write_text("results, but not a database\n" * 100)
    with pytest.raises(ResultsError) as info:
        Store(db).runs()
    assert str(info.value) == f"{db}: not a cnibench database (not an SQLite database at all) (file is not a database)"


def test_another_programs_sqlite_database_is_refused_and_left_alone(tmp_path, data_dir):
    db = tmp_path / "other.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, path TEXT)")
    before = _digest(db)
    with pytest.raises(ResultsError) as info:
        Store(db).add(read_results(data_dir / "results" / RUNS[0]))
    assert str(info.value) == f"{db}: not a cnibench database (an SQLite database with the tables photos)"
    assert _digest(db) == before  # no cnibench tables added to someone else's database


def test_a_damaged_database_says_damaged(tmp_path, data_dir):
    db = tmp_path / "x.db"
    Store(db).add(read_results(data_dir / "results" / RUNS[0]))
    with db.open("r+b") as stream:  # overwrite everything after the first page (the header and schema stay)
        page = int.from_bytes(stream.read(18)[16:18], "big")
        stream.seek(page)
        stream.write(b"\xa5" * (db.stat().st_size - page))
    with pytest.raises(ResultsError, match=r"the database is damaged \(SQLite: database disk image is malformed\)"):
        Store(db).runs()


WRITERS = 6
WRITER = """
import sys
from cnibench import cli
print("ready", flush=True)
sys.exit(cli.main(["import", *sys.argv[2:], "--db", sys.argv[1]]))
"""


def test_concurrent_imports_all_succeed_and_store_each_run_once(tmp_path, data_dir):
    """Six processes import the same six runs into a new database at the same moment: they were lined up behind a
    lock this test held, and let go together. Before, the losers failed (a UNIQUE conflict reported as "not a
    cnibench database")."""
    db = tmp_path / "x.db"
    run_dirs = [str(d) for d in _run_dirs(tmp_path, data_dir)]
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db), *run_dirs],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(WRITERS)
    ]
    try:
        for proc in procs:
            assert proc.stdout.readline() == "ready\n"
        time.sleep(1.0)  # each is now waiting for the lock
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    outputs = [proc.communicate(timeout=120) for proc in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0 and err == "", err
    lines = [line for out, _ in outputs for line in out.splitlines()]
    for run_dir in run_dirs:
        about = [line for line in lines if f": {Path(run_dir).name} (" in line]
        assert len(about) == WRITERS
        assert sum(line.startswith("added: ") for line in about) == 1, about
    rows = Store(db).runs()
    assert sorted(r.samples for r in rows) == sorted(len(read_results(Path(d)).samples) for d in run_dirs)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
