"""The machine's run lock (one measuring run at a time) and its background-load sample, on real flock locks held
by real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cnibench import machine
from cnibench.errors import Interrupted

HOLD = """
import os, sys, time
from cnibench import machine
with machine.exclusive(wait=False, on_wait=print, check=lambda: None) as lock:
    lock.describe(run_id="20261203-120000-other", run_dir="/tmp/results/20261203-120000-other")
    print("held", flush=True)
    sys.stdin.readline()
"""


@pytest.fixture
def lock_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "run.lock"
    monkeypatch.setenv(machine.LOCK_ENV, str(path))
    return path


def _holder(lock_file: Path) -> subprocess.Popen[str]:
    env = {**os.environ, machine.LOCK_ENV: str(lock_file)}
    proc = subprocess.Popen([sys.executable, "-c", HOLD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=env)  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"
    return proc


def test_a_second_run_is_refused_with_the_holders_run_id_and_pid(lock_file: Path) -> None:
    other = _holder(lock_file)
    try:
        with (
            pytest.raises(machine.MachineBusy) as caught,
            machine.exclusive(wait=False, on_wait=print, check=lambda: None),
        ):
            pytest.fail("the lock was taken twice")
        message = str(caught.value)
        assert f"PID {other.pid}" in message
        assert "run 20261203-120000-other" in message and "--wait" in message
        assert caught.value.exit_code == 2
    finally:
        other.communicate("\n", timeout=10)


def test_a_waiting_run_starts_when_the_other_ends(lock_file: Path) -> None:
    other = _holder(lock_file)
    heard: list[str] = []
    released_at: list[float] = []

    def release() -> None:
        time.sleep(1.0)
        released_at.append(time.monotonic())
        other.communicate("\n", timeout=10)

    threading.Thread(target=release).start()
    with machine.exclusive(wait=True, on_wait=heard.append, check=lambda: None):
        acquired_at = time.monotonic()
    assert len(heard) == 1 and f"PID {other.pid}" in heard[0]
    assert released_at and acquired_at >= released_at[0]


def test_a_waiting_run_gives_up_when_told_to(lock_file: Path) -> None:
    other = _holder(lock_file)
    calls = []

    def check() -> None:
        calls.append(1)
        if len(calls) > 2:
            raise Interrupted("interrupted by SIGINT")

    try:
        with pytest.raises(Interrupted), machine.exclusive(wait=True, on_wait=lambda _h: None, check=check):
            pytest.fail("the lock was taken while held")
    finally:
        other.communicate("\n", timeout=10)


def test_a_killed_holder_leaves_the_machine_free(lock_file: Path) -> None:
    other = _holder(lock_file)
    other.kill()
    other.communicate(timeout=10)  # reaps it and closes its pipes
    with machine.exclusive(wait=False, on_wait=print, check=lambda: None) as lock:
        assert lock.path == lock_file


def test_background_load_sees_a_busy_core() -> None:
    idle = machine.background_load(0.5)
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)
        busy = machine.background_load(1.0)
    finally:
        burner.kill()
        burner.wait()
    cores = busy["cores"]
    assert set(busy) == {"cpu_percent", "window_s", "cores"}
    # one core spinning is 100/cores % of the machine; other tenants may add to it, never take it away
    assert busy["cpu_percent"] >= 0.8 * 100 / cores
    assert 0.0 <= idle["cpu_percent"] <= 100.0
