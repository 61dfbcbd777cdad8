"""Progress on a terminal: which CNI, which trial, which repetition, time left. Silent when not a terminal."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from cnibench.plan import OVERHEAD_PER_REPETITION_S, format_duration
from cnibench.scenarios.base import PlannedRun


class Progress:
    def __init__(self, runs: list[PlannedRun], *, stream: TextIO | None = None, enabled: bool | None = None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.runs = runs
        self.done: set[tuple[str, str, int]] = set()
        self.task = "starting"
        self.current_started = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._width = 0

    # ---- events ------------------------------------------------------------------------------
    def start(self) -> None:
        if self.enabled:
            self._thread = threading.Thread(target=self._tick, name="cnibench-progress", daemon=True)
            self._thread.start()

    def set_task(self, name: str) -> None:
        with self._lock:
            self.task = name
            if name == "Measure":
                self.current_started = time.monotonic()
        self.render()

    def finished(self, run: PlannedRun) -> None:
        with self._lock:
            self.done.add(run.key)
            self.current_started = time.monotonic()
        self.render()

    def note(self, message: str) -> None:
        """A line that stays (above the progress line)."""
        if self.enabled:
            with self._lock:
                self.stream.write("\r\033[K" + message + "\n")
                self.stream.flush()
            self.render()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self.enabled:
            self.stream.write("\r\033[K")
            self.stream.flush()

    # ---- rendering ---------------------------------------------------------------------------
    def current(self) -> PlannedRun | None:
        for run in self.runs:
            if run.key not in self.done:
                return run
        return None

    def seconds_left(self) -> float:
        remaining = [r for r in self.runs if r.key not in self.done]
        total = sum(r.expected_seconds + OVERHEAD_PER_REPETITION_S for r in remaining)
        if remaining and self.task == "Measure":
            total -= min(time.monotonic() - self.current_started, remaining[0].expected_seconds)
        return max(total, 0.0)

    def line(self) -> str:
        with self._lock:
            run = self.current()
            done, total = len(self.done), len(self.runs)
            if run is None:
                where = "finishing"
            else:
                reps = sum(1 for r in self.runs if (r.cni, r.scenario) == (run.cni, run.scenario))
                where = f"{run.cni} · {run.scenario} · rep {run.repetition}/{reps}"
            return (
                f"cnibench ▸ {where} │ {done}/{total} done │ ~{format_duration(self.seconds_left())} left │ {self.task}"
            )

    def render(self) -> None:
        if not self.enabled:
            return
        text = self.line()
        with self._lock:
            self.stream.write("\r\033[K" + text)
            self.stream.flush()

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            self.render()
