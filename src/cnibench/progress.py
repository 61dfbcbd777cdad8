"""Progress of a run: which CNI, which trial, which repetition, time left. On a terminal as one line (silent
when not a terminal), and in the run directory's ``progress.json`` for ``cnibench status`` in another shell."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
import threading
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from cnibench.estimate import Estimate, Priors
from cnibench.files import atomic_write_text
from cnibench.plan import format_duration
from cnibench.repetition import Repetition

#: The playbook task that runs a trial's repetitions, on every platform: its start ends the gap before them.
MEASURE_TASK = "Measure"
#: The first task of a cluster (tasks/netns_cluster.yml, tasks/kube_cluster.yml): the teardown before it is over.
CLUSTER_TASKS = ("Build the netns cluster and start its servers", "Create the cluster")
#: Written into the run directory while the run goes on; ``cnibench status`` reads it.
PROGRESS_FILE = "progress.json"
#: How often the line is redrawn and the progress file rewritten (seconds).
TICK_S = 0.5
FILE_EVERY_S = 1.0


def terminal_columns(stream: TextIO) -> int:
    """Columns of the terminal ``stream`` writes to (asked each time: the window may be resized); where the
    stream has no terminal size, ``$COLUMNS`` or 80 (:func:`shutil.get_terminal_size`)."""
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        columns = 0
    return columns if columns > 0 else shutil.get_terminal_size().columns


def _cells(char: str) -> int:
    """Terminal cells of one character: 2 for East Asian wide ones, 0 for combining marks, else 1 (the rule of
    wcwidth(3), enough for our text and Ansible's task names; not worth a dependency)."""
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def fit(text: str, columns: int) -> str:
    """``text`` cut to at most ``columns - 1`` terminal cells, ending in "…" when cut. A progress line wider than
    the terminal wraps, and ``\r`` then returns only to the start of its last row: every refresh would leave a
    copy behind. The last column stays free so that a full line does not make the terminal wrap either."""
    room = max(columns - 1, 1)
    if sum(_cells(c) for c in text) <= room:
        return text
    out, used = [], 0
    for char in text:
        width = _cells(char)
        if used + width > room - 1:  # keep a cell for the ellipsis
            break
        out.append(char)
        used += width
    return "".join(out) + "…"


class Progress:
    """The run's progress line, fed by the playbook's events; time left comes from :class:`Estimate`.

    ``status_file``: where the progress is written for other shells (JSON, see :func:`read_progress`), whether
    or not there is a terminal. A terminal that goes away (EIO, EPIPE) ends the line, not the run.
    """

    def __init__(
        self,
        runs: list[Repetition],
        *,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        priors: Priors | None = None,
        status_file: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.runs = runs
        self.clock = clock
        self.estimate = Estimate(runs, priors or Priors(), clock())
        self.status_file = status_file
        self.done: set[tuple[str, str, int]] = set()
        self.task = "starting"
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._written = 0.0

    # ---- events ------------------------------------------------------------------------------
    def start(self) -> None:
        if self.enabled or self.status_file is not None:
            self._thread = threading.Thread(target=self._tick, name="cnibench-progress", daemon=True)
            self._thread.start()

    def set_task(self, name: str) -> None:
        with self._lock:
            self.task = name
            if name == MEASURE_TASK:
                self.estimate.measure_started(self.clock())
            elif name in CLUSTER_TASKS:
                self.estimate.cluster_started(self.clock())
        self.render()

    def finished(self, run: Repetition) -> None:
        with self._lock:
            self.done.add(run.key)
            self.estimate.finished(run, self.clock())
        self.render()

    def note(self, message: str) -> None:
        """A line that stays (above the progress line)."""
        self._write("\r\033[K" + message + "\n")
        self.render()

    def warning(self, message: str) -> None:
        """``warning: <message>`` on its own line, kept above the progress line; said on the stream even when there
        is no progress line (not a terminal): what is wrong with a datapath before it is measured must be seen."""
        if self.enabled:
            self.note(f"warning: {message}")
            return
        with self._lock:
            try:
                self.stream.write(f"warning: {message}\n")
                self.stream.flush()
            except (OSError, ValueError):  # ValueError: the stream was closed
                pass

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self.write_status()
        self._write("\r\033[K")

    # ---- rendering ---------------------------------------------------------------------------
    def current(self) -> Repetition | None:
        """The repetition under way or next (a repetition that never reported is passed over)."""
        position = self.estimate.position
        return self.runs[position] if position < len(self.runs) else None

    def seconds_left(self) -> float:
        return self.estimate.seconds_left(self.clock())

    def line(self) -> str:
        with self._lock:
            run = self.current()
            done, total = len(self.done), len(self.runs)
            if run is None:
                where = "finishing"
            else:
                reps = sum(1 for r in self.runs if (r.cni, r.scenario) == (run.cni, run.scenario))
                where = f"{run.cni} · {run.scenario} · rep {run.repetition}/{reps}"
                if (current := self.estimate.current(self.clock())) is not None:
                    where += f" {current[0]:.0f}s/{current[1]:.0f}s"  # the repetition's own clock moves
            return (
                f"cnibench ▸ {where} │ {done}/{total} done │ ~{format_duration(self.seconds_left())} left │ {self.task}"
            )

    def render(self) -> None:
        if self.enabled:
            self._write("\r\033[K" + fit(self.line(), terminal_columns(self.stream)))

    def _write(self, text: str) -> None:
        """Write to the terminal; once it has gone away (EIO after a hang-up, EPIPE), stop writing to it."""
        if not self.enabled:
            return
        with self._lock:
            try:
                self.stream.write(text)
                self.stream.flush()
            except (OSError, ValueError):  # ValueError: the stream was closed
                self.enabled = False

    def write_status(self) -> None:
        """Write the progress file now (a full disk only ends the file's updates)."""
        if self.status_file is None:
            return
        line = self.line()
        with self._lock:
            data = {
                "pid": os.getpid(),
                "updated_at": time.time(),
                "line": line,
                "done": len(self.done),
                "total": len(self.runs),
                "task": self.task,
            }
        try:
            atomic_write_text(self.status_file, json.dumps(data) + "\n")
        except OSError:
            self.status_file = None

    def _tick(self) -> None:
        while not self._stop.wait(TICK_S):
            self.render()
            if self.status_file is not None and self.clock() - self._written >= FILE_EVERY_S:
                self._written = self.clock()
                self.write_status()


def read_progress(run_dir: Path) -> dict[str, Any] | None:
    """A run's last progress (``line``, ``done``, ``total``, ``task``, ``updated_at`` in Unix seconds, ``pid``), or
    None when the run has written none (it ran before cnibench wrote progress files, or never got to its playbook)."""
    with contextlib.suppress(OSError, ValueError):
        data = json.loads((run_dir / PROGRESS_FILE).read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("line"), str):
            return data
    return None
