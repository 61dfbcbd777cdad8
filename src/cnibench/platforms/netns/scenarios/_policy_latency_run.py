"""``python -m cnibench.platforms.netns.scenarios._policy_latency_run CONFIG.json``: one repetition of a
network-policy event on netns, run on this machine as the repetition's measured command; its standard output is the
pcap (tcpdump ``-w -``), the repetition's raw artifact.

In order (the policy before the event is already applied: the repetition's around-bundle): tcpdump on every
interface of the server's node (``-i any -y LINUX_SLL2``, until it says it listens), the marker sender there
(:mod:`cnibench.scenarios._pcap`, to 127.0.0.1: the capture sees it once, on ``lo``), the probe (hping3 UDP, a new
source port per datagram; allow and deny: from the client pod), ``lead`` seconds, the event (its start and return
stamped with ``time.time()``, CLOCK_REALTIME, the clock tcpdump stamps packets with on this machine): the policy
after it applied in one nft transaction (new pod: first the pod created and its probe started), its marker,
``window`` seconds, then everything it started stopped by PID and the new pod removed, also when something failed.

The waits for ``lead`` and ``window`` are the measurement's windows, not stand-ins for a condition.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from cnibench.platforms.netns import ops  # imported before the event: its import is no part of the apply
from cnibench.platforms.netns.scenarios._event_driver import START_TIMEOUT, EventDriver, stop
from cnibench.proc import run
from cnibench.scenarios._pcap import MARKER_PORT
from cnibench.scenarios._policy_latency_capture import PolicyMarker

#: Seconds the capture goes on after the probe stopped (the last datagrams on their way).
TAIL_S = 0.1


class Driver(EventDriver):
    """What one repetition started (PIDs of its processes) and has to undo."""

    def capture(self) -> subprocess.Popen[bytes]:
        """tcpdump on every interface of the server's node, packet-buffered pcap to our standard output."""
        c = self.c
        argv = [c["tcpdump"], "-i", "any", "-y", "LINUX_SLL2", "-n", "-U", "--immediate-mode", "-s", "512", "-w", "-",
                f"udp and (dst port {c['probe_port']} or dst port {MARKER_PORT})"]  # fmt: skip
        return self.start_capture(c["node_netns"], argv)

    def ifindex(self) -> int:
        """The index of the server pod's veth in its node's namespace (where delivered datagrams are sent)."""
        c = self.c
        out = run(["ip", "-n", c["node_netns"], "-j", "link", "show", "dev", c["delivered_if"]]).stdout
        return int(json.loads(out)[0]["ifindex"])

    def probe(self, netns: str) -> subprocess.Popen[bytes]:
        """hping3 UDP to the server pod's probe port, a new source port per datagram (stopped by PID)."""
        c = self.c
        return self.spawn(netns, [c["hping3"], "--udp", "-p", str(c["probe_port"]), "-i", f"u{c['interval_us']}",
                                  "-d", "64", "-q", c["server_ip"]])  # fmt: skip

    def apply(self, bundle: str, *, remove: bool) -> None:
        ops.apply_bundle(Path(bundle), present=True)
        if remove:
            self.undo.append(lambda: ops.apply_bundle(Path(bundle), present=False))

    def measure(self) -> None:
        c = self.c
        delivered = self.ifindex()
        tcpdump = self.capture()
        sender = self.spawn(c["node_netns"], [c["python"], "-m", "cnibench.scenarios._pcap", "mark", "127.0.0.1"],
                            stdin=subprocess.PIPE)  # fmt: skip
        new_pod = c["event"] == "policy-new-pod"
        if not new_pod:
            self.probe(c["client_netns"])
        time.sleep(c["lead"])  # the stream before the event: the measurement's own window
        started = time.time()
        if new_pod:
            self.apply(c["pod_bundle"], remove=True)
            self.probe(c["client_netns"])
        self.apply(c["after"], remove=False)  # the around-bundle's removal deletes the table
        at = time.time()
        marker = PolicyMarker(c["event"], started, at, c["client_ip"], c["server_ip"], c["probe_port"], delivered,
                              float(c["window"]), c["size"], c["representation"])  # fmt: skip
        assert sender.stdin is not None
        sender.stdin.write((marker.line() + "\n").encode())
        sender.stdin.close()
        time.sleep(c["window"])  # the stream after the event: the measurement's own window
        sender.wait(START_TIMEOUT)
        for proc in self.procs:
            if proc not in (tcpdump, sender):
                stop(proc)
        time.sleep(TAIL_S)
        tcpdump.send_signal(signal.SIGTERM)  # tcpdump flushes its packet-buffered output and exits
        tcpdump.wait(START_TIMEOUT)

    def close(self) -> None:
        """Stop whatever still runs first (the probe: no datagram after the window), then undo what the event
        changed (in reverse)."""
        for proc in self.procs:
            stop(proc)
        super().close()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m cnibench.platforms.netns.scenarios._policy_latency_run CONFIG.json", file=sys.stderr)
        return 2
    config = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    driver = Driver(config, sys.stdout.buffer)
    try:
        driver.measure()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        print(f"network-policy: {exc}", file=sys.stderr)
        return 1
    finally:
        driver.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
