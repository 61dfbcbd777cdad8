from __future__ import annotations

import pytest

from cnibench.errors import MeasurementError
from cnibench.tools import ab
from cnibench.tools.workload import littles_law


def _load(data_dir, name: str) -> str:
    return (data_dir / "ab" / name).read_text()


def _run(data_dir, stem: str) -> ab.AbResult:
    return ab.parse(_load(data_dir, f"{stem}.out"), _load(data_dir, f"{stem}.err"), _load(data_dir, f"{stem}.csv"))


def test_crr_against_nginx(data_dir):
    result = _run(data_dir, "crr-nginx-c1-t5")
    assert result.version == "2.3" and result.time_taken_s == 5.0
    assert (result.complete, result.failed, result.connections) == (27653, 0, 27653)
    assert result.connections_per_s == pytest.approx(5530.6, abs=0.1)  # ab's own "Requests per second"
    assert (result.latency_p50_us, result.latency_p90_us, result.latency_p99_us) == pytest.approx((106, 223, 572))
    assert result.latency_max_us == pytest.approx(10971) and result.latency_p99_9_us is None


def test_percentile_file_is_read_whole(data_dir):
    table = ab.parse_percentiles(_load(data_dir, "crr-nginx-c1-t5.csv"))
    assert sorted(table) == list(range(101))
    assert list(table.values()) == sorted(table.values())  # order statistics: never decreasing
    with pytest.raises(MeasurementError, match="0 to 100"):
        ab.parse_percentiles("\n".join(_load(data_dir, "crr-nginx-c1-t5.csv").splitlines()[:-1]))
    with pytest.raises(MeasurementError, match="header"):
        ab.parse_percentiles("0,0.1\n")


def test_littles_law_is_not_one_for_crr(data_dir):
    """ab's connect-to-response time leaves out its own close and the gap to the next connect: rate x median is
    well below one outstanding transaction (why the check is for rr, not crr)."""
    result = _run(data_dir, "crr-nginx-c1-t5")
    assert result.connections_per_s is not None and result.latency_p50_us is not None
    assert littles_law(result.connections_per_s, result.latency_p50_us).product < 0.9


def test_nothing_listening_counts_failures_and_gives_no_rate(data_dir):
    result = _run(data_dir, "crr-refused-r")
    assert result.failed == 67956 and result.failed_receive == 45304 and result.failed_exceptions == 22652
    assert result.connections is None and result.connections_per_s is None and result.latency_p50_us is None


def test_a_server_that_went_away_mid_run_is_partial(data_dir):
    result = _run(data_dir, "crr-server-killed-r")
    assert result.complete == 5930 and result.failed == 1771
    assert (result.failed_receive, result.failed_length, result.failed_exceptions) == (690, 691, 390)
    assert result.connections_per_s is None


def test_ab_without_a_report_is_refused():
    with pytest.raises(MeasurementError, match="Connection refused"):
        ab.parse("Benchmarking 10.0.0.1 (be patient)...", "apr_socket_recv: Connection refused (111)\n")
    with pytest.raises(MeasurementError, match="no report"):
        ab.parse("", "")


def test_argv():
    argv = ab.client_argv("http://10.0.0.1:8080/", duration=10, percentiles_csv="/p.csv")
    assert argv.index("-n") > argv.index("-t") and "-k" not in argv and "-r" in argv
    assert argv[argv.index("-c") + 1] == "1" and argv[-1] == "http://10.0.0.1:8080/"
