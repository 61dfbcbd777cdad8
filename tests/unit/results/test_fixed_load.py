"""Fixed loads in the verdicts, ``compare`` and the report, on a real run (tests/data/results/netns-fixed-load.json:
examples/fixed-load.yaml on netns, hostgw and vxlan, egress at 3 bit rates and ingress at 3 request rates, 4
repetitions per CNI and rate)."""

from __future__ import annotations

import pytest

from cnibench.report import document
from cnibench.results.analysis import groups
from cnibench.results.compare import compare
from cnibench.results.model import read_results
from cnibench.results.verdicts import analyse
from cnibench.scenarios import trials_in


@pytest.fixture
def run(data_dir):
    return read_results(data_dir / "results" / "netns-fixed-load.json")


def test_each_load_is_a_trial_in_load_order(run):
    assert trials_in(g.scenario for g in groups([run])) == [
        "egress-baseline@500M", "egress@500M", "egress-baseline@2G", "egress@2G", "egress-baseline@4G", "egress@4G",
        "ingress@300rps", "ingress@1000rps", "ingress@2000rps",
    ]  # fmt: skip


def test_verdicts_lead_with_latency_and_cost_at_each_load(run):
    analysis = analyse(run)
    primary = {(v.scenario, v.metric.name) for v in analysis.verdicts if v.metric.primary}
    assert ("egress@2G", "rtt_mean_us") in primary and ("egress@2G", "cpu_s_per_gbit") in primary
    assert ("ingress@1000rps", "latency_p99_ms") in primary
    assert ("ingress@1000rps", "cpu_s_per_1k_requests") in primary
    checks = {(c.scenario, c.metric.name) for c in analysis.checks}
    assert ("egress@4G", "achieved_fraction") in checks and ("ingress@2000rps", "achieved_fraction") in checks
    # the paired ratio of a load's trial over its baseline at the same load
    assert {r.scenario for r in analysis.ratios} >= {"egress@500M", "egress@2G", "egress@4G"}


def test_compare_gates_on_the_fixed_load_metrics(run):
    result = compare(run, run)
    assert {"rtt_mean_us", "cpu_s_per_gbit", "latency_p99_ms", "cpu_s_per_1k_requests"} <= set(result.gated)
    assert "throughput_bps" not in result.gated  # at a fixed load the throughput is the offered one
    gated = {(c.scenario, c.metric.name) for c in result.changes if c.gated}
    assert ("egress@2G", "rtt_mean_us") in gated and ("ingress@300rps", "latency_p99_ms") in gated


def test_compare_fails_a_load_that_stopped_being_sustained(run):
    """A check regression needs no significance: B's vxlan egress@2G repetitions carried 60 % of the offered rate."""
    samples = [
        s.model_copy(update={"achieved_fraction": 0.6, "sustained": False})
        if (s.cni, s.scenario) == ("vxlan", "egress@2G") else s
        for s in run.samples
    ]  # fmt: skip
    result = compare(run, run.model_copy(update={"samples": samples}))
    assert result.exit_code == 1
    assert any(
        r.scenario == "egress@2G" and r.cni == "vxlan" and r.metric == "achieved_fraction" for r in result.regressions
    )


def test_the_report_has_the_latency_curve_and_the_cost_table(run):
    report = document.build([run], [None])
    assert "TCP round-trip time vs offered load" in report.html
    assert "Ingress p99 latency vs offered load" in report.html
    assert "## CPU cost per unit of work" in report.markdown
    assert "| hostgw | egress@2G | CPU s per Gbit |" in report.markdown.replace(f"| {run.run_id} ", "")
    assert "this machine's CPU" in report.markdown


def test_the_summary_names_the_unsustained_repetitions_and_the_costs(run):
    from cnibench.report.summary import format_summary

    text = format_summary(run, "x", columns=400)  # the content, on one line each
    assert "vxlan egress@4G: 1 repetition(s) did not sustain the offered 4G bit/s within 5% (achieved 85.7%)" in text
    assert "hostgw ingress@2000rps: 1 repetition(s) did not sustain the offered 2000 req/s within 5%" in text
    assert "CPU s per Gbit (median)" in text and "CPU s per 1k req (median)" in text
    assert "4/4 egress IP" in text  # the policy's trials at every load are verified against the egress IP


def test_a_cost_compared_in_its_unit_says_which_way(run):
    """Where a relative change does not exist (a cost's median difference is judged in s/Gbit), the headline still
    says the direction: "vxlan is 0.048 s/Gbit costlier than hostgw", not "vxlan is +0.048 s/Gbit than hostgw"."""
    import re

    lines = [line for v in analyse(run).verdicts if v.metric.name.startswith("cpu_s_per") for line in v.headline()]
    stated = [line for line in lines if " is " in line]
    assert stated, lines
    for line in stated:
        assert re.search(r" is (\d+\.\d+ s/(Gbit|1k req)|\d+\.\d % ) ?(costlier|cheaper) than ", line), line
    assert not any(re.search(r" is [+-]\d", line) for line in lines)


def test_east_west_at_fixed_loads_leads_with_latency_and_cost_and_draws_its_curve(data_dir):
    """A real east-west run at 2 rates (tests/data/results/netns-east-west-rate.json): each rate a trial, RTT
    under load and CPU s per Gbit primary, achieved/offered checked, the curve and the cost table in the report."""
    ew = read_results(data_dir / "results" / "netns-east-west-rate.json")
    assert trials_in(g.scenario for g in groups([ew])) == [
        "pod-to-pod.cross-node.tcp-single@500M",
        "pod-to-pod.cross-node.tcp-single@2G",
    ]
    analysis = analyse(ew)
    primary = {(v.scenario, v.metric.name) for v in analysis.verdicts if v.metric.primary}
    for trial in ("pod-to-pod.cross-node.tcp-single@500M", "pod-to-pod.cross-node.tcp-single@2G"):
        assert {(trial, "rtt_mean_us"), (trial, "cpu_s_per_gbit")} <= primary
        assert (trial, "achieved_fraction") in {(c.scenario, c.metric.name) for c in analysis.checks}
    report = document.build([ew], [None])
    assert "East-west TCP round-trip time vs offered load" in report.html
    assert "| hostgw | pod-to-pod.cross-node.tcp-single@2G | CPU s per Gbit |" in report.markdown.replace(
        f"| {ew.run_id} ", ""
    )
