"""The processes a run starts and owns: long-running servers (by PID, in their own session, so they outlive the
Ansible task that started them and are stopped by their process group) and measured commands (standard output to
the raw artifact, standard error capped, killed at a deadline), in a network namespace or on this machine."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from cnibench.errors import PlatformError
from cnibench.proc import error_summary, terminate, wait_until

#: Where ``ip netns`` keeps the named namespaces.
NETNS_DIR = Path("/run/netns")
_LISTEN = "0A"
#: Daemons started by this process, kept so their Popen objects are not collected while they run.
_DAEMONS: dict[int, subprocess.Popen[bytes]] = {}


def netns_argv(netns: str, argv: list[str]) -> list[str]:
    """``argv`` inside ``netns``; an empty name runs it on the host (the Kubernetes platforms' local tools)."""
    if not netns:
        return list(argv)
    # `ip netns exec` execs the command: the PID we get is the command's own PID
    return ["ip", "netns", "exec", netns, *argv]


def in_namespace(pid: int, netns: str) -> bool:
    """True once ``pid`` runs inside the named namespace (``ip netns exec`` switches right after the fork); the
    empty name is the host's namespace, where a process starts."""
    if not netns:
        return True
    try:
        return (Path(f"/proc/{pid}/ns/net").stat().st_ino) == (NETNS_DIR / netns).stat().st_ino
    except OSError:
        return False


def listening_ports(pid: int) -> set[int]:
    """TCP ports in LISTEN state in the network namespace of ``pid`` (read from /proc, no subprocess)."""
    ports: set[int] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) > 3 and cols[3] == _LISTEN:
                ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


@dataclass(frozen=True)
class Daemon:
    """A long-running server: ``argv`` in ``netns``, its output appended to ``log``; ``listen_port``: it is up once
    it listens there (within ``timeout`` seconds)."""

    name: str
    netns: str
    argv: list[str]
    log: Path
    listen_port: int | None = None
    timeout: float = 10.0


def start_daemon(
    netns: str,
    argv: list[str],
    *,
    log: Path,
    listen_port: int | None = None,
    timeout: float = 10.0,
) -> int:
    """Start ``argv`` inside ``netns`` in its own session (PID = process group) and return its PID.

    With ``listen_port``, wait until the daemon listens on it; if it exits or the deadline passes first,
    stop it and raise :class:`PlatformError` with the end of its log.
    """
    return start_daemons([Daemon("", netns, argv, log, listen_port, timeout)])[0]


def start_daemons(daemons: list[Daemon]) -> list[int]:
    """Start every daemon, then wait until each listens (they start side by side); their PIDs, in order. If one
    fails to start, every one started here is stopped and :class:`PlatformError` names it (with its log's
    complaint)."""
    started: list[tuple[Daemon, subprocess.Popen[bytes]]] = []
    for daemon in daemons:
        daemon.log.parent.mkdir(parents=True, exist_ok=True)
        with daemon.log.open("ab") as out:
            proc = subprocess.Popen(
                netns_argv(daemon.netns, daemon.argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _DAEMONS[proc.pid] = proc
        started.append((daemon, proc))
    try:
        for daemon, proc in started:
            _await_listening(daemon, proc)
    except PlatformError:
        for _, proc in started:
            stop_daemon(proc.pid)
        raise
    return [proc.pid for _, proc in started]


def _await_listening(daemon: Daemon, proc: subprocess.Popen[bytes]) -> None:
    port, netns, tool = daemon.listen_port, daemon.netns, Path(daemon.argv[0]).name
    if port is None:
        return
    who = f"{daemon.name}: " if daemon.name else ""

    def listening() -> bool | None:
        if proc.poll() is not None:
            raise PlatformError(f"{who}{tool} in {netns} exited with code {proc.returncode}: {_complaint(daemon.log)}")
        # read the socket table only once the process is in its namespace, or we would read the host's
        return True if in_namespace(proc.pid, netns) and port in listening_ports(proc.pid) else None

    if not wait_until(listening, daemon.timeout, interval=0.01):
        raise PlatformError(
            f"{who}{tool} in {netns} did not listen on port {port} within {daemon.timeout:g} s: "
            f"{_complaint(daemon.log) or 'nothing in its log'}"
        )


def stop_daemon(pid: int) -> None:
    """Stop a daemon started by :func:`start_daemon` (its whole process group)."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    else:
        terminate([pid])
    proc = _DAEMONS.pop(pid, None)
    if proc is not None:
        proc.poll()


def _complaint(path: Path) -> str:
    """What a daemon said about why it stopped: the error lines of its log (nginx's [emerg], ...), on one line."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return error_summary(text)


@dataclass(frozen=True)
class ExecResult:
    returncode: int | None  # None: killed at the timeout
    started_at: float
    ended_at: float
    stderr: str  # the beginning of it: tools print their reason first (the rest is in the .stderr file)
    env_removed: tuple[str, ...] = ()  # variables of our environment the command ran without
    cancelled: bool = False  # killed because the run is stopping (the repetition is not recorded)

    def as_module_result(self, output: str) -> dict[str, Any]:
        """What a measurement module returns (``exit_code``, deliberately not ``rc``: a failing tool is a failed
        repetition cnibench records, not a failed task)."""
        return {
            "exit_code": self.returncode,
            "timed_out": self.returncode is None,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "stderr_head": self.stderr,
            "output": output,
            "env_removed": list(self.env_removed),
        }


#: A measurement's stderr kept on disk at most (k6 logs one line per failed request: megabytes per second).
STDERR_LIMIT = 1 << 20
STDERR_HEAD = 2000


def stderr_path(output: Path) -> Path:
    return output.with_name(output.name + ".stderr")


class _CappedSink:
    """Reads a process's stderr as it comes: keeps the head in memory and writes at most ``limit`` bytes to
    ``path`` (a tool that logs a line per failed request must not fill the disk while it runs)."""

    def __init__(self, path: Path, limit: int = STDERR_LIMIT) -> None:
        self.path = path
        self.limit = limit
        self.head = bytearray()
        self.written = 0
        self.dropped = 0

    def drain(self, pipe: BinaryIO) -> None:
        with self.path.open("wb") as out:
            for chunk in iter(lambda: pipe.read(65536), b""):
                if len(self.head) < STDERR_HEAD:
                    self.head += chunk[: STDERR_HEAD - len(self.head)]
                room = max(self.limit - self.written, 0)
                out.write(chunk[:room])
                self.written += min(room, len(chunk))
                self.dropped += len(chunk) - min(room, len(chunk))
            if self.dropped:
                out.write(f"\n[cnibench: {self.dropped} more bytes of stderr dropped]\n".encode())
        if self.written == 0:
            self.path.unlink()


def controlled_env(
    unset_prefixes: list[str] | tuple[str, ...], add: dict[str, str] | None = None
) -> tuple[dict[str, str], tuple[str, ...]]:
    """This process's environment plus ``add``, without the variables whose names start with one of
    ``unset_prefixes`` (k6 reads ``K6_*`` variables that change its summary); and the names removed."""
    merged = {**os.environ, **(add or {})}
    removed = tuple(sorted(name for name in merged if unset_prefixes and name.startswith(tuple(unset_prefixes))))
    return {k: v for k, v in merged.items() if k not in removed}, removed


def exec_to_file(
    netns: str,
    argv: list[str],
    *,
    output: Path,
    timeout: float,
    env: dict[str, str] | None = None,
    unset_env: list[str] | tuple[str, ...] = (),
    cancel: Callable[[], bool] | None = None,
) -> ExecResult:
    """Run ``argv`` in ``netns`` with stdout written to ``output`` (the raw artifact) and stderr to
    ``output.stderr`` (kept only if not empty, at most 1 MiB); kill it at ``timeout``. ``env`` adds variables;
    variables whose names start with one of ``unset_env`` are removed (:attr:`ExecResult.env_removed` names them).
    ``cancel`` is asked every :data:`CANCEL_POLL_S` seconds; when it says True the command is killed at once
    (:attr:`ExecResult.cancelled`)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    environment, removed = controlled_env(unset_env, env)
    sink = _CappedSink(stderr_path(output))
    started = time.time()
    with output.open("wb") as out:
        proc = subprocess.Popen(
            netns_argv(netns, argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.PIPE,
            start_new_session=True,
            env=environment,
        )
        assert proc.stderr is not None
        reader = threading.Thread(target=sink.drain, args=(proc.stderr,), daemon=True)
        reader.start()
        code, cancelled = _wait(proc, timeout, cancel)
        ended = time.time()
        reader.join(timeout=10)
        proc.stderr.close()
    return ExecResult(code, started, ended, bytes(sink.head).decode(errors="replace"), removed, cancelled)


#: How often a running measurement asks whether the run is stopping (s).
CANCEL_POLL_S = 0.1


def _wait(proc: subprocess.Popen[bytes], timeout: float, cancel: Callable[[], bool] | None) -> tuple[int | None, bool]:
    """The command's exit code (None: killed at ``timeout``) and whether ``cancel`` killed it."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        try:
            return proc.wait(timeout=max(min(left, CANCEL_POLL_S), 0.0) if cancel else max(left, 0.0)), False
        except subprocess.TimeoutExpired:
            cancelled = cancel is not None and cancel()
            if cancelled or time.monotonic() >= deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return None, cancelled
