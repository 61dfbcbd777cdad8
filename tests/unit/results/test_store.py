from __future__ import annotations

import csv
import hashlib
import io
import re
import shutil
import sqlite3

import pytest

from cnibench import cli
from cnibench.errors import ResultsError
from cnibench.results import store as store_mod
from cnibench.results.export import export_csv
from cnibench.results.model import read_results
from cnibench.results.store import Store, resolve


def _run_dir(tmp_path, data_dir, name="netns-ingress-l7.json"):
    run_dir = tmp_path / "run"
    run_dir.mkdir(exist_ok=True)
    shutil.copy(data_dir / "results" / name, run_dir / "results.json")
    return run_dir


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_add_is_idempotent_and_queryable(tmp_path, data_dir):
    run_dir = _run_dir(tmp_path, data_dir)
    results = read_results(run_dir)
    store = Store(tmp_path / "x.db")
    assert store.add(results, run_dir) is True
    assert store.add(results, run_dir) is False
    [row] = store.runs()
    assert (row.run_id, row.samples, row.ok) == (results.run_id, len(results.samples), len(results.samples))
    again, path = store.get(results.run_id)
    assert again == results and path == run_dir.resolve()
    with sqlite3.connect(store.path) as conn:
        rps = conn.execute("SELECT COUNT(*) FROM metrics WHERE name = 'requests_per_s'").fetchone()[0]
        kernel = conn.execute("SELECT value FROM environment WHERE key = 'kernel'").fetchone()[0]
    assert rps == len(results.samples) and kernel == results.environment["kernel"]


def test_a_crash_mid_write_leaves_the_database_as_it_was(tmp_path, data_dir, monkeypatch):
    store = Store(tmp_path / "x.db")
    store.add(read_results(data_dir / "results" / "netns-hostgw-vxlan.json"))
    before = _digest(store.path)
    calls = {"n": 0}
    real = store_mod._metric_rows

    def dies_on_the_third_sample(sample):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("power cut")
        return real(sample)

    monkeypatch.setattr(store_mod, "_metric_rows", dies_on_the_third_sample)
    with pytest.raises(RuntimeError):
        store.add(read_results(_run_dir(tmp_path, data_dir)))
    assert _digest(store.path) == before
    assert [r.run_id for r in store.runs()] == ["20261126-051618-local"]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ('{"schema_version": 99}', "unknown schema_version 99"),
        ('{"schema_version": 2, "run_id"', "not valid JSON"),
    ],
)
def test_a_failed_import_changes_nothing(tmp_path, data_dir, capsys, content, words):
    db = tmp_path / "x.db"
    Store(db).add(read_results(data_dir / "results" / "netns-hostgw-vxlan.json"))
    before = _digest(db)
    good = _run_dir(tmp_path, data_dir)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "results.json").write_text(content)
    assert cli.main(["import", str(good), str(bad), "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err
    assert _digest(db) == before  # the good run was not added either: everything is validated first


def test_not_a_run_directory(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert cli.main(["report", str(tmp_path / "empty"), "--db", str(tmp_path / "x.db")]) == 2
    assert "not a run directory" in capsys.readouterr().err
    with pytest.raises(ResultsError, match="no such run directory or stored run"):
        resolve("nothing-here", Store(tmp_path / "x.db"))


def test_export_csv_has_a_row_per_sample(data_dir):
    results = read_results(data_dir / "results" / "netns-ingress-l7.json")
    lines = export_csv(results).splitlines()
    header = lines[0].split(",")
    assert header[:5] == ["run_id", "cni", "scenario", "repetition", "status"]
    assert "requests_per_s" in header and "backend_hits.echo-1" in header  # one value per cell
    assert len(lines) == 1 + len(results.samples)
    rows = list(csv.DictReader(io.StringIO(export_csv(results))))
    assert all(not str(v).startswith(("[", "{")) for row in rows for v in row.values())  # no nested JSON in a cell
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", rows[0]["started_at"])  # ISO 8601, UTC
