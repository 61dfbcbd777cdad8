"""Per-run state on disk, written before each thing is created, so ``cnibench clean`` can undo a killed run.

One JSON file per run prefix in ``/run/cnibench`` (like the namespaces themselves it does not survive a reboot;
one fixed place, so that every ``cnibench clean`` sees every run). Modules running under Ansible and the CLI
update it concurrently: every change is a read-modify-write under an exclusive ``flock`` on a separate lock file,
and the data file is replaced atomically, so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cnibench.files import atomic_write_text

STATE_DIR = Path("/run/cnibench")


def state_file(prefix: str, directory: Path = STATE_DIR) -> Path:
    return directory / f"{prefix}.json"


def process_start_time(pid: int) -> int | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), or None if there is no such process.

    A PID plus its start time names one process for good: a recycled PID has a different start time.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may contain spaces and parentheses: split after its closing ')'
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])


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
    return now is not None and now == start


def owner_alive(data: dict[str, Any]) -> bool:
    """True when the process that created this state is still running (same PID *and* start time)."""
    return same_process(data.get("owner_pid"), data.get("owner_start"))


def remove_state(path: Path) -> None:
    with _lock(path, fcntl.LOCK_EX):
        path.unlink(missing_ok=True)
    path.with_suffix(".lock").unlink(missing_ok=True)
