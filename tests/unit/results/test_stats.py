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
