"""Verdicts within a run, with the cluster as the unit: on real runs (tests/data/results: the default 6 rounds x 1
repetition, and the 12-repetition one-round pool run) and hand-edited copies of them."""

from __future__ import annotations

import math
import statistics

import pytest
from scipy import stats as scipy_stats

from cnibench.results.analysis import groups
from cnibench.results.group import by_round
from cnibench.results.model import read_results
from cnibench.results.verdicts import analyse, settings
from cnibench.scenarios import metric_named


def _real(data_dir, name="netns-default.json"):
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


def _logs_by_round(run, cni, trial, field):
    group = next(g for g in groups([run]) if (g.cni, g.scenario) == (cni, trial))
    return {r: statistics.fmean(math.log(v) for v in vs) for r, vs in by_round(group, metric_named(field)).items()}


def test_six_rounds_pair_by_round_and_match_scipys_paired_t(data_dir):
    run = _real(data_dir)
    analysis = analyse(run)
    verdict = _verdict(analysis, "egress", "throughput_bps")
    j = verdict.judgements["vxlan"]
    ref = _logs_by_round(run, "hostgw", "egress", "throughput_bps")
    other = _logs_by_round(run, "vxlan", "egress", "throughput_bps")
    assert len(ref) == len(other) == 6
    rounds = sorted(ref)
    expected = scipy_stats.ttest_rel([other[r] for r in rounds], [ref[r] for r in rounds])
    assert j.estimate.design == "paired by round" and j.estimate.df == 5
    assert j.ratio == pytest.approx(math.exp(statistics.fmean(other[r] - ref[r] for r in rounds)))
    assert j.family == 4 and j.p_adjusted == pytest.approx(min(1.0, 4 * expected.pvalue))
    # the interval: Student's at 1 - 0.05 / 4 (Bonferroni), the outcome read off it
    ci = expected.confidence_interval(confidence_level=1 - 0.05 / 4)
    assert j.ci == pytest.approx((math.exp(ci.low), math.exp(ci.high)))
    assert (j.outcome == "different") == (not ci.low <= 0 <= ci.high) or j.outcome == "equivalent"


def test_fewer_than_5_rounds_use_the_pooled_t_on_the_clusters(data_dir):
    run = _real(data_dir)
    three = run.model_copy(update={"samples": [s for s in run.samples if s.round <= 3]})
    j = _verdict(analyse(three), "ingress", "requests_per_s").judgements["vxlan"]
    ref = _logs_by_round(three, "hostgw", "ingress", "requests_per_s")
    other = _logs_by_round(three, "vxlan", "ingress", "requests_per_s")
    expected = scipy_stats.ttest_ind(list(other.values()), list(ref.values()))
    assert j.estimate.design == "unpaired" and j.estimate.df == 4
    assert j.p_adjusted == pytest.approx(min(1.0, 4 * expected.pvalue))


def test_a_real_difference_is_different_and_highlighted(data_dir):
    run = _scaled(_real(data_dir), "vxlan", "egress", "throughput_bps", 0.5)  # vxlan's real samples, halved
    analysis = analyse(run)
    verdict = _verdict(analysis, "egress", "throughput_bps")
    assert verdict.judgements["vxlan"].outcome == "different" and verdict.highlighted == {"hostgw"}
    line = next(line for line in analysis.headline() if line.startswith("egress throughput:"))
    assert line.startswith("egress throughput: different: vxlan is ") and "slower than hostgw (95 % CI " in line
    assert "6 vs 6 clusters, paired by round" in line


def test_the_same_values_a_hair_apart_are_equivalent(data_dir):
    run = _real(data_dir)
    hostgw = {(s.scenario, s.round): s for s in run.samples if s.cni == "hostgw"}
    copied = [
        s.model_copy(
            update={"throughput_bps": hostgw[(s.scenario, s.round)].throughput_bps * (1.002 + 0.0001 * s.round)}
        )
        if s.cni == "vxlan" and s.scenario == "egress"
        else s
        for s in run.samples
    ]
    analysis = analyse(run.model_copy(update={"samples": copied}))
    j = _verdict(analysis, "egress", "throughput_bps").judgements["vxlan"]
    assert j.outcome == "equivalent" and 1.002 < j.ratio < 1.003
    line = next(line for line in analysis.headline() if line.startswith("egress throughput:"))
    assert line.startswith("egress throughput: equivalent within ±5 %: vxlan is 0.2 % faster than hostgw")


def test_inconclusive_says_what_the_design_could_detect(data_dir):
    analysis = analyse(_real(data_dir))
    inconclusive = [
        v for v in analysis.verdicts if v.metric.primary and v.judgements["vxlan"].outcome == "inconclusive"
    ]
    for v in inconclusive:
        j = v.judgements["vxlan"]
        assert j.mde is not None and j.mde > 0
        assert "this design detects" in v.sentence("vxlan")


def test_one_cluster_per_cni_is_never_tested(data_dir):
    """The pool run: 12 repetitions on one cluster per CNI, which the old verdicts counted as 12 independent values."""
    analysis = analyse(_real(data_dir, "netns-pool-a.json"))
    primary = [v for v in analysis.verdicts if v.metric.primary]
    assert primary and all(v.judgements["vxlan"].outcome == "inconclusive" for v in primary)
    assert all("no variance between clusters" in v.judgements["vxlan"].why for v in primary)
    assert all(not v.highlighted for v in analysis.verdicts)


def test_the_reference_comes_from_the_spec_and_every_cni_is_compared_with_it(data_dir):
    run = _real(data_dir)
    flipped = run.model_copy(update={"spec": {**run.spec, "reference": "vxlan"}})
    j = _verdict(analyse(flipped), "egress", "throughput_bps").judgements["hostgw"]
    back = _verdict(analyse(run), "egress", "throughput_bps").judgements["vxlan"]
    assert j.ratio == pytest.approx(1 / back.ratio)
    # a third CNI (hostgw's samples under another name): two comparisons per metric, one family of 8
    third = [s.model_copy(update={"cni": "hostgw-copy"}) for s in run.samples if s.cni == "hostgw"]
    analysis = analyse(run.model_copy(update={"samples": run.samples + third}))
    verdict = _verdict(analysis, "egress", "throughput_bps")
    assert set(verdict.judgements) == {"vxlan", "hostgw-copy"}
    assert verdict.judgements["hostgw-copy"].outcome == "equivalent" and verdict.judgements["hostgw-copy"].family == 8


def test_checks_are_limits_not_contests(data_dir):
    run = _real(data_dir)
    analysis = analyse(run)
    assert not any(v.metric.name in ("jain_fairness", "failed_rate") for v in analysis.verdicts)
    checks = {c.metric.name: c for c in analysis.checks}
    assert checks["jain_fairness"].passed and checks["failed_rate"].passed
    failing = [
        s.model_copy(update={"failed_rate": 0.3, "status": "failed"})
        if s.cni == "vxlan" and s.scenario == "ingress" and s.round <= 2
        else s
        for s in run.samples
    ]
    analysis = analyse(run.model_copy(update={"samples": failing}))
    failed = next(c for c in analysis.checks if c.metric.name == "failed_rate")
    assert not failed.passed and failed.results["vxlan"].failing == 2
    assert any(line.startswith("check failed: ingress failed requests: hostgw pass") for line in analysis.headline())


def test_the_policys_cost_is_per_cluster_and_compared_between_cnis(data_dir):
    run = _real(data_dir)
    analysis = analyse(run)
    ratios = {r.cni: r for r in analysis.ratios}
    assert set(ratios) == {"hostgw", "vxlan"}
    with_policy = _logs_by_round(run, "vxlan", "egress", "throughput_bps")
    baseline = _logs_by_round(run, "vxlan", "egress-baseline", "throughput_bps")
    logs = [with_policy[r] - baseline[r] for r in sorted(with_policy)]
    assert ratios["vxlan"].cluster_ratios == pytest.approx([math.exp(v) for v in logs])
    assert ratios["vxlan"].judgement.ratio == pytest.approx(math.exp(statistics.fmean(logs)))
    expected = scipy_stats.ttest_1samp(logs, 0.0)
    family = ratios["vxlan"].judgement.family
    assert family == 3 and ratios["vxlan"].judgement.p_adjusted == pytest.approx(min(1.0, family * expected.pvalue))
    [contrast] = analysis.contrasts
    assert (contrast.reference, contrast.cni) == ("hostgw", "vxlan")
    line = next(line for line in analysis.headline() if ", per cluster: " in line)
    assert line.startswith("egress / egress-baseline throughput, per cluster: hostgw ")
    assert "vxlan's egress cost vs hostgw's: " in line


def test_settings_that_produced_the_numbers(data_dir):
    assert settings(_real(data_dir))[-1] == "rounds: 6"
    assert settings(_real(data_dir, "netns-pool-a.json")) == [
        "egress: tcp, 1 stream(s), 3 s + 1 s warm-up, 12 repetition(s)",
        "ingress: l7 gateway, 3 backends, 10 VUs, 3 s, 12 repetition(s)",
    ]


def test_a_cni_whose_repetitions_all_failed_keeps_its_headline(data_dir):
    run = _real(data_dir)
    failed = [
        s.model_copy(update={"status": "failed", "throughput_bps": None})
        if (s.cni, s.scenario) == ("vxlan", "egress")
        else s
        for s in run.samples
    ]
    line = next(x for x in analyse(run.model_copy(update={"samples": failed})).headline() if x.startswith("egress "))
    assert line == "egress throughput: inconclusive: vxlan vs hostgw: no successful cluster on one side"


def test_a_log_interval_past_the_largest_float_is_an_unbounded_ratio_not_a_crash():
    """Two clusters whose log ratios differ by orders of magnitude (a CPU cost near zero), judged in a family of 70:
    t(1 df) at 0.05 / 70 is about 900, so the interval's upper end is exp(>709): infinite, inconclusive."""
    import math

    from cnibench.results.inference import judge, one_sample

    [j] = judge([one_sample([-4.0, 4.0], "log")] * 1 + [one_sample([0.0, 0.1], "log")] * 69)[:1]
    assert j.outcome == "inconclusive" and j.ci is not None and math.isinf(j.ci[1]) and j.ci[0] == 0.0
