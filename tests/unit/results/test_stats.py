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


def test_bootstrap_ci_is_seeded_and_agrees_with_scipy():
    import numpy as np
    from scipy.stats import bootstrap

    from cnibench.results.stats import bootstrap_median_ci

    data = [13.1, 12.7, 14.2, 13.9, 12.2, 13.5, 12.9, 14.8, 13.3, 12.5, 13.8, 13.0]
    first, second = bootstrap_median_ci(data), bootstrap_median_ci(data)
    assert first == second  # seeded: the same data always gives the same interval
    assert first[0] <= statistics.median(data) <= first[1]
    reference = bootstrap(
        (np.array(data),), np.median, method="percentile", n_resamples=10_000, random_state=np.random.default_rng(1)
    ).confidence_interval
    # a different random stream, the same method: the ends agree closely
    assert first[0] == pytest.approx(reference.low, abs=0.15)
    assert first[1] == pytest.approx(reference.high, abs=0.15)
    assert bootstrap_median_ci([5.0]) is None


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
