"""The network-policy scenario's denied probe before each repetition on Kubernetes: a launcher on this machine that
runs the probe (``kubectl exec`` into the pod without the clients' label: iperf3 connecting to the trial's target,
:func:`cnibench.tools.policy_probe.probe_argv`), then the measuring tool (``kubectl exec`` into the client pod), and
prints the repetition's record (:data:`cnibench.tools.policy_probe.FORMAT`) on stdout, the scenario's parser's input
on every platform. No policy table is listed here (``listing`` null): on Kubernetes the rules live in the CNI's own
datapath (iptables chains, eBPF maps, OVS flows), which cnibench does not read back.

Run as ``python -m cnibench.platforms.kube.policy_launch --probe PROBE_JSON -- TOOL ARGS...`` (``PROBE_JSON``: the
probe's argv as a JSON list, so that run-time placeholders in it are filled like the tool's). Exits with the tool's
exit code (127 when it cannot start).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence

from cnibench.tools.policy_probe import FORMAT, PROBE_S

#: This module, as ``python -m`` takes it.
MODULE = "cnibench.platforms.kube.policy_launch"
#: Seconds the probe may take at most (kubectl exec's own start included) before it counts as hung.
PROBE_TIMEOUT_S = 30.0


def _run(argv: Sequence[str], timeout: float | None) -> tuple[int, str, str]:
    """``argv``'s exit code, stdout and stderr (127: it cannot start; 124: it outlived ``timeout`` s, as timeout(1)
    says)."""
    try:
        proc = subprocess.run(list(argv), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
                              check=False)  # fmt: skip
    except OSError as exc:
        return 127, "", f"{argv[0]}: {exc}"
    except subprocess.TimeoutExpired:
        return 124, "", f"{argv[0]}: no answer within {timeout:g} s"
    return proc.returncode, proc.stdout, proc.stderr


def launch(probe: Sequence[str], tool: Sequence[str]) -> tuple[dict[str, object], int]:
    """Run the probe, wait until :data:`~cnibench.tools.policy_probe.PROBE_S` after the start (the tool starts at
    that offset, which the repetition's metrics window leaves out, as on netns), then the tool; the record and the
    tool's exit code. ``kubectl exec``'s own start (its round trips to the API server and the node) counts in the
    probe's time: a probe that overruns the offset makes the tool start that much later (``probe.elapsed_s`` says
    by how much)."""
    started = time.monotonic()
    probe_code, probe_out, probe_err = _run(probe, PROBE_TIMEOUT_S)
    probe_s = time.monotonic() - started
    time.sleep(max(0.0, started + PROBE_S - time.monotonic()))  # a deliberate wait: the tool's known offset
    code, out, err = _run(tool, None)
    doc: dict[str, object] = {
        "format": FORMAT,
        "probe": {
            "argv": list(probe),
            "exit_code": probe_code,
            "stdout": probe_out,
            "stderr": probe_err,
            "elapsed_s": round(probe_s, 4),
        },
        "listing": None,
        "tool": {"argv": list(tool), "exit_code": code, "stdout": out, "stderr": err},
    }
    return doc, code


def argv(probe: Sequence[str], tool: Sequence[str], *, python: str) -> list[str]:
    """The measure command: ``tool`` after the denied ``probe`` (each an argv, ``kubectl exec`` into its pod)."""
    return [python, "-m", MODULE, "--probe", json.dumps(list(probe)), "--", *tool]


def main(args: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.splitlines()[0])
    parser.add_argument("--probe", required=True, help="the probe's argv as a JSON list")
    parser.add_argument("tool", nargs=argparse.REMAINDER)
    parsed = parser.parse_args(args)
    tool = parsed.tool[1:] if parsed.tool[:1] == ["--"] else parsed.tool
    probe = json.loads(parsed.probe)
    if not tool or not isinstance(probe, list) or not probe:
        parser.error("a probe (a non-empty JSON list) and a tool after -- are needed")
    doc, code = launch([str(a) for a in probe], tool)
    print(json.dumps(doc))
    return code


if __name__ == "__main__":
    sys.exit(main())
