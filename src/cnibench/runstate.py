"""A run's state on this machine: its state file (what it created and who owns it, written before anything is created,
so ``cnibench clean`` can undo a killed run) and whether its owner still runs.

State files live in one place per user (``/run/cnibench`` for the netns platform; the Kubernetes platforms keep
theirs on disk, see their platform): every change is a read-modify-write under an exclusive ``flock`` on a separate
lock file, and the data file is replaced atomically, so a reader never sees half a file. Process facts come from
psutil (``Process.create_time()``: the start time of a process, so that a PID reused by another one is told apart).

A run's ``results.json`` says ``running`` from its start until its cnibench process records how it ended. If that
process dies first (SIGKILL, a crash, a reboot), the file says ``running`` for ever: readers call :func:`observed`
to see such a run as ``abandoned``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

from cnibench.files import atomic_write_text
from cnibench.results.model import Owner, RunResults

#: psutil derives a start time from the boot time, which the kernel recomputes from the wall clock: a clock step
#: moves it slightly. A reused PID started within this many seconds of the original is not a realistic case.
START_TOLERANCE_S = 1.0


def this_process() -> Owner:
    """The calling process, as a run's owner."""
    return Owner(pid=psutil.Process().pid, started_at=psutil.Process().create_time(), host=socket.gethostname())


def owner_alive(owner: Owner) -> bool | None:
    """True while ``owner`` runs; False when it is gone (no such PID, a zombie, or another process under its PID);
    None when that cannot be known here (the run was on another host)."""
    if owner.host != socket.gethostname():
        return None
    try:
        process = psutil.Process(owner.pid)
        started = process.create_time()
        zombie = process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    return not zombie and abs(started - owner.started_at) <= START_TOLERANCE_S


def gone_message(owner: Owner) -> str:
    return f"its cnibench process (PID {owner.pid} on {owner.host}) is gone"


def observed(results: RunResults) -> RunResults:
    """The run as it is now: one that says ``running`` while its process is gone is ``abandoned``, with an error
    that says how to clean up. Anything else (and a run whose owner cannot be checked) is returned as it is."""
    if results.status != "running" or results.owner is None or owner_alive(results.owner) is not False:
        return results
    error = f"{gone_message(results.owner)}; `cnibench clean` removes what it left and records it as abandoned"
    return results.model_copy(update={"status": "abandoned", "error": error})


# --------------------------------------------------------------------------------------------- state files

STATE_DIR = Path("/run/cnibench")


def state_file(prefix: str, directory: Path = STATE_DIR) -> Path:
    return directory / f"{prefix}.json"


def process_start_time(pid: int) -> float | None:
    """The start time of ``pid`` (Unix time, psutil's ``create_time``), or None if there is no such process (or
    it is a zombie). A PID plus its start time names one process for good: a recycled PID has another one."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return float(process.create_time())
    except psutil.Error:
        return None


@contextlib.contextmanager
def _lock(path: Path, mode: int) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, mode)
        yield
    finally:
        os.close(fd)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(path: Path, data: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


@contextlib.contextmanager
def _update(path: Path, *, create: bool = True) -> Iterator[dict[str, Any]]:
    with _lock(path, fcntl.LOCK_EX):
        exists = path.exists()
        data = _read(path)
        yield data
        if exists or create:
            _write(path, data)


def read_state(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    with _lock(path, fcntl.LOCK_SH):
        return _read(path)


def init_state(path: Path, *, prefix: str, owner_pid: int, run_dir: str) -> None:
    """Record who owns ``prefix`` (so ``clean`` leaves a live run alone)."""
    with _update(path) as data:
        data.setdefault("prefix", prefix)
        data["owner_pid"] = owner_pid
        data["owner_start"] = process_start_time(owner_pid)
        data["run_dir"] = run_dir
        data.setdefault("created_at", time.time())
        data.setdefault("namespaces", [])


def add_namespaces(path: Path, prefix: str, names: list[str]) -> None:
    with _update(path) as data:
        data.setdefault("prefix", prefix)
        known = data.setdefault("namespaces", [])
        known.extend(n for n in names if n not in known)


def set_fields(path: Path, **fields: Any) -> None:
    """Record more about the run (a Kubernetes run: its platform and how to reach its cluster)."""
    with _update(path, create=False) as data:
        data.update(fields)


def set_playbook(path: Path, pid: int) -> None:
    """Record the run's ansible-playbook process: ``clean`` ends it (and its workers) if cnibench died."""
    with _update(path, create=False) as data:
        data["playbook"] = {"pid": pid, "start": process_start_time(pid)}


def drop_namespaces(path: Path, names: list[str]) -> None:
    with _update(path, create=False) as data:
        data["namespaces"] = [n for n in data.get("namespaces", []) if n not in names]


def same_process(pid: Any, start: Any) -> bool:
    """True when ``pid`` runs and is the process that had start time ``start`` (not a recycled PID)."""
    if not isinstance(pid, int) or pid <= 1:
        return False
    now = process_start_time(pid)
    return now is not None and isinstance(start, int | float) and abs(now - start) <= START_TOLERANCE_S


def state_owner_alive(data: dict[str, Any]) -> bool:
    """True when the process that created a state file is still running (same PID *and* start time)."""
    return same_process(data.get("owner_pid"), data.get("owner_start"))


def remove_state(path: Path) -> None:
    with _lock(path, fcntl.LOCK_EX):
        path.unlink(missing_ok=True)
    path.with_suffix(".lock").unlink(missing_ok=True)
