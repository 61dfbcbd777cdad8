"""The verdicts' and ``compare``'s error rates and power, measured by simulation through the real code paths
(``analyse()``, ``compare()``, ``compare_history()``) on runs built from a real run's samples with simulated values.

The noise model (log-normal, as throughputs and latencies are): a value is ``true * exp(round + cluster + rep)``
with independent normal effects whose standard deviations are the log-normal's for the stated coefficients of
variation, written ``within / between clusters / between rounds`` (``10/5/5``: cv 10 % between repetitions of one
cluster, 5 % between clusters of one round, 5 % between rounds, the round shared by both CNIs). The seeds are fixed,
so each figure is reproducible; the bounds allow two binomial standard errors of simulation error.

Run with ``-s`` to see the figures (the README quotes them)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cnibench.results.compare import compare, compare_history
from cnibench.results.inference import estimate, judge
from cnibench.results.model import read_results
from cnibench.results.verdicts import analyse

PRIMARY = {"egress-baseline": ("throughput_bps",), "egress": ("throughput_bps",),
           "ingress": ("requests_per_s", "latency_p95_ms")}  # fmt: skip
NOISE = {"10/5/5": (0.10, 0.05, 0.05), "20/10/10": (0.20, 0.10, 0.10)}
DESIGNS = {"default 6x1": (6, 1), "3x1": (3, 1)}


def _sd(cv: float) -> float:
    return math.sqrt(math.log(1 + cv * cv))


@pytest.fixture(scope="module")
def template(data_dir_module):
    run = read_results(data_dir_module / "results" / "netns-pool-a.json")
    first = {}
    for sample in run.samples:
        first.setdefault((sample.cni, sample.scenario), sample)
    return run, first


@pytest.fixture(scope="module")
def data_dir_module():
    from pathlib import Path

    return Path(__file__).resolve().parents[2] / "data"


def _run(template, rng, rounds, reps, noise, effect=None, run_id="sim"):
    """A run of ``rounds`` x ``reps`` per CNI and trial: every primary metric drawn from the noise model around the
    template's first sample's value (vxlan's scaled by ``effect[(trial, metric)]``, default 1)."""
    run, first = template
    within, cluster, round_ = (_sd(c) for c in noise)
    samples = []
    for trial, metrics in PRIMARY.items():
        round_effects = {m: rng.normal(0, round_, rounds) for m in metrics}
        for cni in ("hostgw", "vxlan"):
            base = first[(cni, trial)]
            for r in range(rounds):
                cluster_effects = {m: rng.normal(0, cluster) for m in metrics}
                for k in range(reps):
                    update = {"round": r + 1, "repetition": r * reps + k + 1}
                    for m in metrics:
                        true = getattr(first[("hostgw", trial)], m)
                        if cni == "vxlan" and effect:
                            true *= effect.get((trial, m), 1.0)
                        update[m] = true * math.exp(round_effects[m][r] + cluster_effects[m] + rng.normal(0, within))
                    samples.append(base.model_copy(update=update))
    spec = dict(run.spec, rounds=rounds)
    return run.model_copy(update={"samples": samples, "run_id": run_id, "spec": spec,
                                  "planned_repetitions": len(samples)})  # fmt: skip


def _any_primary_different(analysis) -> bool:
    return any(j.outcome == "different" for v in analysis.verdicts if v.metric.primary for j in v.judgements.values())


def _bound(rate: float, n: int) -> float:
    return rate + 2 * math.sqrt(rate * (1 - rate) / n)


@pytest.mark.parametrize("noise", NOISE)
@pytest.mark.parametrize("design", DESIGNS)
def test_false_different_at_most_5_percent_for_the_verdicts_and_compare(template, noise, design):
    """No true difference: the share of simulated runs with any primary verdict "different" (the family-wise error
    the headline promises), and of compare A B with any gated regression or "different"."""
    rng = np.random.default_rng([20261207, list(NOISE).index(noise), list(DESIGNS).index(design)])
    rounds, reps = DESIGNS[design]
    n = 300
    verdict_alarms = compare_alarms = 0
    for i in range(n):
        a = _run(template, rng, rounds, reps, NOISE[noise], run_id=f"a{i}")
        verdict_alarms += _any_primary_different(analyse(a))
        b = _run(template, rng, rounds, reps, NOISE[noise], run_id=f"b{i}")
        result = compare(a, b)
        compare_alarms += any(c.gated and c.judgement and c.judgement.outcome == "different" for c in result.changes)
    print(f"\n{design}, noise {noise}: false 'different' {verdict_alarms / n:.1%} of runs (verdicts), "
          f"{compare_alarms / n:.1%} of pairs (compare)")  # fmt: skip
    assert verdict_alarms / n <= _bound(0.05, n)
    assert compare_alarms / n <= _bound(0.05, n)


@pytest.mark.parametrize("noise", NOISE)
def test_power_for_10_and_20_percent_is_printed_and_grows_with_the_effect(template, noise):
    rng = np.random.default_rng([7, list(NOISE).index(noise)])
    rounds, reps = DESIGNS["default 6x1"]
    found = {}
    for slower in (0.10, 0.20, 0.30):
        n, hits = 150, 0
        for _ in range(n):
            run = _run(template, rng, rounds, reps, NOISE[noise], {("egress", "throughput_bps"): 1 - slower})
            verdict = next(v for v in analyse(run).verdicts if (v.scenario, v.metric.name) == ("egress",
                           "throughput_bps"))  # fmt: skip
            hits += verdict.judgements["vxlan"].outcome == "different"
        found[slower] = hits / n
    print(f"\ndefault 6x1, noise {noise}: power (egress throughput, 4 primary comparisons): "
          + ", ".join(f"{k:.0%} slower: {v:.0%}" for k, v in found.items()))  # fmt: skip
    assert found[0.10] <= found[0.20] <= found[0.30]
    assert found[0.30] > found[0.10]


def test_three_clusters_one_measurement_each_find_30_percent_at_cv_10_percent():
    """A family of one test, 3 clusters a side, cv 10 %: a CNI 30 % slower comes out "different" in at least 80 %
    of runs (a rank test never can: its smallest two-sided p at 3 vs 3 is 0.10)."""
    rng = np.random.default_rng(3)
    sd = _sd(0.10)
    n, hits, hits_up = 2000, 0, 0
    for _ in range(n):
        ref = {r: rng.normal(0, sd) for r in (1, 2, 3)}
        other = {r: math.log(0.7) + rng.normal(0, sd) for r in (1, 2, 3)}
        hits += judge([estimate(ref, other, "log")])[0].outcome == "different"
        up = {r: math.log(1.3) + rng.normal(0, sd) for r in (1, 2, 3)}
        hits_up += judge([estimate(ref, up, "log")])[0].outcome == "different"
    print(f"\n3x1, cv 10 %: 30 % slower (ratio 0.70) found different in {hits / n:.1%}; 30 % faster (ratio 1.30) in "
          f"{hits_up / n:.1%}")  # fmt: skip
    assert hits / n >= 0.80


def test_a_tiny_difference_with_small_noise_comes_out_equivalent():
    """0.2 % apart at a cv of 0.5 %, 3 clusters a side: equivalent within ±5 %."""
    rng = np.random.default_rng(4)
    sd = _sd(0.005)
    n = 1000
    outcomes = []
    for _ in range(n):
        ref = {r: rng.normal(0, sd) for r in (1, 2, 3)}
        other = {r: math.log(1.002) + rng.normal(0, sd) for r in (1, 2, 3)}
        outcomes.append(judge([estimate(ref, other, "log")])[0].outcome)
    share = outcomes.count("equivalent") / n
    print(f"\n3x1, cv 0.5 %, 0.2 % apart: equivalent within ±5 % in {share:.1%}")
    assert share >= 0.95


def test_equivalent_is_reached_through_analyse_when_nothing_differs_and_the_noise_is_small(template):
    rng = np.random.default_rng(5)
    run = _run(template, rng, 6, 1, (0.005, 0.002, 0.002))
    outcomes = {j.outcome for v in analyse(run).verdicts if v.metric.primary for j in v.judgements.values()}
    assert outcomes == {"equivalent"}


def test_history_false_alarms_at_most_5_percent_and_it_sees_a_shift(template):
    """``compare --history 5``: a run judged against 5 earlier runs of the same spec, no true change; then a run
    whose vxlan egress is 40 % slower."""
    rng = np.random.default_rng(6)
    n, alarms, found = 120, 0, 0
    for i in range(n):
        history = [_run(template, rng, 6, 1, NOISE["10/5/5"], run_id=f"h{i}-{k}") for k in range(5)]
        same = _run(template, rng, 6, 1, NOISE["10/5/5"], run_id=f"n{i}")
        alarms += bool(compare_history(history, same).regressions)
        slower = _run(template, rng, 6, 1, NOISE["10/5/5"], {("egress", "throughput_bps"): 0.6}, run_id=f"s{i}")
        found += any(r.cni == "vxlan" and r.scenario == "egress" for r in compare_history(history, slower).regressions)
    print(f"\n--history 5, noise 10/5/5: false alarms {alarms / n:.1%}; 40 % slower found in {found / n:.1%}")
    assert alarms / n <= _bound(0.05, n)
    assert found / n >= 0.5
