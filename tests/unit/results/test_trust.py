"""Reasons to doubt a run's numbers, from real runs (tests/data/results) and real iperf3 outputs (tests/data/iperf3:
their senders used 90-99 % of a core)."""

from __future__ import annotations

import pytest

from cnibench.results.model import read_results
from cnibench.results.trust import BACKGROUND_LOAD, CPU_BOUND, background_load, warnings_for
from cnibench.scenarios.egress import EGRESS, EgressExpectation

EGRESS_IP = "203.0.113.254"


def _real(data_dir, name="netns-pool-a.json"):
    return read_results(data_dir / "results" / name)


def _lines(run, cni=None, scenario=None):
    return [w.line() for w in warnings_for(run) if (cni, scenario) in ((None, None), (w.cni, w.scenario))]


def _from_iperf3(data_dir, name, cni, repetition):
    """The sample cnibench makes of a real iperf3 output of the egress trial."""
    text = (data_dir / "iperf3" / name).read_text()
    expect = EgressExpectation(protocol="tcp", expected_source_ip=EGRESS_IP, egress_ip=EGRESS_IP)
    fields = {"cni": cni, "scenario": "egress", "repetition": repetition, "artifact": name}
    return EGRESS.sample_from(text, expect, {**fields, **EGRESS.expected_fields(expect)}, None)


def test_an_iperf3_sender_near_a_full_core_is_cpu_bound(data_dir):
    run = _real(data_dir)
    real = [
        _from_iperf3(data_dir, name, "hostgw", i + 1)
        for i, name in enumerate(("tcp-hostgw-egress.json", "tcp-p4-hostgw-egress.json", "tcp-vxlan-egress.json"))
    ]
    assert sorted(round(s.client_cpu_percent) for s in real) == [91, 95, 99]
    samples = [s for s in run.samples if (s.cni, s.scenario) != ("hostgw", "egress")] + real
    lines = _lines(run.model_copy(update={"samples": samples}), "hostgw", "egress")
    assert (
        "hostgw egress: iperf3 sender at 95 % of a core (median of 3): throughput is limited by CPU, including the "
        "datapath's own work"
    ) in lines
    # the pool runs' senders had 17-88 % (the machine was shared): no such warning
    assert not any("of a core" in line for line in _lines(run))
    assert CPU_BOUND == 90.0


def test_background_load_from_the_environment(data_dir):
    run = _real(data_dir)
    assert background_load(run) is None  # schema 6: not recorded
    busy = run.model_copy(
        update={
            "environment": {**run.environment, "background_load": {"cpu_percent": 37.5, "window_s": 2.0, "cores": 2}}
        }
    )
    warning = background_load(busy)
    assert warning.line() == (
        "the machine was 38 % busy with other work just before the run (2 cores over 2.0 s; above 10 %): every "
        "number may include that interference"
    )
    assert warning.line() in _lines(busy)
    quiet = {"cpu_percent": BACKGROUND_LOAD, "window_s": 2.0, "cores": 2}
    assert (
        background_load(run.model_copy(update={"environment": {**run.environment, "background_load": quiet}})) is None
    )
    broken = {**run.environment, "background_load": {"cpu_percent": "n/a"}}
    assert background_load(run.model_copy(update={"environment": broken})) is None


def test_pyperfs_checks_on_the_primary_metrics(data_dir):
    """hostgw's baseline in the first pool run: stdev 31 % of the mean (the machine was shared)."""
    lines = _lines(_real(data_dir))
    assert "hostgw egress-baseline: throughput: stdev is 31% of the mean (>= 10%)" in lines
    assert "vxlan ingress: requests/s: the minimum is 61% below the mean (>= 50%)" in lines
    assert not any("retransmits" in line for line in lines)  # a secondary metric's spread shows in its interval


def test_spread_within_a_repetition(data_dir):
    """The per-interval throughput of the short real run's repetitions (2 s, 2 intervals) varies by about 50 %."""
    lines = _lines(_real(data_dir, "netns-hostgw-vxlan.json"), "vxlan", "egress")
    assert any(
        line.startswith("vxlan egress: throughput varies by ")
        and "within a repetition (cv of the per-interval figures, median of 2; >= 10%)" in line
        for line in lines
    ), lines


def test_failed_missing_and_too_few_repetitions(data_dir):
    run = _real(data_dir, "netns-hostgw-vxlan.json")
    samples = list(run.samples)
    samples[0] = samples[0].model_copy(update={"status": "failed", "error": "iperf3: boom"})
    run = run.model_copy(update={"samples": samples, "planned_repetitions": 10, "status": "interrupted"})
    lines = _lines(run)
    first = samples[0]
    assert lines[:2] == ["the run is interrupted", "2 planned repetition(s) did not run"]
    where = f"{first.cni} {first.scenario}"
    assert f"{where}: 1 of 2 repetitions failed (left out)" in lines
    assert f"{where}: only 1 successful repetition(s) (fewer than 3)" in lines


@pytest.mark.parametrize("field", ["client_cpu_percent", "server_cpu_percent"])
def test_a_cpu_warning_names_sender_or_receiver(data_dir, field):
    run = _real(data_dir)
    samples = [s.model_copy(update={field: 97.0}) if s.scenario == "egress" else s for s in run.samples]
    role = "sender" if field == "client_cpu_percent" else "receiver"
    lines = _lines(run.model_copy(update={"samples": samples}), "vxlan", "egress")
    assert (
        f"vxlan egress: iperf3 {role} at 97 % of a core (median of 12): throughput is limited by CPU, including "
        "the datapath's own work" in lines
    )
