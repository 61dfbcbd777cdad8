"""The machine a run measures on: one measuring run at a time, and how busy the machine was before it started.

Two runs measuring at once each put their load into the other's numbers (tried: an egress/baseline ratio of 0.64
instead of about 0.85), and both would look clean. So a run holds an exclusive ``flock`` on one lock file per
machine (:data:`LOCK_PATH`, ``$CNIBENCH_RUN_LOCK`` to move it) from before it creates anything until its cleanup
is done; a second run refuses with the holder's run id and PID (exit 2, nothing created) or, asked to, waits.
``flock`` locks die with their process, so a killed run never leaves the machine locked.

Other processes' CPU load is sampled before the run (pyperf's ``system show`` warns about the same thing: "CPU
usage by other processes"); the report warns when it was high.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from cnibench.errors import CnibenchError

LOCK_ENV = "CNIBENCH_RUN_LOCK"
LOCK_PATH = Path("/run/lock/cnibench-run.lock")
#: How often a waiting run tries the lock again (s); a signal is seen within this time.
WAIT_POLL_S = 0.5
#: Window over which the machine's CPU load is sampled before a run (s).
LOAD_WINDOW_S = 1.0


class MachineBusy(CnibenchError):
    """Another run is measuring on this machine. Nothing was created."""

    exit_code = 2


def lock_path() -> Path:
    return Path(os.environ.get(LOCK_ENV) or LOCK_PATH)


@dataclass
class RunLock:
    """The held machine lock; :meth:`describe` writes what a refused run tells its user."""

    fd: int
    path: Path

    def describe(self, **fields: Any) -> None:
        """Record who holds the lock (pid, and later run_id and run_dir), for a run that finds it taken."""
        record = {"pid": os.getpid(), "since": time.time(), **fields}
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, (json.dumps(record) + "\n").encode(), 0)


def holder(path: Path) -> str:
    """Who holds the lock at ``path``, in words ("run 20261203-... (PID 4242, measuring for 35 s)")."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = {}
    if not isinstance(record, dict) or "pid" not in record:
        return "a run that is starting"
    since = f", measuring for {time.time() - float(record['since']):.0f} s" if "since" in record else ""
    what = f"run {record['run_id']}" if record.get("run_id") else "a run"
    where = f" in {record['run_dir']}" if record.get("run_dir") else ""
    return f"{what}{where} (PID {record['pid']}{since})"


@contextlib.contextmanager
def exclusive(*, wait: bool, on_wait: Callable[[str], None], check: Callable[[], None]) -> Iterator[RunLock]:
    """Hold the machine's run lock for the ``with`` block.

    Raises :class:`MachineBusy` (exit 2) naming the holder when another run holds it and ``wait`` is false; with
    ``wait``, calls ``on_wait`` once with the holder's description and polls until the lock is free, calling
    ``check`` between tries (it raises to give up, e.g. :class:`~cnibench.errors.Interrupted` on Ctrl-C). Raises
    :class:`CnibenchError` when the lock file cannot be opened."""
    path = lock_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        reason = exc.strerror or exc
        raise CnibenchError(f"{path}: cannot open the machine's run lock: {reason} (set {LOCK_ENV})") from exc
    try:
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not wait:
                    raise MachineBusy(
                        f"another cnibench run is measuring on this machine: {holder(path)}; its load would be in "
                        "this run's numbers and this run's in its. Nothing was created: run again when it ends, "
                        "or pass --wait"
                    ) from None
                if not told:
                    on_wait(holder(path))
                    told = True
                check()
                time.sleep(WAIT_POLL_S)
        lock = RunLock(fd=fd, path=path)
        lock.describe()
        yield lock
    finally:
        os.close(fd)  # releases the lock


def background_load(window_s: float = LOAD_WINDOW_S) -> dict[str, Any]:
    """The machine's CPU load over ``window_s`` seconds while this run does nothing yet: what other processes
    use. Shape: ``{"cpu_percent": float (% of all cores together, 0-100), "window_s": float, "cores": int}``
    (psutil ``cpu_percent``: busy time over the window from ``/proc/stat``)."""
    return {
        "cpu_percent": round(float(psutil.cpu_percent(interval=window_s)), 1),
        "window_s": window_s,
        "cores": psutil.cpu_count() or 1,
    }
