from __future__ import annotations

import os
import subprocess
import sys
import threading

from cnibench.platforms.netns import state


def test_concurrent_updates_are_not_lost(tmp_path):
    path = tmp_path / "cnib0001.json"
    state.init_state(path, prefix="cnib0001", owner_pid=os.getpid(), run_dir="/r")

    def add(i: int) -> None:
        state.add_namespaces(path, "cnib0001", [f"cnib0001-n{i}"])

    threads = [threading.Thread(target=add, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    data = state.read_state(path)
    assert sorted(data["namespaces"]) == sorted(f"cnib0001-n{i}" for i in range(20))
    state.drop_namespaces(path, ["cnib0001-n3"])
    assert "cnib0001-n3" not in state.read_state(path)["namespaces"]


def test_owner_alive_checks_pid_and_start_time(tmp_path):
    path = tmp_path / "s.json"
    state.init_state(path, prefix="cnib0002", owner_pid=os.getpid(), run_dir="/r")
    assert state.owner_alive(state.read_state(path))
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not state.same_process(child.pid, 12345)
    data = state.read_state(path)
    data["owner_start"] = data["owner_start"] + 1  # same PID, different process
    assert not state.owner_alive(data)


def test_read_state_tolerates_missing_and_broken_files(tmp_path):
    assert state.read_state(tmp_path / "none.json") == {}
    broken = tmp_path / "b.json"
    broken.write_text("{not json")
    assert state.read_state(broken) == {}
