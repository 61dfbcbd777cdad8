"""Where the results store is, by one rule for every command: --db > $CNIBENCH_DB > the store a run directory
named on the command line records > $CNIBENCH_RESULTS/cnibench.db > ./results/cnibench.db."""

from __future__ import annotations

import json
import shutil

import pytest

from cnibench import cli, commands
from cnibench.results.model import read_results
from cnibench.results.store import Store, locate_store, recorded_store

EGRESS_RUN = "20261126-051618-local"


@pytest.fixture
def elsewhere(tmp_path, data_dir, monkeypatch):
    """Two runs made as `cnibench run --results-dir elsewhere` leaves them (store and report included), seen from
    a working directory that has no ./results."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CNIBENCH_DB", raising=False)
    monkeypatch.delenv("CNIBENCH_RESULTS", raising=False)
    results_dir = tmp_path / "elsewhere"
    for name in ("netns-hostgw-vxlan", "netns-ingress-l7"):
        results = read_results(data_dir / "results" / f"{name}.json")
        run_dir = results_dir / results.run_id
        run_dir.mkdir(parents=True)
        shutil.copy(data_dir / "results" / f"{name}.json", run_dir / "results.json")
        commands.store_and_report(run_dir, results, results_dir / "cnibench.db")
    (results_dir / "latest").symlink_to(EGRESS_RUN)
    return results_dir


def _ingress_run(results_dir):
    return next(p.name for p in results_dir.iterdir() if p.is_dir() and not p.is_symlink() and p.name != EGRESS_RUN)


def test_run_records_its_store_in_the_run_directory(elsewhere):
    run_dir = elsewhere / EGRESS_RUN
    assert json.loads((run_dir / "store.json").read_text()) == {"db": "../cnibench.db"}
    assert recorded_store(run_dir) == elsewhere / "cnibench.db"
    moved = elsewhere.rename(elsewhere.with_name("moved"))  # the record is relative: it moves with the directory
    assert recorded_store(moved / EGRESS_RUN) == moved / "cnibench.db"


def test_a_stored_run_is_found_through_a_run_directory_named_beside_it(elsewhere, capsys):
    """compare A B with A a run directory and B a stored run id: B is looked up in A's store (it used to be
    ./results/cnibench.db, whatever --results-dir the run had)."""
    other = _ingress_run(elsewhere)
    assert cli.main(["compare", f"elsewhere/{EGRESS_RUN}", other]) == 1  # found; its egress trials are missing
    out = capsys.readouterr().out
    assert f"-> {other} (B)" in out and "REGRESSION: hostgw egress: in A (2 of 2 ok), missing from B" in out
    assert cli.main(["export", "elsewhere/latest", other, "--csv"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert {row.split(",")[0] for row in rows[1:]} == {EGRESS_RUN, other}


def test_without_a_run_directory_the_default_is_results_and_the_message_says_what_to_do(elsewhere, capsys):
    assert cli.main(["runs"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("no runs stored in results/cnibench.db") and "CNIBENCH_RESULTS=DIR" in out
    assert cli.main(["export", EGRESS_RUN, "--json"]) == 2
    assert "results/cnibench.db does not exist" in capsys.readouterr().err


def test_cnibench_results_sets_the_results_directory_of_every_command(elsewhere, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("CNIBENCH_RESULTS", "elsewhere")
    assert cli.main(["runs"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]]
    assert sorted(listed) == sorted([EGRESS_RUN, _ingress_run(elsewhere)])
    assert cli.main(["report", "-o", "r.html"]) == 0  # RUN defaults to latest: elsewhere/latest
    assert (tmp_path / "r.html").is_file()
    capsys.readouterr()
    assert cli.main(["export", EGRESS_RUN, "--csv"]) == 0
    assert capsys.readouterr().out.count(f"\n{EGRESS_RUN},") == 8  # one row per repetition
    assert cli.main(["status", EGRESS_RUN]) == 0  # a stored run id, from $CNIBENCH_RESULTS/cnibench.db
    assert capsys.readouterr().out.startswith(f"run {EGRESS_RUN} (local, netns): complete")
    assert cli.build_parser().parse_args(["run"]).results_dir is None  # run: $CNIBENCH_RESULTS, else ./results
    assert locate_store(results=elsewhere / "x") == elsewhere / "x" / "cnibench.db"


def test_cnibench_db_beats_the_run_directory_and_db_beats_both(elsewhere, monkeypatch, tmp_path, capsys):
    empty = tmp_path / "empty.db"
    Store(empty).runs()  # an empty cnibench database
    monkeypatch.setenv("CNIBENCH_DB", str(empty))
    other = _ingress_run(elsewhere)
    assert cli.main(["compare", f"elsewhere/{EGRESS_RUN}", other]) == 2
    assert f"no run {other!r} in {empty}" in capsys.readouterr().err
    assert cli.main(["compare", f"elsewhere/{EGRESS_RUN}", other, "--db", "elsewhere/cnibench.db"]) == 1  # found
    assert locate_store(runs=[f"elsewhere/{EGRESS_RUN}"]) == empty
    monkeypatch.delenv("CNIBENCH_DB")
    assert locate_store(runs=["nothing-here", f"elsewhere/{EGRESS_RUN}"]).samefile(elsewhere / "cnibench.db")
