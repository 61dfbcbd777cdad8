from __future__ import annotations

import errno
import fcntl
import io
import json
import os
import pty
import struct
import termios
import time
from pathlib import Path

from cnibench.estimate import Priors
from cnibench.progress import Progress, fit, read_progress, terminal_columns
from cnibench.repetition import MeasureCommand, Repetition

PRIORS = Priors(repetition_overhead_s=1.0, setup_s=4.0, trial_s=2.0, teardown_s=1.5)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _runs():
    return [
        Repetition("hostgw", "egress", i, Path(f"/a{i}"), MeasureCommand(("iperf3",), Path(f"/a{i}"), 30.0), 12.0)
        for i in (1, 2, 3)
    ]


def test_silent_when_not_a_terminal():
    stream = io.StringIO()  # isatty() is False
    progress = Progress(_runs(), stream=stream)
    progress.start()
    progress.set_task("Measure")
    progress.finished(_runs()[0])
    progress.note("something")
    progress.close()
    assert stream.getvalue() == ""


def test_line_shows_trial_repetition_time_left_and_the_repetitions_own_clock():
    runs, clock = _runs(), Clock()
    progress = Progress(runs, stream=io.StringIO(), enabled=True, priors=PRIORS, clock=clock)
    assert "hostgw · egress · rep 1/3 │" in progress.line()  # not measuring yet: no clock
    assert "0/3 done" in progress.line()
    assert progress.seconds_left() == 4 + 3 * 13 + 1.5
    clock.now += 10
    progress.set_task("Measure")  # the setup took 10 s
    clock.now += 5
    assert "rep 1/3 5s/13s │" in progress.line()
    clock.now += 12
    progress.finished(runs[0])  # 17 s per repetition
    assert "rep 2/3 0s/17s" in progress.line() and "1/3 done" in progress.line()
    assert progress.seconds_left() == 2 * 17 + 1.5
    clock.now += 4
    assert progress.seconds_left() == 2 * 17 + 1.5 - 4  # it moves during a repetition
    progress.finished(runs[1])
    progress.finished(runs[2])
    assert "finishing" in progress.line()
    assert progress.seconds_left() == 1.5  # the teardown
    clock.now += 2
    assert progress.seconds_left() == 0


class DeadTerminal(io.StringIO):
    """A terminal that went away: every write fails as on a hung-up tty."""

    def isatty(self) -> bool:
        return True

    def write(self, _text: str) -> int:
        raise OSError(errno.EIO, os.strerror(errno.EIO))


def test_a_terminal_that_went_away_ends_the_line_not_the_run(tmp_path):
    progress = Progress(_runs(), stream=DeadTerminal(), status_file=tmp_path / "progress.json")
    assert progress.enabled
    progress.set_task("Measure")  # the first write fails: no exception, no more writes
    assert not progress.enabled
    progress.finished(_runs()[0])
    progress.note("repetition failed: ...")
    progress.close()
    # the progress file goes on being written for `cnibench status`
    data = read_progress(tmp_path)
    assert data is not None and data["done"] == 1 and data["total"] == 3 and data["pid"] == os.getpid()
    assert "hostgw · egress · rep 2/3" in data["line"]


def test_the_progress_file_is_written_while_the_run_goes_on(tmp_path):
    path = tmp_path / "progress.json"
    progress = Progress(_runs(), stream=io.StringIO(), status_file=path)
    progress.start()  # no terminal, but a file: the ticker runs
    try:
        progress.set_task("Measure")
        deadline = time.monotonic() + 5
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert json.loads(path.read_text())["task"] == "Measure"
    finally:
        progress.close()
    assert read_progress(tmp_path / "nowhere") is None


def test_the_task_names_the_estimate_listens_for_are_the_playbooks():
    """The estimate hears of a cluster's start and a trial's repetitions by task name: the playbooks must keep
    them (a cluster's first task, and the task that loops over a trial's repetitions); on netns, where one module
    call runs every cluster, the names of the steps it reports on the measurement stream."""
    import yaml

    from cnibench.orchestration.ansible import ansible_dir
    from cnibench.platforms.netns.tasks import BUILD_STEP
    from cnibench.progress import CLUSTER_TASKS, MEASURE_TASK

    [block] = yaml.safe_load((ansible_dir() / "playbooks" / "tasks" / "kube_cluster.yml").read_text())
    assert block["block"][0]["name"] in CLUSTER_TASKS
    # netns: one task runs every cluster (each step and each loop's start come through the measurement stream)
    [play] = yaml.safe_load((ansible_dir() / "playbooks" / "netns.yml").read_text())
    assert [t for t in play["tasks"] if "cnibench.bench.netns_clusters" in t]
    assert BUILD_STEP in CLUSTER_TASKS
    measure_role = ansible_dir() / "collections/ansible_collections/cnibench/bench/roles/measure/tasks/main.yml"
    [task] = [t for t in yaml.safe_load(measure_role.read_text()) if t["name"] == MEASURE_TASK]
    assert task["loop"].startswith("{{") and "runs" in task["loop"]


def test_fit_cuts_to_the_terminal_width_leaving_the_last_column_free():
    line = (
        "cnibench ▸ hostgw · egress-baseline · rep 1/3 │ 0/12 done │ ~4m left │ Benchmark each CNI on a fresh cluster"
    )
    assert len(line) > 80
    cut = fit(line, 80)
    assert len(cut) == 79 and cut.endswith("…") and line.startswith(cut[:-1])
    assert fit("short", 80) == "short"
    assert fit("x" * 79, 80) == "x" * 79  # fits exactly: untouched
    assert fit("x" * 80, 80) == "x" * 78 + "…"


def test_fit_counts_wide_characters_as_two_cells():
    cut = fit("タスク" * 30, 20)  # East Asian wide: 2 cells each
    assert cut.endswith("…") and 2 * (len(cut) - 1) + 1 <= 19


def test_the_line_fits_a_real_terminal_of_40_columns():
    """A pseudo-terminal with 40 columns (TIOCSWINSZ): what Progress writes to it fits in one row."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 40, 0, 0))
    with os.fdopen(slave, "w", encoding="utf-8") as stream:
        assert terminal_columns(stream) == 40
        progress = Progress(_runs(), stream=stream, enabled=True)
        progress.set_task("Benchmark each CNI on a fresh cluster")
        written = os.read(master, 4096).decode()
    os.close(master)
    shown = written.rsplit("\x1b[K", 1)[1]
    assert shown.startswith("cnibench ▸ hostgw") and shown.endswith("…") and len(shown) == 39


def test_without_a_terminal_the_width_is_columns_or_80(monkeypatch):
    monkeypatch.setenv("COLUMNS", "123")
    assert terminal_columns(io.StringIO()) == 123
