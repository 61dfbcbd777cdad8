"""Verdicts within a run, on real runs (tests/data/results) and hand-edited copies of them."""

from __future__ import annotations

import re
import statistics

import pytest

from cnibench.results.model import read_results
from cnibench.results.stats import mann_whitney, min_p_value
from cnibench.results.verdicts import analyse, settings


def _real(data_dir, name="netns-pool-a.json"):
    return read_results(data_dir / "results" / name)


def _scaled(run, cni, trial, field, factor):
    """A copy of a real run whose (cni, trial) samples have ``field`` multiplied by ``factor``."""
    samples = [
        s.model_copy(update={field: getattr(s, field) * factor}) if (s.cni, s.scenario) == (cni, trial) else s
        for s in run.samples
    ]
    return run.model_copy(update={"samples": samples})


def _verdict(analysis, trial, metric):
    return next(v for v in analysis.verdicts if (v.scenario, v.metric.name) == (trial, metric))


def test_winner_follows_the_metrics_direction_and_the_difference_is_the_runner_ups(data_dir):
    analysis = analyse(_real(data_dir))
    throughput = _verdict(analysis, "egress", "throughput_bps")
    medians = {cni: st.median for cni, st in throughput.stats.items()}
    assert throughput.winner == max(medians, key=medians.get)
    latency = _verdict(analysis, "ingress", "latency_p95_ms")
    assert latency.winner == min((st.median, cni) for cni, st in latency.stats.items())[1]
    d = throughput.difference
    assert (d.n_a, d.n_b) == (12, 12) and d.relative
    a = throughput.stats[throughput.winner].values
    b = throughput.stats[throughput.runner_up].values
    assert d.p_value == pytest.approx(mann_whitney(a, b))
    assert d.estimate == pytest.approx(statistics.median(y / x for x in a for y in b))  # Hodges-Lehmann of ratios


def test_the_primary_metrics_are_one_holm_family_and_the_others_another(data_dir):
    analysis = analyse(_real(data_dir))
    primary = [v for v in analysis.verdicts if v.metric.primary]
    assert {(v.scenario, v.metric.name) for v in primary} == {
        ("egress-baseline", "throughput_bps"),
        ("egress", "throughput_bps"),
        ("ingress", "requests_per_s"),
        ("ingress", "latency_p95_ms"),
    }
    raw = sorted(v.difference.p_value for v in primary)
    smallest = min(primary, key=lambda v: v.difference.p_value)
    assert all(v.family == 4 for v in primary)
    assert smallest.p_adjusted == pytest.approx(min(1.0, 4 * raw[0]))  # Holm's first step
    others = [v for v in analysis.verdicts if not v.metric.primary]
    assert others and all(v.family == len(others) for v in others)


def test_nothing_is_highlighted_without_significance(data_dir):
    """The old report crowned a "best" in 10 of 12 rows at p = 1.0."""
    run = _real(data_dir, "netns-hostgw-vxlan.json")  # 2 repetitions a side: nothing can be significant
    analysis = analyse(run)
    assert analysis.verdicts and all(v.highlighted is None and not v.significant for v in analysis.verdicts)
    assert all(v.cannot_be_significant for v in analysis.verdicts)
    line = analysis.headline()[0]
    assert line.startswith("egress-baseline throughput: no clear difference (vxlan is ")
    assert "cannot be significant at 2 vs 2: the smallest possible p is 0.333" in line


def test_a_real_difference_is_significant_and_said_so(data_dir):
    run = _scaled(_real(data_dir), "vxlan", "egress", "throughput_bps", 0.7)  # vxlan's real samples, 30 % lower
    analysis = analyse(run)
    verdict = _verdict(analysis, "egress", "throughput_bps")
    assert verdict.significant and verdict.highlighted == "hostgw"
    line = next(line for line in analysis.headline() if line.startswith("egress throughput:"))
    assert re.fullmatch(
        r"egress throughput: vxlan is \d+\.\d % slower than hostgw \(96 % CI \d+\.\d to \d+\.\d % slower; "
        r"p < 0\.001, < 0\.001 after Holm over 4 tests, n = 12 vs 12\): significant",
        line,
    ), line


def test_a_significant_but_small_difference_is_not_called_one(data_dir):
    run = _real(data_dir)
    # a copy whose egress throughputs are fully separated (p tiny) but only 2 % apart
    samples = []
    for s in run.samples:
        if s.scenario == "egress":
            base = 10e9 if s.cni == "hostgw" else 9.8e9
            s = s.model_copy(update={"throughput_bps": base * (1 + 0.0005 * s.repetition)})
        samples.append(s)
    verdict = _verdict(analyse(run.model_copy(update={"samples": samples})), "egress", "throughput_bps")
    assert verdict.p_adjusted < 0.05 and not verdict.significant and verdict.highlighted is None
    assert "smaller than the minimum effect of 5.0 %" in verdict.note


def test_ties_use_the_exact_permutation_test(data_dir):
    """Whole-microsecond RTTs: [31, 31, 31] vs [39, 39, 39] is p = 0.10 (the normal approximation said 0.047)."""
    run = _real(data_dir, "netns-hostgw-vxlan.json")
    samples = list(run.samples)
    for i, s in enumerate(samples):
        if s.scenario == "egress":
            samples[i] = s.model_copy(update={"rtt_mean_us": 31.0 if s.cni == "hostgw" else 39.0})
    extra = [s.model_copy(update={"repetition": 3}) for s in samples if s.scenario == "egress" and s.repetition == 1]
    run = run.model_copy(update={"samples": samples + extra})
    verdict = _verdict(analyse(run), "egress", "rtt_mean_us")
    assert verdict.difference.p_value == pytest.approx(min_p_value(3, 3)) and not verdict.significant


def test_checks_are_limits_not_contests(data_dir):
    run = _real(data_dir)
    analysis = analyse(run)
    assert not any(v.metric.name in ("jain_fairness", "failed_rate") for v in analysis.verdicts)
    checks = {c.metric.name: c for c in analysis.checks}
    assert checks["jain_fairness"].passed and checks["failed_rate"].passed
    assert checks["jain_fairness"].results["hostgw"].worst == min(
        s.jain_fairness for s in run.samples if (s.cni, s.scenario) == ("hostgw", "ingress")
    )
    failing = [
        s.model_copy(update={"failed_rate": 0.3, "status": "failed"}) if s.cni == "vxlan" and s.repetition <= 2 else s
        for s in run.samples
    ]
    analysis = analyse(run.model_copy(update={"samples": failing}))
    failed = next(c for c in analysis.checks if c.metric.name == "failed_rate")
    assert not failed.passed and failed.results["vxlan"].failing == 2
    assert (
        "check failed: ingress failed requests: hostgw pass (worst 0.00 %, limit 0.00 %), vxlan FAIL in 2 of 12 "
        "(worst 30.00 %, limit 0.00 %)" in analysis.headline()
    )


def test_gateway_cost_from_repetitions_paired_by_number(data_dir):
    run = _real(data_dir)
    analysis = analyse(run)
    ratios = {r.cni: r for r in analysis.ratios}
    assert set(ratios) == {"hostgw", "vxlan"}
    by = {(s.cni, s.scenario, s.repetition): getattr(s, "throughput_bps", None) for s in run.samples}
    expected = [by[("vxlan", "egress", k)] / by[("vxlan", "egress-baseline", k)] for k in range(1, 13)]
    assert ratios["vxlan"].ratio.ratios == pytest.approx(expected)
    assert ratios["vxlan"].ratio.median == pytest.approx(statistics.median(expected))
    line = next(line for line in analysis.headline() if "paired by repetition" in line)
    assert line.startswith("egress / egress-baseline throughput, paired by repetition: hostgw ")
    assert re.search(r"hostgw \d\.\d{3} \(96 % CI \d\.\d{3} to \d\.\d{3}; 12 pairs\): inconclusive", line), line
    # the order the samples are stored in does not matter, only their numbers
    shuffled = run.model_copy(update={"samples": list(reversed(run.samples))})
    assert {r.cni: r.ratio for r in analyse(shuffled).ratios} == {c: r.ratio for c, r in ratios.items()}
    # a failed repetition leaves its pair out
    failed = [
        s.model_copy(update={"status": "failed"}) if (s.cni, s.scenario, s.repetition) == ("vxlan", "egress", 3) else s
        for s in run.samples
    ]
    again = {r.cni: r for r in analyse(run.model_copy(update={"samples": failed})).ratios}
    assert len(again["vxlan"].ratio.ratios) == 11


def test_settings_that_produced_the_numbers(data_dir):
    assert settings(_real(data_dir)) == [
        "egress: tcp, 1 stream(s), 3 s + 1 s warm-up, 12 repetition(s)",
        "ingress: l7 gateway, 3 backends, 10 VUs, 3 s, 12 repetition(s)",
    ]
    run = _real(data_dir)
    with_rounds = run.model_copy(update={"spec": {**run.spec, "rounds": 3}})
    assert settings(with_rounds)[-1] == "rounds: 3"


def test_a_cni_whose_repetitions_all_failed_keeps_its_headline(data_dir):
    run = _real(data_dir)
    failed = [
        s.model_copy(update={"status": "failed", "throughput_bps": None})
        if (s.cni, s.scenario) == ("vxlan", "egress")
        else s
        for s in run.samples
    ]
    line = next(x for x in analyse(run.model_copy(update={"samples": failed})).headline() if x.startswith("egress "))
    assert line.startswith("egress throughput: hostgw ") and line.endswith("; vxlan: no successful repetition")


def _in_rounds(run, per_round=6):
    """A copy of a real run whose repetitions 7-12 are renumbered as repetitions 1-6 of round 2 (samples of schema 7
    record their ``round``; repetition numbers then repeat from one round to the next)."""

    def renumbered(s):
        if s.repetition <= per_round:
            return s.model_copy(update={"round": 1})
        return s.model_copy(update={"round": 2, "repetition": s.repetition - per_round})

    return run.model_copy(update={"samples": [renumbered(s) for s in run.samples]})


def test_egress_and_baseline_pair_by_round_and_repetition(data_dir):
    run = _real(data_dir)
    before = {r.cni: r.ratio for r in analyse(run).ratios}
    rounds = analyse(_in_rounds(run))
    after = {r.cni: r.ratio for r in rounds.ratios}
    # the same 12 pairs (by number alone, round 2's repetition 1 would pair with round 1's: 6 pairs, wrong ones)
    assert {cni: sorted(r.ratios) for cni, r in after.items()} == {cni: sorted(r.ratios) for cni, r in before.items()}
    assert all(len(r.ratios) == 12 for r in after.values())
    assert settings(_in_rounds(run))[-1] == "rounds: 2"
