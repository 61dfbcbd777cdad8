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
    assert (
        "stdev is 24% of the mean" in warnings
    )  # 2.83 / 12 and "only 2 successful" in warnings and "1 failed" in warnings
    assert metric_stats([10.0, 10.1, 9.9]).warnings() == []
