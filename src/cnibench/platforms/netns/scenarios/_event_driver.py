"""What the netns event drivers share (egress-change's and the network-policy events'): one repetition's processes,
started in a namespace and stopped by PID, the undo steps of what its event changed, and tcpdump started until it
says it listens. Each driver runs on this machine as its repetition's measured command, its standard output the
pcap."""

from __future__ import annotations

import contextlib
import subprocess
from typing import IO, Any

from cnibench.proc import terminate
from cnibench.spawn import netns_argv

#: Seconds tcpdump and the marker sender may take to start, and tcpdump to flush at the end.
START_TIMEOUT = 10.0
#: stderr lines tcpdump may write before "listening on ..." ("data link type LINUX_SLL2" with ``-y``).
_TCPDUMP_PREAMBLE = 3


class EventDriver:
    """What one repetition started (PIDs of its processes) and has to undo. ``config``: the repetition's rendered
    driver configuration (JSON); ``out``: where tcpdump writes the pcap (the driver's standard output)."""

    def __init__(self, config: dict[str, Any], out: IO[bytes]) -> None:
        self.c = config
        self.out = out
        self.procs: list[subprocess.Popen[bytes]] = []
        self.undo: list[Any] = []

    def spawn(self, netns: str, argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        """``argv`` in namespace ``netns``, its standard streams closed unless given; stopped by :meth:`close`."""
        kwargs.setdefault("stdout", subprocess.DEVNULL)
        kwargs.setdefault("stderr", subprocess.DEVNULL)
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        proc = subprocess.Popen(netns_argv(netns, argv), **kwargs)
        self.procs.append(proc)
        return proc

    def start_capture(self, netns: str, argv: list[str]) -> subprocess.Popen[bytes]:
        """tcpdump ``argv`` (writing the pcap to :attr:`out`) in ``netns``, once it says "listening on". Raises
        RuntimeError with what it said instead."""
        proc = self.spawn(netns, argv, stdout=self.out, stderr=subprocess.PIPE)
        assert proc.stderr is not None
        lines: list[str] = []
        for _ in range(_TCPDUMP_PREAMBLE):
            lines.append(proc.stderr.readline().decode(errors="replace").strip())
            if "listening on" in lines[-1] or not lines[-1]:
                break
        if "listening on" not in lines[-1]:
            raise RuntimeError(f"tcpdump did not start: {'; '.join(filter(None, lines)) or 'no output'}")
        return proc

    def close(self) -> None:
        """Undo what the event changed (in reverse), then stop whatever still runs, by PID."""
        for step in reversed(self.undo):
            with contextlib.suppress(Exception):
                step()
        for proc in self.procs:
            stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop ``proc`` by its PID if it still runs (SIGTERM, then SIGKILL: :func:`cnibench.proc.terminate`)."""
    if proc.poll() is None:
        terminate([proc.pid])
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(1.0)
