"""Stopping a run: the playbook asked first, forced after a grace period or a second signal; a lost terminal."""

from __future__ import annotations

import errno
import os
import signal
import time
from pathlib import Path

import pytest

from cnibench.errors import Interrupted
from cnibench.orchestration.signals import StopController


def test_stop_controller_forwards_then_forces(monkeypatch):
    sent = []
    monkeypatch.setattr("os.kill", lambda pid, sig: sent.append((pid, sig)))
    stop = StopController(grace=0.05)
    assert not stop.cancel()
    stop.check()
    stop.handle(signal.SIGTERM)  # before ansible-playbook is known: nothing to forward yet
    assert sent == [] and stop.stopping and not stop.cancel()
    noted = []
    stop.on_playbook_pid = noted.append
    stop.saw_pid(777)
    assert sent == [(777, signal.SIGINT)] and noted == [777]
    with pytest.raises(Interrupted, match="interrupted by SIGTERM"):
        stop.check()
    time.sleep(0.06)
    assert stop.cancel()  # the grace period is over
    other = StopController(grace=60)
    other.saw_pid(5)
    other.handle(signal.SIGINT)
    assert not other.cancel()
    other.handle(signal.SIGINT)  # a second signal forces at once
    assert other.cancel()


def test_a_lost_terminal_stops_the_run_and_a_second_hangup_does_not_force_it(monkeypatch):
    sent = []
    monkeypatch.setattr("os.kill", lambda pid, sig: sent.append((pid, sig)))
    stop = StopController(grace=60)
    stop.saw_pid(777)
    stop.handle(signal.SIGHUP)
    assert sent == [(777, signal.SIGINT)] and stop.stopping and stop.signal_number == signal.SIGHUP
    with pytest.raises(Interrupted, match="interrupted by SIGHUP"):
        stop.check()
    stop.handle(signal.SIGHUP)  # the shell passes its own hang-up on to its jobs: the same event again
    assert not stop.cancel()
    stop.handle(signal.SIGQUIT)  # a user's second signal forces
    assert stop.cancel()
    quit_ = StopController(grace=60)
    quit_.handle(signal.SIGQUIT)
    quit_.handle(signal.SIGQUIT)
    assert quit_.signal_name == "SIGQUIT" and quit_.cancel()


def test_every_stop_signal_is_handled_while_installed_and_restored_after():
    hangup = signal.signal(signal.SIGHUP, signal.SIG_DFL)  # not as under nohup (the test suite may run under it)
    try:
        before = {sig: signal.getsignal(sig) for sig in StopController.SIGNALS}
        stop = StopController()
        with stop.installed():
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
                assert signal.getsignal(sig) == stop.handle
        assert {sig: signal.getsignal(sig) for sig in StopController.SIGNALS} == before
    finally:
        signal.signal(signal.SIGHUP, hangup)


def test_under_nohup_a_hangup_stays_ignored():
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        stop = StopController()
        with stop.installed():
            assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) == stop.handle
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_a_hung_up_terminal_is_replaced_by_dev_null():
    """A real pty: once its master is closed the slave is hung up (EIO on write, no longer a tty)."""
    master, slave = os.openpty()
    stop = StopController()
    stop._terminals = [slave]  # what installed() records for stdin/stdout/stderr
    stop.release_terminal()  # still a live terminal: left alone
    assert os.isatty(slave)
    os.close(master)
    with pytest.raises(OSError) as info:
        os.write(slave, b"x")
    assert info.value.errno == errno.EIO
    stop.release_terminal()
    assert os.write(slave, b"the summary") == 11  # /dev/null now
    assert os.path.samestat(os.fstat(slave), Path(os.devnull).stat())
    os.close(slave)
