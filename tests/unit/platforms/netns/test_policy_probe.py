"""The network-policy repetition launcher on real namespaces: the denied probe (iperf3), the table read back
(``nft -j``) and the measuring tool (iperf3), turned into a sample by the scenario. A policy that lets the
intruder through fails the repetition; one that drops it passes, with the rules and elements it loaded."""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from policy_lab import CLIENTS, INTRUDER, PORTS, SERVER, needs_root, nft_apply

from cnibench.platforms.netns import policy_probe
from cnibench.platforms.netns.policy_nft import expected, netns_members, render_policy
from cnibench.repetition import MeasureCommand, Repetition
from cnibench.scenarios._policy_rules import ingress_rules
from cnibench.scenarios.network_policy import NETWORK_POLICY, NetworkPolicyExpectation
from cnibench.tools import iperf3

TRIAL = "pod-to-pod.cross-node.tcp-single@10rules"


def _policy(clients: list[str]) -> tuple[str, dict[str, int]]:
    rules = ingress_rules(10, PORTS)
    members = functools.partial(netns_members, clients=clients)
    script = render_policy(rules, table="np", protected=[SERVER], members=members, representation="chain")
    want = expected(rules, members, "chain")
    counts = {"expected_nft_rules": want.rules, "expected_nft_sets": want.sets, "expected_nft_elements": want.elements}
    return "\n".join(script) + "\n", counts


def _repetition(lab: dict[str, str], tmp_path: Path, counts: dict[str, int]) -> Repetition:
    tool = [*iperf3.client_argv(SERVER, protocol="tcp", duration=1, omit=0, parallel=1, bitrate="0"),
            "--bind", CLIENTS[0]]  # fmt: skip
    argv = policy_probe.argv(probe_netns=lab["src"], target=SERVER, port=iperf3.DEFAULT_PORT,
                             table_netns=lab["router"], table="np", tool=tool, python=sys.executable)  # fmt: skip
    artifact = tmp_path / "rep-01.iperf3.json"
    expect = NetworkPolicyExpectation(
        path="pod-to-pod", placement="cross-node", protocol="tcp", streams=1, code="DTS", target_ip=SERVER,
        client_ip=CLIENTS[0], backend_ip=SERVER, policy_size=10, representation="chain", policy_rules=11, table="np",
        probe_source=INTRUDER, probe_target=SERVER, probe_port=iperf3.DEFAULT_PORT, **counts,
    )  # fmt: skip
    command = MeasureCommand(argv=tuple(argv), stdout=artifact, timeout_s=60, netns=lab["src"])
    return Repetition("hostgw", TRIAL, 1, artifact, command, 5.0, 0.0, expect)


def _run(lab: dict[str, str], rep: Repetition) -> None:
    with rep.artifact.open("w") as out:
        subprocess.run(["ip", "netns", "exec", rep.command.netns, *rep.command.argv], stdout=out, check=False,
                       timeout=60)  # fmt: skip


@pytest.fixture
def server(lab):
    proc = subprocess.Popen(["ip", "netns", "exec", lab["dst"], *iperf3.server_argv(SERVER)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        subprocess.run(["ip", "netns", "exec", lab["dst"], "sh", "-c",
                        "for i in $(seq 50); do ss -ltn | grep -q :5201 && exit 0; sleep 0.1; done; exit 1"],
                       check=True)  # fmt: skip
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


pytestmark = [needs_root, pytest.mark.skipif(shutil.which("iperf3") is None, reason="iperf3 is not installed")]


def test_a_dropped_probe_and_the_rendered_table_pass(lab, server, tmp_path):
    script, counts = _policy(CLIENTS)
    assert nft_apply(lab["router"], script).returncode == 0
    rep = _repetition(lab, tmp_path, counts)
    _run(lab, rep)
    sample = NETWORK_POLICY.make_sample(rep, run_dir=tmp_path, started_at=1.0, ended_at=5.0)
    assert sample.status == "ok", sample.error
    assert sample.denied_probe == "blocked" and "timed out" in sample.denied_probe_detail
    assert (sample.nft_rules, sample.nft_sets, sample.nft_elements) == (
        counts["expected_nft_rules"], counts["expected_nft_sets"], counts["expected_nft_elements"],
    )  # fmt: skip
    assert sample.throughput_bps and sample.source_ip_ok and sample.policy_size == 10


def test_a_denied_probe_that_gets_through_fails_the_repetition(lab, server, tmp_path):
    """The policy admits the intruder too (its address among the clients'): the probe connects, the measurement
    still runs, and the repetition fails naming the probe."""
    script, counts = _policy([*CLIENTS, INTRUDER])
    assert nft_apply(lab["router"], script).returncode == 0
    rep = _repetition(lab, tmp_path, counts)
    _run(lab, rep)
    sample = NETWORK_POLICY.make_sample(rep, run_dir=tmp_path, started_at=1.0, ended_at=5.0)
    assert sample.status == "failed" and sample.denied_probe == "passed"
    assert f"the denied probe from {INTRUDER} to {SERVER}:5201 got through" in (sample.error or "")
    assert sample.throughput_bps  # its figures are kept


def test_a_table_that_differs_from_the_rendered_one_fails_the_repetition(lab, server, tmp_path):
    script, counts = _policy(CLIENTS)
    assert nft_apply(lab["router"], script).returncode == 0
    rep = _repetition(lab, tmp_path, {**counts, "expected_nft_rules": counts["expected_nft_rules"] + 1})
    _run(lab, rep)
    sample = NETWORK_POLICY.make_sample(rep, run_dir=tmp_path, started_at=1.0, ended_at=5.0)
    assert sample.status == "failed" and "the loaded policy differs from the rendered one: nft_rules" in sample.error
