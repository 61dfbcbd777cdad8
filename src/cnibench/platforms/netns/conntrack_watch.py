"""The conntrack table of every node over one request/response repetition on netns: a launcher that runs the
measuring tool (sockperf, ab) and, beside it, one sampler per node namespace that reads that namespace's table.

Run as ``python -m cnibench.platforms.netns.conntrack_watch run --node NAME=NETNS ... -- TOOL ARGS...`` in the
client's namespace (the measure command's); it prints one JSON document
(:data:`cnibench.tools.conntrack.WATCH_FORMAT`) on stdout: the tool's argv, exit code, stdout and stderr, and per node
the samples in time order. ``... sample`` is the sampler itself, started by ``run`` inside each node namespace with
``ip netns exec`` (``/proc/sys/net/netfilter`` and ``/proc/net/stat`` are the reader's namespace's): it prints a
sample (:func:`cnibench.tools.conntrack.read_proc`) as a JSON line every ``--interval`` seconds and a last one when
its stdin closes; the first and the last also carry ``conntrack -S``'s output (the same counters per CPU, read by
conntrack-tools through netlink).

Own code, not a library: the samplers only read counters (the measuring itself is the tool's); node_exporter would
do it on a node but has no per-namespace mode, and ``conntrack -S`` gives no entry count."""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from cnibench.errors import MeasurementError
from cnibench.tools.conntrack import WATCH_FORMAT, read_proc, sample_record

#: This module, as ``python -m`` takes it (``__name__`` is ``__main__`` there).
MODULE = "cnibench.platforms.netns.conntrack_watch"
#: Seconds between two samples: the peak of a table that fills and drains within a window is seen to this.
DEFAULT_INTERVAL_S = 0.2
#: Seconds the launcher waits for each sampler's first sample (a Python start in a namespace: ~0.3 s here).
START_TIMEOUT_S = 10.0


def _stats() -> str | None:
    """``conntrack -S`` in this namespace (None: not installed or it failed)."""
    tool = shutil.which("conntrack")
    if tool is None:
        return None
    proc = subprocess.run([tool, "-S"], capture_output=True, text=True, check=False)
    return proc.stdout if proc.returncode == 0 else None


def _sample(interval: float) -> int:
    """The sampler: a sample now and every ``interval`` s, a last one when stdin closes; the first and the last
    also carry ``conntrack -S``'s text (``stats``)."""
    first = True
    while True:
        try:
            record = sample_record(read_proc(), time.time())
        except MeasurementError as exc:
            print(json.dumps({"error": str(exc)}), flush=True)
            return 1
        print(json.dumps({**record, "stats": _stats()} if first else record), flush=True)
        first = False
        ready, _, _ = select.select([sys.stdin], [], [], interval)
        if ready and not os.read(sys.stdin.fileno(), 4096):  # EOF: the launcher is done
            print(json.dumps({**sample_record(read_proc(), time.time()), "stats": _stats()}), flush=True)
            return 0


def _run(nodes: Sequence[str], argv: Sequence[str], interval: float) -> int:
    """Start a sampler per node (``NAME=NETNS``), wait for each one's first sample, run ``argv``, stop the samplers
    and print the document. Returns the tool's exit code (127 when it cannot start)."""
    samplers: dict[str, subprocess.Popen[bytes]] = {}
    for spec in nodes:
        name, _, netns = spec.partition("=")
        command = ["ip", "netns", "exec", netns, sys.executable, "-m", MODULE, "sample", "--interval", str(interval)]
        samplers[name] = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    first: dict[str, bytes] = {}
    deadline = time.monotonic() + START_TIMEOUT_S
    for name, proc in samplers.items():
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], max(deadline - time.monotonic(), 0.0))
        first[name] = proc.stdout.readline() if ready else b""
    try:
        tool = subprocess.run(list(argv), stdin=subprocess.DEVNULL, capture_output=True, check=False)
        code, out, err = tool.returncode, tool.stdout.decode(errors="replace"), tool.stderr.decode(errors="replace")
    except OSError as exc:
        code, out, err = 127, "", f"{argv[0]}: {exc}"
    conntrack: dict[str, list[Any]] = {}
    for name, proc in samplers.items():
        rest, _ = proc.communicate(timeout=START_TIMEOUT_S)  # closes stdin: the sampler takes its last sample
        lines = [line for line in (first[name] + rest).decode(errors="replace").splitlines() if line.strip()]
        conntrack[name] = [json.loads(line) for line in lines]
    doc = {"format": WATCH_FORMAT, "argv": list(argv), "exit_code": code, "stdout": out, "stderr": err,
           "interval_s": interval, "conntrack": conntrack}  # fmt: skip
    print(json.dumps(doc))
    return code


def argv(nodes: dict[str, str], tool: Sequence[str], *, python: str, interval: float = DEFAULT_INTERVAL_S) -> list[str]:
    """The measure command: ``tool`` run by the launcher with a sampler in each of ``nodes`` (node -> namespace)."""
    specs = [f"{name}={netns}" for name, netns in nodes.items()]
    return [python, "-m", MODULE, "run", "--interval", str(interval), *(f"--node={s}" for s in specs), "--", *tool]


def main(args: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("--interval", type=float, default=DEFAULT_INTERVAL_S)
    run.add_argument("--node", action="append", default=[])
    run.add_argument("tool", nargs=argparse.REMAINDER)
    sample = sub.add_parser("sample")
    sample.add_argument("--interval", type=float, default=DEFAULT_INTERVAL_S)
    parsed = parser.parse_args(args)
    if parsed.command == "sample":
        return _sample(parsed.interval)
    tool = parsed.tool[1:] if parsed.tool[:1] == ["--"] else parsed.tool
    if not tool:
        parser.error("no tool to run after --")
    return _run(parsed.node, tool, parsed.interval)


if __name__ == "__main__":
    sys.exit(main())
