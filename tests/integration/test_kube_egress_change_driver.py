"""The egress-change driver of the Kubernetes platforms, for real on this machine: as on kubeconfig, tcpdump and the
one-off iperf3 servers run where the driver runs (a namespace standing in for this machine), the probe in a "pod"
(a namespace, reached through a stand-in for ``kubectl exec``: no cluster runs here), the event is the stand-in
``kubectl apply`` of a "policy" (an nftables SNAT to the egress IP in the pod's namespace) or of the new pod (its
probe started in the pod's namespace, under that policy). The pcap it writes is read
by the same parser as netns's and by ``cnibench parse pcap``; everything it started is stopped and undone. And kind's
gateway failure undone: a link down and up with its routes put back, in a namespace standing in for the node."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cnibench.scenarios._egress_capture import figures, read_capture

pytestmark = pytest.mark.integration

SRV, POD = "cnibeck-srv", "cnibeck-pod"
SERVER_IP, POD_IP, EGRESS_IP = "10.250.0.1", "10.250.0.2", "10.250.0.9"
#: Stand-in for kubectl (there is no cluster here): ``exec POD -- CMD`` runs CMD in the pod's namespace; ``apply`` /
#: ``delete --filename F`` load / remove the "policy" F (an nftables ruleset) there, and the apply forgets the
#: probe's conntrack entry, as an agent does for established flows.
KUBECTL = """#!/bin/sh
while [ $# -gt 0 ]; do case "$1" in --kubeconfig|--context|--namespace) shift 2;; *) break;; esac; done
case "$1 $3" in
  exec*) shift; while [ "$1" != "--" ]; do shift; done; shift; exec ip netns exec "$POD_NS" "$@";;
  "apply $NEW_POD")  # the new pod: its probe from its start, as the rendered pod's container runs it
    ip netns exec "$POD_NS" iperf3 -c 10.250.0.1 -p 5303 -t 9 -u -b 512000 -l 64 --pacing-timer 100 \\
      >/dev/null 2>&1 &
    echo $! > "$NEW_POD.pid"; exit 0;;
  "delete $NEW_POD") [ -f "$NEW_POD.pid" ] && kill "$(cat "$NEW_POD.pid")" && rm "$NEW_POD.pid"; exit 0;;
  apply*) ip netns exec "$POD_NS" nft -f "$3" || exit 1
          ip netns exec "$POD_NS" conntrack -D -p udp --dport 5301 >/dev/null 2>&1; exit 0;;
  delete*) ip netns exec "$POD_NS" nft delete table ip cnibtest 2>/dev/null; exit 0;;
  wait*) exit 0;;
esac
exit 1
"""
POLICY = f"""table ip cnibtest {{
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
    ip daddr {SERVER_IP} snat to {EGRESS_IP}
  }}
}}
"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True)


@pytest.fixture
def namespaces():
    _ip("netns", "add", SRV)
    _ip("netns", "add", POD)
    try:
        _ip("-n", SRV, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", POD)
        _ip("-n", SRV, "address", "add", f"{SERVER_IP}/24", "brd", "+", "dev", "eth0")
        _ip("-n", POD, "address", "add", f"{POD_IP}/24", "dev", "eth0")
        _ip("-n", POD, "address", "add", f"{EGRESS_IP}/32", "dev", "eth0")
        for ns in (SRV, POD):
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "link", "set", "eth0", "up")
        yield
    finally:
        for ns in (SRV, POD):
            subprocess.run(["ip", "netns", "del", ns], check=False)


@pytest.mark.parametrize("event", ["policy-apply", "new-pod"])
def test_the_driver_captures_the_event_and_the_parser_reads_it(tmp_path, namespaces, event):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl").write_text(KUBECTL)
    (bin_dir / "kubectl").chmod(0o755)
    (tmp_path / "policy.nft").write_text(POLICY)
    config = {
        "kubectl": {"kubeconfig": None, "context": None, "namespace": "cnibench"},
        "server": {"container": None, "ip": SERVER_IP, "device": None}, "marker_to": None,
        "tcpdump": "tcpdump", "iperf3": "iperf3", "egress_ip": EGRESS_IP, "lead": 1.0, "duration": 2,
        "probe_bitrate": 1000 * 64 * 8, "probe_size": 64, "flow_bitrate": "100K",
        "ports": {"probe": 5301, "flow": 5302, "pod": 5303}, "client_pod": "probe-client",
        "new_pod": "probe-new", "new_pod_manifest": str(tmp_path / "new-pod.yaml"),
        "policy": str(tmp_path / "policy.nft"),
        "failure": "cordon", "agent_daemonset": "antrea-agent", "owner": None, "apply_timeout": 30,
        "gateway_label": "cnibench.io/egress-gateway", "preferred_gateways": None, "assign_egress_ip": None,
        "state": str(tmp_path / "state" / "egress-change.json"), "log_dir": str(tmp_path / "logs"),
    }  # fmt: skip
    (tmp_path / "driver.json").write_text(json.dumps(config))
    src = Path(__file__).resolve().parents[2] / "src"
    new_pod = str(tmp_path / "new-pod.yaml")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "POD_NS": POD, "PYTHONPATH": str(src),
           "NEW_POD": new_pod}  # fmt: skip
    if event == "new-pod":  # the existing policy (the role applies it before the trial)
        subprocess.run(["ip", "netns", "exec", POD, "nft", "-f", str(tmp_path / "policy.nft")], check=True)
    pcap = tmp_path / "rep-01.pcap"
    with pcap.open("wb") as out:
        proc = subprocess.run(
            ["ip", "netns", "exec", SRV, sys.executable, "-m", "cnibench.platforms.kube.scenarios._egress_change_run",
             "measure", str(tmp_path / "driver.json"), event, "w1,w2"],
            stdout=out, stderr=subprocess.PIPE, text=False, env=env, timeout=60, check=False,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    fig = figures(read_capture(pcap.read_bytes()))
    assert fig.event == event and fig.egress_ip == EGRESS_IP
    assert 900 <= (fig.probe_pps or 0) <= 1100  # the spec's 1,000 datagrams/s reached the server: 1 ms resolution
    assert fig.first_correct_ms is not None and fig.outage_ms is not None and fig.source_stayed_egress is True
    if event == "policy-apply":
        # the SNAT is in place before the stand-in apply returns: the first egress-IP packet is at most a few ms after
        assert -1000 < fig.first_correct_ms < 20 and fig.leaked_packets <= 20
        assert fig.outage_ms < 100  # the probe went on through the source change
    else:
        # the policy existed before the pod: every packet of it has the egress IP (netns's floor, here too)
        assert fig.first_correct_ms == 0.0 and fig.leaked_packets == 0
    # the same figures from the CLI, unchanged
    parsed = subprocess.run([sys.executable, "-m", "cnibench", "parse", "pcap", str(pcap)], capture_output=True,
                            text=True, env=env, check=True)  # fmt: skip
    again = json.loads(parsed.stdout)
    assert again["first_correct_ms"] == fig.first_correct_ms and again["leaked_packets"] == fig.leaked_packets
    # undone: the server's no-unreachable table, the applied "policy" (new pod: the existing one stays for the
    # role's clear-up) and the new pod; nothing the driver started still runs
    undone = [(SRV, "cnibench_egress_change")] + ([(POD, "cnibtest")] if event == "policy-apply" else [])
    for ns, table in undone:
        tables = subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "tables"], capture_output=True,
                                text=True, check=True).stdout  # fmt: skip
        assert table not in tables
    pids = subprocess.run(["ip", "netns", "pids", SRV], capture_output=True, text=True, check=True).stdout.split()
    pids += subprocess.run(["ip", "netns", "pids", POD], capture_output=True, text=True, check=True).stdout.split()
    assert pids == []
    logs = sorted(p.name for p in (tmp_path / "logs").iterdir())
    if event == "policy-apply":
        assert logs == ["iperf3-server-5301.log", "probe.log", "tcpdump.log"]
    else:
        assert logs == ["iperf3-server-5301.log", "iperf3-server-5303.log", "tcpdump.log"]


def test_a_gateway_whose_link_went_down_gets_its_routes_back(namespaces):
    """kind's failure, in a namespace standing in for the node container (``docker exec NODE`` is ``ip netns exec``):
    the routes read before, the link down (they are gone), up with what link_up_argvs puts back (they are there)."""
    from cnibench.platforms.kube.scenarios._egress_change_events import keep_ipv6_argv, link_down_argvs, link_up_argvs

    node = ("ip", "netns", "exec", POD)
    _ip("-n", POD, "route", "add", "default", "via", SERVER_IP, "dev", "eth0")
    _ip("-n", POD, "route", "add", "10.244.2.0/24", "via", "10.250.0.4", "dev", "eth0", "proto", "static",
        "metric", "100")  # fmt: skip

    def routes() -> list[dict]:
        out = subprocess.run([*node, "ip", "-j", "-4", "route", "show", "dev", "eth0"], capture_output=True,
                             text=True, check=True).stdout  # fmt: skip
        return json.loads(out)

    before = routes()
    assert len(before) == 3  # default, the static one, the connected subnet
    subprocess.run([*node, *keep_ipv6_argv()], check=True)
    for argv in link_down_argvs():
        subprocess.run([*node, *argv], check=True)
    assert routes() == []  # a link down takes every route through it
    for argv in link_up_argvs(before):
        subprocess.run([*node, *argv], check=True)
    assert routes() == before
