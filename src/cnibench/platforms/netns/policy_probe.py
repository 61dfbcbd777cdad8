"""The network-policy scenario's repetition launcher on netns: the denied probe, the policy table read back, then the
measuring tool (:mod:`cnibench.tools.policy_probe` says what the record holds and why).

Run as ``python -m cnibench.platforms.netns.policy_probe --probe-netns NS --target IP --port N --table-netns NS
--table T -- TOOL ARGS...`` in the client's namespace (the measure command's); prints one JSON document
(:data:`cnibench.tools.policy_probe.FORMAT`) and exits with the tool's exit code. The probe is iperf3 itself in the
namespace of a pod the policy does not admit (``ip netns exec``), the listing ``nft -j list table ip T`` in the
server node's namespace; neither measures anything (the tool does), so they run one after the other before it.

Own code, not a library: a launcher of three commands, like :mod:`cnibench.platforms.netns.conntrack_watch`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence

from cnibench.proc import tool_path
from cnibench.tools.policy_probe import FORMAT, PROBE_S, probe_argv

MODULE = "cnibench.platforms.netns.policy_probe"


def _run(argv: Sequence[str], timeout: float | None = None) -> tuple[int, str, str]:
    try:
        proc = subprocess.run(list(argv), stdin=subprocess.DEVNULL, capture_output=True, check=False, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else ""
        return 124, out, f"{argv[0]}: timed out after {timeout} s"
    except OSError as exc:
        return 127, "", f"{argv[0]}: {exc}"
    return proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")


def run(probe_netns: str, target: str, port: int, table_netns: str, table: str, tool: Sequence[str]) -> int:
    """Probe, list, run ``tool``; print the record. Returns the tool's exit code (127: it could not start)."""
    started = time.monotonic()
    ip = tool_path("ip") or "ip"
    probe = [ip, "netns", "exec", probe_netns, tool_path("iperf3") or "iperf3", *probe_argv(target, port)[1:]]
    probe_code, probe_out, probe_err = _run(probe, timeout=30.0)
    probe_s = time.monotonic() - started
    listing_argv = [ip, "netns", "exec", table_netns, tool_path("nft") or "nft", "-j", "list", "table", "ip", table]
    list_code, listing, list_err = _run(listing_argv, timeout=30.0)
    listed_s = time.monotonic() - started
    # the tool starts PROBE_S after the launcher (the metrics window's offset counts on it): a deliberate wait
    time.sleep(max(0.0, started + PROBE_S - time.monotonic()))
    code, out, err = _run(tool)
    doc = {
        "format": FORMAT,
        "probe": {
            "argv": probe,
            "exit_code": probe_code,
            "stdout": probe_out,
            "stderr": probe_err,
            "elapsed_s": round(probe_s, 4),
        },
        "listing": listing if list_code == 0 else None,
        "listing_error": None if list_code == 0 else list_err.strip() or f"nft exited with {list_code}",
        "listed_after_s": round(listed_s, 4),
        "tool": {"argv": list(tool), "exit_code": code, "stdout": out, "stderr": err},
    }
    print(json.dumps(doc))
    return code


def argv(*, probe_netns: str, target: str, port: int, table_netns: str, table: str, tool: Sequence[str],
         python: str) -> list[str]:  # fmt: skip
    """The measure command: ``tool`` run by the launcher after the probe and the listing."""
    return [python, "-m", MODULE, "--probe-netns", probe_netns, "--target", target, "--port", str(port),
            "--table-netns", table_netns, "--table", table, "--", *tool]  # fmt: skip


def main(args: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.splitlines()[0])
    parser.add_argument("--probe-netns", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--table-netns", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("tool", nargs=argparse.REMAINDER)
    parsed = parser.parse_args(args)
    tool = parsed.tool[1:] if parsed.tool[:1] == ["--"] else parsed.tool
    if not tool:
        parser.error("no tool to run after --")
    return run(parsed.probe_netns, parsed.target, parsed.port, parsed.table_netns, parsed.table, tool)


if __name__ == "__main__":
    sys.exit(main())
