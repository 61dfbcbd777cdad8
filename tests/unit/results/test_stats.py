from __future__ import annotations

import statistics

import pytest

from cnibench.results.stats import summarize


def test_summary_matches_the_standard_library():
    data = [13.1, 12.7, 14.2, 13.9, 12.2]
    s = summarize(data)
    assert s is not None
    assert s.n == 5
    assert s.median == statistics.median(data)
    assert s.mean == pytest.approx(statistics.fmean(data))
    assert s.stdev == pytest.approx(statistics.stdev(data))
    assert (s.minimum, s.maximum) == (12.2, 14.2)
    assert s.cv == pytest.approx(statistics.stdev(data) / statistics.fmean(data))
    assert not s.unstable


def test_unstable_at_ten_percent():
    assert summarize([10.0, 12.0, 8.0]).unstable  # stdev 2.0 / mean 10.0 = 20%
    assert not summarize([10.0, 10.1, 9.9]).unstable


def test_edge_cases():
    assert summarize([]) is None
    one = summarize([5.0])
    assert one.stdev == 0.0 and one.cv is None and not one.unstable


def test_jain_fairness_and_max_min():
    from cnibench.results.stats import jain_fairness, max_min_ratio

    assert jain_fairness([5, 5, 5]) == 1.0
    assert jain_fairness([9, 0, 0]) == pytest.approx(1 / 3)
    assert jain_fairness([3, 1]) == pytest.approx(16 / 20)
    assert jain_fairness([0, 0]) is None and jain_fairness([]) is None
    assert max_min_ratio([4, 2, 3]) == 2.0
    assert max_min_ratio([4, 0]) is None and max_min_ratio([]) is None


def test_mann_whitney_against_exact_values():
    from scipy.stats import mannwhitneyu

    from cnibench.results.stats import mann_whitney

    # fully separated 3 vs 3: the exact two-sided p is 2/20, the one-sided 1/20
    assert mann_whitney([1, 2, 3], [4, 5, 6]) == pytest.approx(0.1)
    assert mann_whitney([1, 2, 3], [4, 5, 6], alternative="less") == pytest.approx(0.05)
    a, b = [10.1, 10.4, 9.8, 10.0, 10.3], [9.1, 9.4, 9.0, 9.6, 9.2]
    assert mann_whitney(a, b) == pytest.approx(mannwhitneyu(a, b).pvalue)
    assert mann_whitney([1.0], [2.0, 3.0]) is None


def test_metric_stats_warnings():
    from cnibench.results.stats import metric_stats

    stats = metric_stats([10.0, 14.0], failed=1)
    warnings = " ".join(stats.warnings())
    assert "stdev is 24% of the mean" in warnings  # 2.83 / 12
    assert "only 2 successful" in warnings and "1 failed" in warnings
    assert metric_stats([10.0, 10.1, 9.9]).warnings() == []
    # pyperf's outlier check: the minimum or the maximum 50 % or more away from the mean
    outlier = metric_stats([10.0, 10.0, 10.0, 10.0, 30.0])  # mean 14: the maximum is 114 % above it
    assert "the maximum is 114% above the mean (>= 50%)" in outlier.stability_warnings()
    assert not any("minimum" in w for w in outlier.stability_warnings())  # 10 is 29 % below
    assert "the minimum is 67% below the mean (>= 50%)" in metric_stats([1.0, 4.0, 4.0]).stability_warnings()


def test_metric_stats_interval_is_the_exact_one_with_its_level():
    from cnibench.results.stats import median_interval, metric_stats

    values = [13.1, 12.7, 14.2]
    assert metric_stats(values).ci == median_interval(values)
    assert metric_stats(values).ci.level == 0.75  # not a "95 %" bootstrap


# ---- exact inference ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", range(6, 41))
def test_median_interval_is_scipys_order_statistic_interval(n):
    import numpy as np
    from scipy.stats import quantile_test

    from cnibench.results.stats import median_interval

    data = np.random.default_rng(n).normal(10.0, 1.0, n)
    ours = median_interval(data)
    theirs = quantile_test(data, q=float(np.median(data)), p=0.5).confidence_interval(0.95)
    assert (ours.low, ours.high) == (theirs.low, theirs.high)
    assert ours.level >= 0.95


@pytest.mark.parametrize(("n", "level"), [(2, 0.5), (3, 0.75), (4, 0.875), (5, 0.9375)])
def test_median_interval_below_the_asked_level_says_its_real_level(n, level):
    """[min, max] of n values covers the median with probability 1 - 2 * 0.5**n: 75 % at n = 3, not 95 %."""
    from cnibench.results.stats import median_interval

    interval = median_interval([float(v) for v in range(n)])
    assert (interval.low, interval.high, interval.level) == (0.0, n - 1.0, level)
    assert interval.describe() == f"[0, {n - 1}], {level:.0%}"


def _brute_force_p(a, b, alternative):
    """Every split of the pooled values into |a| and |b|: the share whose U is as extreme as the observed one
    (two-sided: twice the smaller one-sided p, capped at 1, the convention for a permutation distribution that ties
    can make asymmetric)."""
    if alternative == "two-sided":
        return min(1.0, 2 * min(_brute_force_p(a, b, "less"), _brute_force_p(a, b, "greater")))
    from itertools import combinations

    pooled = [*a, *b]

    def u(x, y):
        return sum(1.0 if xi > yi else 0.5 if xi == yi else 0.0 for xi in x for yi in y)

    observed = u(a, b)
    splits = list(combinations(range(len(pooled)), len(a)))
    count = 0
    for chosen in splits:
        x = [pooled[i] for i in chosen]
        y = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        value = u(x, y)
        if alternative == "less":
            count += value <= observed + 1e-9
        else:
            count += value >= observed - 1e-9
    return count / len(splits)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ([31, 31, 31], [39, 39, 39]),  # whole microseconds: the normal approximation said 0.047
        ([61, 63, 63, 66, 70], [63, 70, 72, 72, 75]),
        ([1, 1, 2, 2, 3, 3], [2, 3, 3, 4, 4, 5]),
        ([0, 0, 0, 1], [0, 1, 1, 1, 2]),
    ],
)
@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
def test_mann_whitney_with_ties_is_the_brute_force_permutation_p(a, b, alternative):
    from cnibench.results.stats import mann_whitney

    assert mann_whitney(a, b, alternative) == pytest.approx(_brute_force_p(a, b, alternative))


def test_smallest_achievable_p():
    from cnibench.results.stats import mann_whitney, min_p_value

    assert min_p_value(3, 3) == pytest.approx(0.10)
    assert min_p_value(5, 5) == pytest.approx(2 / 252)
    assert min_p_value(3, 3, "less") == pytest.approx(0.05)
    assert mann_whitney([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]) == pytest.approx(min_p_value(5, 5))


def test_holm_and_benjamini_hochberg():
    from cnibench.results.stats import benjamini_hochberg, holm

    p = [0.01, 0.04, 0.03, 0.5]
    assert holm(p) == pytest.approx([0.04, 0.09, 0.09, 0.5])  # 4 x 0.01, max(3 x 0.03, 0.04), 2 x 0.04, 0.5
    assert benjamini_hochberg(p) == pytest.approx([0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5])
    assert holm([]) == [] and benjamini_hochberg([]) == []


# ---- differences between samples -----------------------------------------------------------------------------


def _brute_force_u_counts(m, n):
    from itertools import combinations

    counts = [0] * (m * n + 1)
    for chosen in combinations(range(m + n), m):  # ranks of the first sample among m + n distinct values
        counts[sum(1 for i in chosen for j in range(m + n) if j not in chosen and i > j)] += 1
    return counts


@pytest.mark.parametrize(("m", "n"), [(1, 1), (2, 3), (3, 3), (4, 5), (5, 5), (2, 7)])
def test_u_distribution_is_every_arrangement_counted(m, n):
    from cnibench.results.stats import u_counts

    assert u_counts(m, n) == _brute_force_u_counts(m, n)


def test_moses_interval_inverts_the_exact_mann_whitney_test():
    """The interval excludes "no difference" exactly when scipy's exact two-sided p is at most 1 - its level."""
    import numpy as np
    from scipy.stats import mannwhitneyu

    from cnibench.results.stats import shift

    rng = np.random.default_rng(15)
    checked = 0
    for _ in range(200):
        m, n = (int(v) for v in rng.integers(3, 10, 2))
        a, b = rng.normal(10.0, 1.0, m), rng.normal(10.0 + rng.uniform(0, 2), 1.0, n)
        d = shift(a, b)
        p = mannwhitneyu(a, b, method="exact").pvalue
        assert d.p_value == pytest.approx(p)
        assert (not d.low <= 1.0 <= d.high) == (p <= 1 - d.level + 1e-12)
        checked += not d.low <= 1.0 <= d.high
    assert 20 < checked < 200  # both outcomes were exercised


def test_shift_levels_estimates_and_units():
    from cnibench.results.stats import min_p_value, shift

    d = shift([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    assert d.relative and d.level == pytest.approx(0.9)  # 3 vs 3: [D(1), D(9)], 1 - 2/20
    assert (d.low, d.high) == pytest.approx((4 / 3, 6.0)) and d.min_p == pytest.approx(min_p_value(3, 3))
    assert d.estimate == pytest.approx(2.5)  # the median of the nine ratios b_j / a_i: 5 / 2
    five = shift([10, 11, 12, 13, 14], [20, 21, 22, 23, 24])
    assert five.level == pytest.approx(1 - 2 * 4 / 252)  # k = 3: P(U <= 2) = 4/252; k = 4 would cover 94.4 %
    zero = shift([0, 0, 3], [100, 120, 90])  # a count with zeros: no ratio, a difference in its own unit
    assert not zero.relative and zero.estimate == pytest.approx(100.0) and zero.change == zero.estimate
    assert shift([1.0], [2.0, 3.0]) is None


def test_large_samples_use_the_normal_approximation_close_to_the_exact_interval():
    import math

    from cnibench.results.stats import EXACT_PAIRS, _moses_k, u_counts

    m, n = 51, 50
    assert m * n > EXACT_PAIRS
    k, level = _moses_k(m, n, 0.95)
    counts, total = u_counts(m, n), math.comb(m + n, m)
    exact = next(j for j in range(1, m * n) if 1 - 2 * sum(counts[: j + 1]) / total < 0.95)
    assert abs(k - exact) <= 1 and level == pytest.approx(0.95, abs=0.002)


def test_paired_ratio_of_real_egress_and_baseline_repetitions(data_dir):
    from cnibench.results.model import read_results
    from cnibench.results.stats import paired_ratio

    run = read_results(data_dir / "results" / "netns-hostgw-vxlan.json")
    by = {(s.cni, s.scenario, s.repetition): s.throughput_bps for s in run.samples}
    pairs = [(by[("vxlan", "egress", k)], by[("vxlan", "egress-baseline", k)]) for k in (1, 2)]
    ratio = paired_ratio(pairs)
    assert ratio.ratios == (pairs[0][0] / pairs[0][1], pairs[1][0] / pairs[1][1])
    assert ratio.interval.level == 0.5 and ratio.too_few and ratio.inconclusive  # 2 pairs: no 95 % interval
    six = paired_ratio([(0.85, 1.0), (0.86, 1.0), (0.84, 1.0), (0.88, 1.0), (0.83, 1.0), (0.87, 1.0)])
    assert not six.too_few and not six.inconclusive and six.interval.level == pytest.approx(1 - 2 / 64)
    straddles = paired_ratio([(0.95, 1.0), (1.02, 1.0), (0.97, 1.0), (1.01, 1.0), (0.9, 1.0), (0.99, 1.0)])
    assert not straddles.too_few and straddles.inconclusive  # its interval contains 1
    assert paired_ratio([(1.0, 0.0)]) is None


@pytest.mark.parametrize("seed", range(6))
def test_tied_permutation_p_counts_every_split_like_the_brute_force(seed):
    import random

    from cnibench.results.stats import tied_permutation_p

    rng = random.Random(seed)
    m, n = rng.randint(2, 7), rng.randint(2, 7)
    a, b = [rng.randint(0, 4) for _ in range(m)], [rng.randint(1, 5) for _ in range(n)]
    for alternative in ("two-sided", "less", "greater"):
        assert tied_permutation_p(a, b, alternative) == pytest.approx(_brute_force_p(a, b, alternative))


def test_large_tied_samples_are_exact_and_fast():
    """11 vs 11 integer counts (705,432 splits) and 40 vs 40 (10^23): exact, in well under a second each, where
    SciPy's permutation_test enumerates splits one by one (18 s at 10 vs 10); the 705,432 splits enumerated here
    agree to the last digit."""
    import itertools
    import time

    import numpy as np
    from scipy.stats import mannwhitneyu, rankdata

    from cnibench.results.stats import EXACT_VALUES, mann_whitney

    a, b = [0, 1, 1, 2, 3, 3, 4, 5, 5, 6, 7], [3, 4, 5, 5, 6, 7, 7, 8, 9, 9, 10]
    mann_whitney([1, 1, 2], [2, 3, 3])  # SciPy imported before the clock starts
    start = time.perf_counter()
    p = mann_whitney(a, b)
    wide = mann_whitney([i % 9 for i in range(40)], [(i + 2) % 11 for i in range(40)])
    assert time.perf_counter() - start < 2.0
    ranks = rankdata([*a, *b])
    sums = ranks[np.array(list(itertools.combinations(range(22), 11)), dtype=np.int8)].sum(axis=1)
    observed = ranks[:11].sum()
    tails = (sums <= observed + 1e-9).mean(), (sums >= observed - 1e-9).mean()
    assert p == pytest.approx(2 * min(tails), rel=1e-12) and p == pytest.approx(0.0047573685)
    assert p < mannwhitneyu(a, b, method="asymptotic").pvalue  # the approximation is conservative here
    assert wide == pytest.approx(mannwhitneyu([i % 9 for i in range(40)], [(i + 2) % 11 for i in range(40)],
                                              method="asymptotic").pvalue, rel=0.05)  # fmt: skip
    beyond = [i % 7 for i in range(EXACT_VALUES)], [i % 5 for i in range(2)]
    assert mann_whitney(*beyond) == pytest.approx(mannwhitneyu(*beyond, method="asymptotic").pvalue)
