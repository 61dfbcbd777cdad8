"""Is a run still running? Its results say who runs it (:class:`Owner`); this module asks the machine.

A run's ``results.json`` says ``running`` from its start until its cnibench process records how it ended. If that
process dies first (SIGKILL, a crash, a reboot), the file says ``running`` for ever: readers call :func:`observed`
to see such a run as ``abandoned``. Process facts come from psutil (``Process.create_time()``: the kernel's start
time of the process, so a PID reused by another process is told apart).
"""

from __future__ import annotations

import socket

import psutil

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
