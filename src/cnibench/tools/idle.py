"""``python -m cnibench.tools.idle SECONDS -- COMMAND...``: idle for SECONDS, then become COMMAND (exec, same PID,
same standard output). A fixed-load repetition starts with it: its first SECONDS are the idle baseline's window,
measured right before the load on the same machine (``cnibench.scenarios.load``).

The wait is the point here (an idle machine is what is measured), not a stand-in for a condition to poll.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence


def idle_argv(seconds: float, argv: Sequence[str]) -> tuple[str, ...]:
    """``argv`` run after ``seconds`` of idling (:mod:`cnibench.tools.idle`): the idle baseline's window is the
    repetition's first ``seconds``. Python on this machine: the command runs here (in a namespace on netns, or
    as ``kubectl exec`` on Kubernetes), never inside a pod."""
    return (sys.executable, "-m", "cnibench.tools.idle", f"{seconds:g}", "--", *argv)


def main(argv: list[str]) -> int:
    """Exit 2 with one line for a bad command line; otherwise never returns (exec)."""
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m cnibench.tools.idle SECONDS -- COMMAND [ARG...]", file=sys.stderr)
        return 2
    try:
        seconds = float(argv[0])
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 3600:
        print(f"idle: SECONDS must be 0 to 3600, got {argv[0]!r}", file=sys.stderr)
        return 2
    time.sleep(seconds)
    sys.stdout.flush()
    os.execvp(argv[2], argv[2:])  # noqa: S606 - the command is the repetition's own argv list, no shell
    return 127  # pragma: no cover - execvp does not return


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
