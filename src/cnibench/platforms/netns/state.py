"""Per-run state on disk, written before each thing is created, so ``cnibench clean`` can undo a killed run.

One JSON file per run prefix in the state directory (default ``/run/cnibench``: like namespaces, it does not
survive a reboot). Modules running under Ansible and the CLI update it concurrently, so every change is a
read-modify-write under an exclusive ``flock``.
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

DEFAULT_STATE_DIR = Path("/run/cnibench")
STATE_DIR_ENV = "CNIBENCH_STATE_DIR"


def state_dir() -> Path:
    return Path(os.environ.get(STATE_DIR_ENV, str(DEFAULT_STATE_DIR)))


def state_file(prefix: str, directory: Path | None = None) -> Path:
    return (directory or state_dir()) / f"{prefix}.json"


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
def _locked(path: Path) -> Iterator[dict[str, Any]]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        raw = os.read(fd, 1 << 20)
        data: dict[str, Any] = json.loads(raw) if raw.strip() else {}
        before = json.dumps(data, sort_keys=True)
        yield data
        if json.dumps(data, sort_keys=True) != before:
            encoded = (json.dumps(data, indent=2) + "\n").encode()
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, encoded)
            os.fsync(fd)
    finally:
        os.close(fd)


def init_state(path: Path, *, prefix: str, owner_pid: int, run_dir: str) -> None:
    """Record who owns ``prefix`` (so ``clean`` leaves a live run alone)."""
    with _locked(path) as data:
        data.setdefault("prefix", prefix)
        data["owner_pid"] = owner_pid
        data["owner_start"] = process_start_time(owner_pid)
        data["run_dir"] = run_dir
        data.setdefault("created_at", time.time())
        data.setdefault("namespaces", [])
        data.setdefault("daemons", [])


def add_namespaces(path: Path, prefix: str, names: list[str]) -> None:
    with _locked(path) as data:
        data.setdefault("prefix", prefix)
        known = data.setdefault("namespaces", [])
        known.extend(n for n in names if n not in known)


def add_daemon(path: Path, prefix: str, *, name: str, netns: str, pid: int) -> None:
    with _locked(path) as data:
        data.setdefault("prefix", prefix)
        data.setdefault("daemons", []).append(
            {"name": name, "netns": netns, "pid": pid, "start": process_start_time(pid)}
        )


def set_playbook(path: Path, pid: int) -> None:
    """Record the run's ansible-playbook process: ``clean`` ends it (and its workers) if cnibench died."""
    with _locked(path) as data:
        data["playbook"] = {"pid": pid, "start": process_start_time(pid)}


def drop_namespaces(path: Path, names: list[str]) -> None:
    if not path.exists():
        return
    with _locked(path) as data:
        data["namespaces"] = [n for n in data.get("namespaces", []) if n not in names]
        data["daemons"] = [d for d in data.get("daemons", []) if d.get("netns") not in names]


def read_state(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


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
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
