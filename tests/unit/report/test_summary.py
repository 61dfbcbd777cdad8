from __future__ import annotations

import re
import statistics

from cnibench.report.summary import format_summary
from cnibench.results.model import read_results
from cnibench.scenarios.egress import EGRESS


def _real(data_dir):
    # a results.json written by a real `cnibench run --repeat 2 --duration 2`
    return read_results(data_dir / "results" / "netns-hostgw-vxlan.json")


def test_rows_from_a_real_run(data_dir):
    results = _real(data_dir)
    table = EGRESS.rows(results.samples)
    assert {(r.cni, r.scenario) for r in table} == {
        (c, s) for c in ("hostgw", "vxlan") for s in ("egress", "egress-baseline")
    }
    for row in table:
        mine = [s.throughput_bps for s in results.samples if (s.cni, s.scenario) == (row.cni, row.scenario)]
        assert row.throughput.median == statistics.median(mine)
        assert row.verified == row.total == row.ok


def test_summary_text(data_dir):
    """Status, settings and the headline first; then the tables; the warnings last, each naming what it concerns."""
    results = _real(data_dir)
    lines = format_summary(results, "results/x").splitlines()
    assert lines[0] == "cnibench run 20261126-051618-local on netns: complete, 8/8 repetitions ok"
    assert lines[1] == "settings: egress: tcp, 1 stream(s), 2 s + 2 s warm-up, 2 repetition(s)"
    # one round: one cluster per CNI, nothing testable, and said so
    assert lines[2] == (
        "egress-baseline throughput: inconclusive: vxlan 13.97 vs hostgw 14.70 Gbit/s (1 vs 1 cluster(s): no "
        "variance between clusters to test)"
    )
    assert lines[3].startswith("egress throughput: inconclusive: vxlan 12.17 vs hostgw 15.02 Gbit/s")
    assert lines[4].startswith("egress / egress-baseline throughput, per cluster: hostgw 1.02")
    assert lines[5].startswith("cni ") and "source IP" in lines[5]
    text = "\n".join(lines)
    assert "2/2 egress IP" in text and "2/2 node IP" in text
    assert "warning: vxlan egress: only 2 successful repetition(s) (fewer than 3)" in lines
    assert lines[-1] == "results: results/x"


def test_a_real_difference_leads_the_summary(data_dir):
    results = read_results(data_dir / "results" / "netns-default.json")
    samples = [
        s.model_copy(update={"throughput_bps": s.throughput_bps * 0.3})
        if (s.cni, s.scenario) == ("vxlan", "egress")
        else s
        for s in results.samples
    ]
    lines = format_summary(results.model_copy(update={"samples": samples}), "r").splitlines()
    assert re.fullmatch(
        r"egress throughput: different: vxlan is \d+\.\d % slower than hostgw \(95 % CI \d+\.\d to \d+\.\d % slower; "
        r"p (< 0\.001|= 0\.0\d\d) adjusted over 4 tests; 6 vs 6 clusters, paired by round\)",
        lines[3],
    ), lines[3]


def test_failed_and_unstable_repetitions_are_reported(data_dir):
    results = _real(data_dir)
    samples = list(results.samples)
    first = samples[0]
    samples[0] = first.model_copy(update={"status": "failed", "error": "iperf3: boom", "source_ip_ok": None})
    samples[1] = samples[1].model_copy(update={"throughput_bps": samples[1].throughput_bps * 3})
    samples.append(samples[1].model_copy(update={"repetition": 3, "throughput_bps": samples[1].throughput_bps / 9}))
    text = format_summary(results.model_copy(update={"samples": samples}), "r")
    assert f"failed: {first.cni} {first.scenario} rep 1: iperf3: boom" in text
    assert "1 of 3 repetitions failed" in text
    assert "varies by" in text and " !" in text


def test_repetitions_that_did_not_run_are_counted(data_dir):
    results = _real(data_dir).model_copy(update={"planned_repetitions": 12, "status": "interrupted"})
    assert "interrupted, 8/12 repetitions ok (4 did not run)" in format_summary(results, "r")


def test_ingress_table_from_a_real_run(data_dir):
    results = read_results(data_dir / "results" / "netns-ingress-l7.json")
    text = format_summary(results, "r")
    header = next(line for line in text.splitlines() if line.startswith("cni") and "req/s" in line)
    assert {"p95 ms", "p99 ms", "failed %", "fairness", "backends"} <= set(header.split("  ")) | {
        part.strip() for part in header.split("  ")
    }
    for cni in ("hostgw", "vxlan"):
        rps = sorted(s.requests_per_s for s in results.samples if s.cni == cni)
        row = next(line for line in text.splitlines() if line.startswith(cni))
        assert f"{statistics.median(rps):.0f}" in row and "3/3" in row and "l7" in row


def test_summary_says_how_long_each_cni_took_to_realise_the_egress_policy(data_dir):
    results = _real(data_dir)
    assert "egress policy realised" not in format_summary(results, "results/x")  # netns applies it instantly
    samples = [
        s.model_copy(update={"egress_apply_s": 2.25 if s.cni == "hostgw" else 0.5}) if s.scenario == "egress" else s
        for s in results.samples
    ]
    text = format_summary(results.model_copy(update={"samples": samples}), "results/x")
    assert "egress policy realised (server saw the egress IP) after: hostgw 2.2 s, vxlan 0.5 s" in text
