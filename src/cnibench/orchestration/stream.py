"""Repetitions and cluster steps reported while a module is still running: the JSON lines stream a long module call
appends to (:func:`appending`, :func:`step`), tailed by a thread and fed to the run's
:class:`~cnibench.orchestration.events.EventHandler`; and the stop file that tells that module the run is stopping.

Ansible reports a task's result only when the task ends, and one module call may run every cluster of a run, each
built, measured and destroyed (netns: ``netns_clusters``); the stream is how each step and each repetition still
reaches the recorder, the metrics collector and the progress line the moment it happens. The records:
``{"event": "task_started", "task": <step>}`` and ``{"event": "task_result", "task": <step>, "failed": bool, "res":
<its result, or {"msg": why}>, "duration": <s>}`` (the event handler takes them for Ansible's events of a task of
that name), ``{"event": "loop_started", "scenario": ...}`` before a loop's first repetition, ``{"event": "measured",
"failed": bool, "res": <the repetition's measurement>}`` after each one.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cnibench.errors import CnibenchError

#: Appends one record to the stream (:func:`appending`).
Emit = Callable[[dict[str, Any]], None]

#: How often the stream is read and the stop request passed on (s).
POLL_S = 0.1


def stream_path(run_dir: Path) -> Path:
    """Where a run's measurement stream is (kept with the run's Ansible output)."""
    return run_dir / "ansible" / "measurements.jsonl"


def stop_path(run_dir: Path) -> Path:
    """The file whose existence tells a running measurement module that the run is stopping."""
    return run_dir / "ansible" / "stop"


@contextlib.contextmanager
def appending(path: Path) -> Iterator[Emit]:
    """``emit(record)``: one JSON line appended to the measurement stream ``path`` and flushed at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:

        def emit(record: dict[str, Any]) -> None:
            out.write(json.dumps(record) + "\n")
            out.flush()

        yield emit


def step(emit: Emit, name: str, function: str, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one step of a module call as if it were a playbook task called ``name`` (``function``: whose work it is,
    named in a failure's message as a module's would be): reported on the stream when it starts and when it ends,
    with its result or why it failed. Raises what ``work`` raises."""
    emit({"event": "task_started", "task": name, "at": time.time()})
    start = time.monotonic()
    try:
        result = work()
    except (CnibenchError, OSError) as exc:
        msg = str(exc) if isinstance(exc, CnibenchError) else f"{function}: {exc}"
        emit({"event": "task_result", "task": name, "failed": True, "res": {"msg": msg},
              "duration": time.monotonic() - start})  # fmt: skip
        raise
    emit({"event": "task_result", "task": name, "failed": False, "res": result, "duration": time.monotonic() - start})
    return result


class MeasurementStream:
    """Reads the complete lines appended to ``path`` since the last read; each record goes to ``deliver``.

    A line still being written (no newline yet) is left for the next read; a line that is not JSON is skipped
    (the module writes whole lines, so that is a truncated file after a crash, never a record).
    """

    def __init__(self, path: Path, deliver: Callable[[dict[str, Any]], None]) -> None:
        self.path = path
        self.deliver = deliver
        self.offset = 0
        self._buffer = b""

    def poll(self) -> int:
        """Deliver every complete record appended since the last call; returns how many."""
        try:
            with self.path.open("rb") as source:
                source.seek(self.offset)
                chunk = source.read()
        except FileNotFoundError:
            return 0
        self.offset += len(chunk)
        data = self._buffer + chunk
        lines = data.split(b"\n")
        self._buffer = lines.pop()  # b"" after a complete line
        delivered = 0
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                self.deliver(record)
                delivered += 1
        return delivered


@contextlib.contextmanager
def tailed(
    stream: MeasurementStream,
    *,
    lock: contextlib.AbstractContextManager[Any],
    stopping: Callable[[], bool],
    stop_file: Path,
) -> Iterator[None]:
    """Tail ``stream`` in a thread (each read under ``lock``, the lock the event handler takes too, so records and
    Ansible's events are handled one at a time and in order) and create ``stop_file`` once ``stopping()`` says so.
    On exit the thread ends and the stream is read a last time."""
    done = threading.Event()

    def tail() -> None:
        while not done.wait(POLL_S):
            if stopping() and not stop_file.exists():
                stop_file.parent.mkdir(parents=True, exist_ok=True)
                stop_file.touch()
            with lock:
                stream.poll()

    thread = threading.Thread(target=tail, name="cnibench-measurement-stream", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        with lock:
            stream.poll()
