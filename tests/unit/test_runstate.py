"""A run whose cnibench process is gone is never "running": runs, report, compare and status say abandoned."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from cnibench import cli, commands, runstate
from cnibench.progress import PROGRESS_FILE
from cnibench.results.model import SCHEMA_VERSION, Owner, RunResults, read_results, write_results


def _exited_process() -> Owner:
    """The owner record of a real process that has ended (and been reaped: its PID is free)."""
    proc = subprocess.Popen(["true"])
    owner = Owner(pid=proc.pid, started_at=psutil.Process(proc.pid).create_time(), host=socket.gethostname())
    proc.wait()
    return owner


def _running_run(data_dir: Path, results_dir: Path, owner: Owner | None, run_id: str = "r-killed") -> Path:
    """A real run's results (hostgw vs vxlan), as its process left them: still "running"."""
    data = json.loads((data_dir / "results" / "netns-hostgw-vxlan.json").read_text())
    results = RunResults.model_validate(
        {**data, "schema_version": SCHEMA_VERSION, "run_id": run_id, "status": "running", "ended_at": None}
    ).model_copy(update={"owner": owner})
    run_dir = results_dir / run_id
    run_dir.mkdir(parents=True)
    write_results(run_dir / "results.json", results)
    return run_dir


def test_a_dead_owner_pid_makes_a_run_abandoned(tmp_path, data_dir):
    run_dir = _running_run(data_dir, tmp_path, _exited_process())
    results = read_results(run_dir)
    assert results.status == "running"  # what the file says
    seen = runstate.observed(results)
    assert seen.status == "abandoned"
    assert f"PID {results.owner.pid}" in seen.error and "`cnibench clean`" in seen.error
    assert read_results(run_dir) == results  # reading changes nothing on disk


def test_a_live_owner_keeps_a_run_running(tmp_path, data_dir):
    owner = runstate.this_process()
    assert owner.pid == os.getpid() and runstate.owner_alive(owner) is True
    results = read_results(_running_run(data_dir, tmp_path, owner))
    assert runstate.observed(results) is results


def test_another_process_under_the_owners_pid_is_not_the_owner():
    me = runstate.this_process()
    assert runstate.owner_alive(me.model_copy(update={"started_at": me.started_at - 3600})) is False


def test_a_zombie_owner_is_gone():
    proc = subprocess.Popen(["true"])
    owner = Owner(pid=proc.pid, started_at=psutil.Process(proc.pid).create_time(), host=socket.gethostname())
    deadline = time.monotonic() + 10
    while psutil.Process(proc.pid).status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        assert runstate.owner_alive(owner) is False  # exited, not yet reaped by its parent
    finally:
        proc.wait()


def test_on_another_host_it_cannot_be_told(tmp_path, data_dir):
    owner = _exited_process().model_copy(update={"host": "elsewhere"})
    results = read_results(_running_run(data_dir, tmp_path, owner))
    assert runstate.owner_alive(owner) is None and runstate.observed(results).status == "running"


def test_files_of_schema_4_without_an_owner_stay_readable(tmp_path, data_dir):
    data = json.loads((data_dir / "results" / "netns-hostgw-vxlan.json").read_text())
    path = tmp_path / "results.json"
    path.write_text(json.dumps({**data, "schema_version": 4, "status": "running"}))
    results = read_results(path)
    assert results.owner is None and runstate.observed(results).status == "running"


def test_runs_lists_a_killed_run_as_abandoned_and_says_how_to_clean_up(tmp_path, data_dir, capsys):
    results_dir = tmp_path / "results"
    _running_run(data_dir, results_dir, _exited_process())
    _running_run(data_dir, results_dir, runstate.this_process(), run_id="r-live")
    (results_dir / "latest").symlink_to("r-live")
    assert commands.runs(results_dir / "cnibench.db") == 0
    out, err = capsys.readouterr()
    [killed] = [line for line in out.splitlines() if line.startswith("r-killed")]
    [live] = [line for line in out.splitlines() if line.startswith("r-live")]
    assert "abandoned" in killed.split() and "running" in live.split()
    assert err.count("\n") == 1 and "warning: run r-killed is abandoned" in err and "`cnibench clean`" in err


def test_report_and_compare_show_an_abandoned_run(tmp_path, data_dir, capsys):
    killed = _running_run(data_dir, tmp_path, _exited_process())
    assert commands.report([str(killed)], db=tmp_path / "none.db") == 0
    _, err = capsys.readouterr()
    assert "warning: run r-killed is abandoned" in err
    report = (killed / "report.md").read_text()
    assert "## Run r-killed" in report and "- the run is abandoned: its cnibench process" in report
    complete = tmp_path / "complete"
    complete.mkdir()
    (complete / "results.json").write_text((data_dir / "results" / "netns-hostgw-vxlan.json").read_text())
    commands.compare(str(complete), str(killed), db=tmp_path / "none.db")
    out, err = capsys.readouterr()
    assert "warning: run r-killed is abandoned" in err and "compare" in out


def test_status_says_abandoned_and_shows_the_last_progress(tmp_path, data_dir, capsys):
    killed = _running_run(data_dir, tmp_path, _exited_process())
    assert cli.main(["status", str(killed)]) == 0
    [line] = capsys.readouterr().out.splitlines()  # no progress line for a run that is not running
    assert line.startswith("run r-killed (") and "netns): abandoned, 8/8 repetitions ok: its cnibench process" in line
    assert "`cnibench clean`" in line
    live = _running_run(data_dir, tmp_path, runstate.this_process(), run_id="r-live")
    (live / PROGRESS_FILE).write_text(
        json.dumps({"pid": os.getpid(), "updated_at": time.time(), "line": "cnibench ▸ x", "done": 1, "total": 8})
    )
    assert cli.main(["status", str(live)]) == 0
    first, second = capsys.readouterr().out.splitlines()
    assert ": running, PID" in first and second == "cnibench ▸ x"


def test_clean_marks_a_killed_run_of_an_older_schema_with_its_own_words(tmp_path, data_dir):
    data = json.loads((data_dir / "results" / "netns-hostgw-vxlan.json").read_text())
    (tmp_path / "results.json").write_text(json.dumps({**data, "schema_version": 4, "status": "running"}))
    commands.mark_killed(tmp_path)
    results = read_results(tmp_path)
    assert (results.schema_version, results.status) == (4, "interrupted")  # schema 4 has no "abandoned"
    assert results.error == "its cnibench process is gone; `cnibench clean` removed what it left"


def test_clean_marks_a_killed_run_abandoned(tmp_path, data_dir):
    owner = _exited_process()
    run_dir = _running_run(data_dir, tmp_path, owner)
    commands.mark_killed(run_dir)
    results = read_results(run_dir)
    assert results.status == "abandoned" and results.ended_at is not None
    assert results.error == f"its cnibench process (PID {owner.pid} on {owner.host}) is gone; `cnibench clean` " \
        "removed what it left"  # fmt: skip


# ---- state files ---------------------------------------------------------------------------------------------


def test_concurrent_updates_are_not_lost(tmp_path):
    path = tmp_path / "cnib0001.json"
    runstate.init_state(path, prefix="cnib0001", owner_pid=os.getpid(), run_dir="/r")

    def add(i: int) -> None:
        runstate.add_namespaces(path, "cnib0001", [f"cnib0001-n{i}"])

    threads = [threading.Thread(target=add, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    data = runstate.read_state(path)
    assert sorted(data["namespaces"]) == sorted(f"cnib0001-n{i}" for i in range(20))
    runstate.drop_namespaces(path, ["cnib0001-n3"])
    assert "cnib0001-n3" not in runstate.read_state(path)["namespaces"]


def test_owner_alive_checks_pid_and_start_time(tmp_path):
    path = tmp_path / "s.json"
    runstate.init_state(path, prefix="cnib0002", owner_pid=os.getpid(), run_dir="/r")
    assert runstate.state_owner_alive(runstate.read_state(path))
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not runstate.same_process(child.pid, 12345)
    data = runstate.read_state(path)
    data["owner_start"] = data["owner_start"] + 5  # same PID, another process (started 5 s apart)
    assert not runstate.state_owner_alive(data)


def test_read_state_tolerates_missing_and_broken_files(tmp_path):
    assert runstate.read_state(tmp_path / "none.json") == {}
    broken = tmp_path / "b.json"
    broken.write_text("{not json")
    assert runstate.read_state(broken) == {}
