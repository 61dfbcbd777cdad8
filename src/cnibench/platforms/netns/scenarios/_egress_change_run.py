"""``python -m cnibench.platforms.netns.scenarios._egress_change_run CONFIG.json``: one repetition of an
egress-change event on netns, run on this machine as the repetition's measured command; its standard output is the
pcap (tcpdump ``-w -`` writes to it), the repetition's raw artifact.

In order: tcpdump in the external server's namespace (until it says it listens), the marker sender there
(:mod:`cnibench.scenarios._egress_capture`), for failover keepalived on both gateways (until the active one holds the
egress IP) and the low-rate TCP flow, the probe (iperf3 UDP at the configured datagrams/s), ``lead`` seconds of
probe, the event (its start and return stamped with ``time.time()``, CLOCK_REALTIME, the clock tcpdump stamps
packets with on this machine), its marker, ``duration`` seconds, then everything it started stopped by PID and
what the event changed undone (links up, keepalived stopped, bundles removed), also when something failed.

The waits for ``lead`` and ``duration`` are the measurement's windows, not stand-ins for a condition.
"""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

from cnibench.platforms.netns.scenarios._event_driver import START_TIMEOUT, EventDriver, stop
from cnibench.proc import run, wait_until
from cnibench.scenarios._egress_capture import Marker, drive
from cnibench.spawn import in_namespace, listening_ports


class Driver(EventDriver):
    """What one repetition started (PIDs of its processes) and has to undo."""

    def capture(self) -> subprocess.Popen[bytes]:
        """tcpdump on the external server's side, packet-buffered pcap to our standard output, once it listens."""
        c = self.c
        argv = [c["tcpdump"], "-i", c["capture_dev"], "-n", "-U", "--immediate-mode", "-s", "512", "-w", "-",
                "udp or tcp"]  # fmt: skip
        return self.start_capture(c["ext_netns"], argv)

    def marker_sender(self) -> subprocess.Popen[bytes]:
        c = self.c
        argv = [c["python"], "-m", "cnibench.scenarios._pcap", "mark", c["broadcast"]]
        return self.spawn(c["ext_netns"], argv, stdin=subprocess.PIPE)

    def server(self, port: int) -> None:
        """A one-off iperf3 server (``-1``) in the external namespace for this repetition alone (a test whose
        control connection an event broke cannot keep the next repetition's server busy), once it listens."""
        c = self.c
        proc = self.spawn(c["ext_netns"], [c["iperf3"], "-s", "-1", "-B", c["server_ip"], "-p", str(port)])
        if not wait_until(lambda: True if in_namespace(proc.pid, c["ext_netns"]) and port in listening_ports(proc.pid)
                          else None, START_TIMEOUT, interval=0.01):  # fmt: skip
            raise RuntimeError(f"iperf3 server did not listen on port {port} within {START_TIMEOUT:g} s")

    def iperf3(self, netns: str, port: int, *extra: str) -> subprocess.Popen[bytes]:
        c = self.c
        seconds = math.ceil(c["lead"] + c["duration"]) + 2  # stopped by PID at the end: it never ends on its own
        return self.spawn(netns, [c["iperf3"], "-c", c["server_ip"], "-p", str(port), "-t", str(seconds), *extra])

    def probe(self, netns: str, port: int) -> subprocess.Popen[bytes]:
        c = self.c
        return self.iperf3(netns, port, "-u", "-b", str(c["probe_bitrate"]), "-l", str(c["probe_size"]),
                           "--pacing-timer", "100")  # fmt: skip

    def has_egress_ip(self, netns: str) -> bool:
        c = self.c
        out = run(["ip", "-n", netns, "-4", "-o", "addr", "show", "dev", c["vip_dev"]], check=False).stdout
        return f" {c['egress_ip']}/" in out

    def keepalived(self) -> None:
        """keepalived on both gateways (the active one first), until the active one holds the egress IP."""
        c = self.c
        for d in c["keepalived_daemons"]:
            directory = Path(d["dir"])
            log = Path(d["log"])
            log.parent.mkdir(parents=True, exist_ok=True)
            argv = [c["keepalived"], "--dont-fork", "--log-console", "--log-detail", "--no-syslog", "--vrrp",
                    "--dont-respawn", "-f", str(directory / "keepalived.conf"), "-p", str(directory / "keepalived.pid"),
                    "-r", str(directory / "vrrp.pid")]  # fmt: skip
            with log.open("ab") as out:
                proc = self.spawn(d["netns"], argv, stdout=out, stderr=subprocess.STDOUT)
            self.undo.append(lambda p=proc: stop(p))
        if not wait_until(lambda: True if self.has_egress_ip(c["active_netns"]) else None, START_TIMEOUT,
                          interval=0.02):  # fmt: skip
            raise RuntimeError(f"keepalived: {c['active_netns']} did not take {c['egress_ip']} in {START_TIMEOUT} s")

    def apply(self, bundle: str) -> None:
        from cnibench.platforms.netns import ops

        ops.apply_bundle(Path(bundle), present=True)
        self.undo.append(lambda: ops.apply_bundle(Path(bundle), present=False))

    def fail_gateway(self) -> None:
        """The active gateway's links go down: their peers (the node network's bridge port, the external
        segment's) are set down, so the gateway loses carrier on both; undone (set up) at the end."""
        for netns, dev in self.c["down_links"]:
            run(["ip", "-n", netns, "link", "set", dev, "down"])
            self.undo.append(lambda n=netns, d=dev: run(["ip", "-n", n, "link", "set", d, "up"], check=False))

    def measure(self) -> None:
        c = self.c
        event = c["event"]
        tcpdump = self.capture()
        sender = self.marker_sender()
        flow_port = None
        for port in (c["probe_port"], c.get("pod_port"), c.get("flow_port")):
            if port is not None:
                self.server(port)
        if event == "gateway-failover":
            self.keepalived()
            flow_port = c["flow_port"]
            self.iperf3(c["client_netns"], flow_port, "-b", c["flow_bitrate"], "-l", "128")
        if event != "new-pod":
            self.probe(c["client_netns"], c["probe_port"])
        time.sleep(c["lead"])  # the stream before the event: the measurement's own window
        started = time.time()
        if event == "policy-apply":
            self.apply(c["bundle"])
            if c.get("flush_conntrack"):  # the established probe flow's masquerade mapping goes with its entry
                netns, pod_ip = c["flush_conntrack"]
                run(["ip", "netns", "exec", netns, c["conntrack"], "-D", "-s", pod_ip, "-p", "udp", "--dport",
                     str(c["probe_port"])], check=False)  # fmt: skip  # not iperf3's control connection
        elif event == "new-pod":
            self.apply(c["bundle"])
            self.probe(c["pod_netns"], c["pod_port"])
        else:
            self.fail_gateway()
        at = time.time()
        marker = Marker(
            event, started, at, c["egress_ip"], c["probe_port"], c.get("pod_port"), flow_port, float(c["duration"])
        )
        assert sender.stdin is not None
        sender.stdin.write((marker.line() + "\n").encode())
        sender.stdin.close()
        time.sleep(c["duration"])  # the stream after the event: the measurement's own window
        sender.wait(START_TIMEOUT)
        for proc in self.procs:
            if proc not in (tcpdump, sender):
                stop(proc)
        tcpdump.send_signal(signal.SIGTERM)  # tcpdump flushes its packet-buffered output and exits
        tcpdump.wait(START_TIMEOUT)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m cnibench.platforms.netns.scenarios._egress_change_run CONFIG.json", file=sys.stderr)
        return 2
    config = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    return drive(Driver(config, sys.stdout.buffer))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
