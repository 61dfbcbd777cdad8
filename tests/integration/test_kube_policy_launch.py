"""The Kubernetes denied-probe launcher for real, with the pods as network namespaces (no cluster can run here: ``ip
netns exec`` stands where ``kubectl exec`` runs in a cluster): a server namespace with iperf3, a client and an
intruder each linked to it; an nftables rule in the server's namespace drops the intruder's SYNs to the server's
port, as a NetworkPolicy does. The launcher's record goes through the scenario's own parser with the expectation the
Kubernetes adapter gives (no table to read back): a dropped probe leaves the repetition ok, a probe that gets
through fails it. The nc probe of the enforcement wait is judged on the same namespaces."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cnibench.platforms.kube import policy_launch, policy_probe
from cnibench.repetition import MeasureCommand, Repetition
from cnibench.scenarios._network_policy_trials import split
from cnibench.scenarios.network_policy import NETWORK_POLICY, NetworkPolicyExpectation
from cnibench.tools import iperf3
from cnibench.tools.policy_probe import probe_argv

pytestmark = pytest.mark.integration
PREFIX = f"cnibnpk{os.getpid() % 10000}"
SERVER, CLIENT, INTRUDER = (f"{PREFIX}-{n}" for n in ("srv", "cli", "intr"))
SERVER_IP = "10.250.1.1"
TRIAL = "pod-to-pod.cross-node.tcp-single@10rules"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def pods() -> Iterator[subprocess.Popen[bytes]]:
    """The three namespaces, the server's iperf3 running; everything removed afterwards."""
    try:
        for ns in (SERVER, CLIENT, INTRUDER):
            _ip("netns", "add", ns)
            _ip("-n", ns, "link", "set", "lo", "up")
        for index, ns in ((1, CLIENT), (2, INTRUDER)):
            host, peer = f"{PREFIX}s{index}", f"{PREFIX}p{index}"
            _ip("link", "add", host, "netns", SERVER, "type", "veth", "peer", "name", peer, "netns", ns)
            _ip("-n", SERVER, "addr", "add", f"10.250.{index}.1/30", "dev", f"{PREFIX}s{index}")
            _ip("-n", ns, "addr", "add", f"10.250.{index}.2/30", "dev", f"{PREFIX}p{index}")
            _ip("-n", SERVER, "link", "set", f"{PREFIX}s{index}", "up")
            _ip("-n", ns, "link", "set", f"{PREFIX}p{index}", "up")
            _ip("-n", ns, "route", "add", "default", "via", f"10.250.{index}.1")
        server = subprocess.Popen(["ip", "netns", "exec", SERVER, *iperf3.server_argv(SERVER_IP, iperf3.DEFAULT_PORT)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            time.sleep(0.5)  # iperf3 binds at once; its first client retries anyway (--connect-timeout)
            yield server
        finally:
            server.terminate()
            server.wait(timeout=10)
    finally:
        for ns in (SERVER, CLIENT, INTRUDER):
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)


def _drop_the_intruder() -> None:
    rules = ("add table ip np; add chain ip np input { type filter hook input priority 0 ; }; "
             f"add rule ip np input ip saddr 10.250.2.2 tcp dport {iperf3.DEFAULT_PORT} drop")  # fmt: skip
    subprocess.run(["ip", "netns", "exec", SERVER, "nft", rules], check=True, capture_output=True)


def _repetition(tmp_path: Path) -> Repetition:
    """One repetition of TRIAL under its policy, measured by the launcher: the probe from the intruder, iperf3 from
    the client (as the Kubernetes adapter builds it, ``ip netns exec`` for ``kubectl exec``)."""
    point, size = split(TRIAL)
    probe = ["ip", "netns", "exec", INTRUDER, *probe_argv(SERVER_IP, iperf3.DEFAULT_PORT)]
    tool = ["ip", "netns", "exec", CLIENT, "iperf3", "--client", SERVER_IP, "--time", "1", "--json"]
    artifact = tmp_path / "rep-01.iperf3.json"
    with artifact.open("w") as out:
        subprocess.run(policy_launch.argv(probe, tool, python=sys.executable), stdout=out, check=True, timeout=60)
    expect = NetworkPolicyExpectation(
        path=point.path, placement=point.placement, protocol="tcp", streams=1, code=point.code, workload="stream",
        policy_size=size, policy_rules=11, probe_source="np-intruder-cross", probe_target="np-server's IP",
        probe_port=iperf3.DEFAULT_PORT,
    )  # fmt: skip
    command = MeasureCommand(argv=("x",), stdout=artifact, timeout_s=60)
    return Repetition("cilium", TRIAL, 1, artifact, command, 1.0, 0.0, expect)


def test_a_dropped_probe_leaves_the_repetition_ok(tmp_path, pods):
    _drop_the_intruder()
    sample = NETWORK_POLICY.make_sample(_repetition(tmp_path), run_dir=tmp_path, started_at=1.0, ended_at=2.0)
    assert sample.status == "ok", sample.error
    assert sample.denied_probe == "blocked" and "timed out" in (sample.denied_probe_detail or "")
    assert sample.throughput_bps and sample.throughput_bps > 1e8  # the client was not dropped


def test_a_probe_that_gets_through_fails_the_repetition(tmp_path, pods):
    sample = NETWORK_POLICY.make_sample(_repetition(tmp_path), run_dir=tmp_path, started_at=1.0, ended_at=2.0)
    assert sample.status == "failed" and sample.denied_probe == "passed"
    assert sample.error is not None
    assert sample.error.startswith("the denied probe from np-intruder-cross to np-server's IP:5201 got through")


def test_the_enforcement_waits_nc_probe_tells_dropped_from_connected(pods):
    def nc(ns: str) -> policy_probe.Outcome:
        argv = ["ip", "netns", "exec", ns, "nc", "-z", "-v", "-w", "2", SERVER_IP, str(iperf3.DEFAULT_PORT)]
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
        return policy_probe.nc_outcome(proc.stdout + proc.stderr, proc.returncode)

    probes = [policy_probe.Probe(CLIENT, iperf3.DEFAULT_PORT, True), policy_probe.Probe(INTRUDER, iperf3.DEFAULT_PORT,
                                                                                        False)]  # fmt: skip
    assert policy_probe.wrong({p: nc(p.pod) for p in probes}) == [f"{INTRUDER} -> :5201 is connected (it must be "
                                                                   "dropped: time out)"]  # fmt: skip
    _drop_the_intruder()
    assert policy_probe.wait_enforced(probes, lambda p: nc(p.pod), timeout=20, what="x") < 20
