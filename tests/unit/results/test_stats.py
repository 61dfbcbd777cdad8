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
