"""Signals during a run: SIGINT, SIGTERM, SIGHUP and SIGQUIT stop the playbook cleanly, then force it."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

from cnibench.errors import Interrupted

#: After the first stop signal the playbook gets this long to stop by itself before it is killed.
STOP_GRACE_S = 10.0


class StopController:
    """SIGINT, SIGTERM, SIGHUP or SIGQUIT during a run: ask ansible-playbook to stop (SIGINT), then force it after a
    grace period.

    ansible-runner's own cancel kills only the ansible-playbook process group and orphans the workers, so the
    first signal goes to ansible-playbook itself; a second signal, or the grace period, makes the runner cancel
    (the orphans are ours to end afterwards: cnibench is their subreaper).

    SIGHUP means the terminal went away (an SSH connection dropped, a tmux server ended): the run stops and cleans
    up like on SIGTERM (unless SIGHUP was ignored when cnibench started, as under nohup: then it is left ignored
    and the run goes on), and what was written to the terminal goes to /dev/null from then on (a write to a hung-up
    terminal fails with EIO, and a cleanup must not die of a message). ansible-playbook runs on its own pty
    (pexpect), its workers and the daemons in sessions of their own, so the hang-up reaches cnibench only.
    """

    #: The signals that stop a run; the exit code is 128 + the signal's number, as a shell reports it.
    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)

    def __init__(self, on_playbook_pid: Callable[[int], None] | None = None, grace: float = STOP_GRACE_S) -> None:
        self.on_playbook_pid = on_playbook_pid
        self.grace = grace
        self.requested_at: float | None = None
        self.signal_name = ""
        self.signal_number: int | None = None
        self.force = False
        self.playbook_pid: int | None = None
        self._forwarded = False
        self._previous: dict[signal.Signals, Any] = {}
        self._terminals: list[int] = []

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopController]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        self._terminals = [fd for fd in (0, 1, 2) if _isatty(fd)]
        for sig in self.SIGNALS:
            if sig == signal.SIGHUP and signal.getsignal(sig) == signal.SIG_IGN:
                continue  # started under nohup (or `trap '' HUP`): the run is meant to outlive its terminal
            self._previous[sig] = signal.signal(sig, self.handle)
        try:
            yield self
        finally:
            for sig, handler in self._previous.items():
                # the terminal is gone: a late SIGHUP (the shell passes its own on to its jobs) must not kill
                # cnibench while it prints the summary and writes the report
                hung_up = sig == signal.SIGHUP and self.signal_number == signal.SIGHUP
                signal.signal(sig, signal.SIG_IGN if hung_up else handler)

    @property
    def stopping(self) -> bool:
        return self.requested_at is not None

    def handle(self, signum: int, _frame: FrameType | None = None) -> None:
        if signum == signal.SIGHUP:
            self.release_terminal()
        if self.requested_at is None:
            self.requested_at = time.monotonic()
            self.signal_name = signal.Signals(signum).name
            self.signal_number = signum
        elif signum != signal.SIGHUP:
            # a second SIGHUP is no request to hurry: the kernel hangs up the terminal's foreground process group
            # and the shell (bash(1), SIGNALS) resends SIGHUP to its jobs, so one lost terminal can send two
            self.force = True
        self.forward()

    def release_terminal(self) -> None:
        """Point standard input, output and error that were a terminal and no longer are (hung up) at /dev/null."""
        dead = [fd for fd in self._terminals if not _isatty(fd)]
        if not dead:
            return
        null = os.open(os.devnull, os.O_RDWR)
        try:
            for fd in dead:
                os.dup2(null, fd)
        finally:
            os.close(null)
        self._terminals = [fd for fd in self._terminals if fd not in dead]

    def saw_pid(self, pid: int | None) -> None:
        if pid and self.playbook_pid is None:
            self.playbook_pid = pid
            if self.on_playbook_pid is not None:
                self.on_playbook_pid(pid)
            if self.stopping:
                self.forward()

    def forward(self) -> None:
        if self.playbook_pid and not self._forwarded:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.playbook_pid, signal.SIGINT)
            self._forwarded = True

    def cancel(self) -> bool:
        """ansible-runner's cancel_callback: True kills the playbook's process group."""
        if self.requested_at is None:
            return False
        return self.force or time.monotonic() - self.requested_at > self.grace

    def check(self) -> None:
        """Between steps outside Ansible: stop now if a signal came."""
        if self.stopping:
            raise Interrupted(f"interrupted by {self.signal_name}")


def _isatty(fd: int) -> bool:
    """A hung-up terminal answers TCGETS with EIO: it is no terminal any more."""
    try:
        return os.isatty(fd)
    except OSError:
        return False
