"""The progress line in a real terminal: an 80-column tmux pane running a short real run, captured as it goes."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import write_spec

pytestmark = pytest.mark.integration
MARK = "cnibench ▸"


def _tmux(socket: str, *args: str) -> str:
    return subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True, check=True).stdout


def test_the_progress_line_stays_one_line_in_an_80_column_terminal(tmp_path):
    assert shutil.which("tmux"), "tmux is needed: apt-get install tmux (scripts/test.sh installs it)"
    write_spec(tmp_path / "spec.yaml", cnis=("hostgw",))
    socket = f"cnibench-test-{os.getpid()}"  # a tmux server of our own, ended by the test
    command = shlex.join([sys.executable, "-m", "cnibench", "run", "spec.yaml", "--repeat", "1", "--duration", "2"])
    command = f"CNIBENCH_RESULTS=out {command}"  # and where results go, for every command
    _tmux(
        socket,
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-x",
        "80",
        "-y",
        "40",
        "-c",
        str(tmp_path),
        f"{command}; echo EXIT=$?; sleep 600",
    )
    socket_path = Path(_tmux(socket, "display-message", "-p", "#{socket_path}").strip())
    try:
        assert _tmux(socket, "display-message", "-p", "#{pane_width}").strip() == "80"
        screens: list[str] = []
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            # -J joins rows the terminal wrapped: a progress line that wrapped shows up as one long line
            screens.append(_tmux(socket, "capture-pane", "-p", "-J"))
            if "EXIT=" in screens[-1]:
                break
            time.sleep(0.3)
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)
        socket_path.unlink(missing_ok=True)  # the server is gone; its socket file would stay
    final = screens[-1]
    assert "EXIT=0" in final, final
    # while the run goes (before its summary, whose tables are permanent output and may be wider)
    during = [s for s in screens if "cnibench run " not in s]
    with_progress = [s for s in during if MARK in s]
    assert len(with_progress) >= 3, "the progress line was seen too rarely during the run"
    for screen in during:
        assert max(len(line) for line in screen.splitlines()) <= 80, screen
        assert screen.count(MARK) <= 1, screen  # a wrapped line leaves a copy behind on every refresh
    assert any("…" in s for s in with_progress), "the line was never long enough to need cutting"
    assert MARK not in final  # cleared at the end; the summary follows
    assert "complete, 2/2 repetitions ok" in final
    assert "\nstored in out/cnibench.db\n" in final
    listed = subprocess.run(
        [sys.executable, "-m", "cnibench", "runs"],
        cwd=tmp_path,
        env={**os.environ, "CNIBENCH_RESULTS": "out"},
        capture_output=True,
        text=True,
    )
    assert listed.stdout.splitlines()[1].split()[0] == (tmp_path / "out" / "latest").resolve().name
