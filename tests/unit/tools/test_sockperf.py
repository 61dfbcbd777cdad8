from __future__ import annotations

import bisect
import shutil
import subprocess
import time

import pytest

from cnibench.errors import MeasurementError
from cnibench.tools import sockperf
from cnibench.tools.workload import littles_law


def _load(data_dir, name: str) -> str:
    return (data_dir / "sockperf" / name).read_text()


def test_tcp_ping_pong(data_dir):
    result = sockperf.parse(_load(data_dir, "tcp-pingpong-m64-t5.out"))
    assert result.protocol == "tcp" and result.version == "3.7" and result.round_trip
    assert (result.run_time_s, result.sent, result.transactions) == (4.550, 126143, 126143)
    assert result.transactions_per_s == pytest.approx(126143 / 4.550)
    assert (result.latency_p50_us, result.latency_p90_us, result.latency_p99_us) == (16.941, 25.377, 667.374)
    assert (result.latency_p99_9_us, result.latency_max_us, result.latency_min_us) == (1303.841, 8476.097, 16.090)
    assert result.latency_mean_us == 36.030 and not result.interrupted
    assert (result.dropped, result.duplicated, result.out_of_order) == (0, 0, 0)


def test_udp_ping_pong(data_dir):
    result = sockperf.parse(_load(data_dir, "udp-pingpong-m64-t5.out"))
    assert result.protocol == "udp" and result.transactions == 132213
    assert result.latency_p99_9_us == 3674.234 and result.latency_max_us == 8144.318


@pytest.mark.parametrize("name", ["tcp-pingpong-m64-t5.out", "udp-pingpong-m64-t5.out", "tcp-interrupted.out"])
def test_littles_law_holds_for_one_outstanding_transaction(data_dir, name):
    result = sockperf.parse(_load(data_dir, name))
    check = littles_law(result.transactions_per_s, result.latency_mean_us)
    assert check.ok and abs(check.deviation) < 0.01


def test_littles_law_flags_a_paced_run(data_dir):
    """A real run at --mps 2000: the client waits between transactions, so rate x mean is far below 1."""
    result = sockperf.parse(_load(data_dir, "udp-paced-mps2000.out"))
    check = littles_law(result.transactions_per_s, result.latency_mean_us)
    assert not check.ok and check.product == pytest.approx(0.1455, abs=0.001)
    assert "Little's law" in check.note() and "-85" in check.note()


def test_littles_law_flags_a_doctored_mean(data_dir):
    """The real TCP output with its mean round trip tripled (a mean that does not belong to the window)."""
    text = _load(data_dir, "tcp-pingpong-m64-t5.out")
    assert text.count("avg-rtt=36.030") == 1
    doctored = sockperf.parse(text.replace("avg-rtt=36.030", "avg-rtt=108.090"))
    check = littles_law(doctored.transactions_per_s, doctored.latency_mean_us)
    assert not check.ok and check.deviation == pytest.approx(2.0, abs=0.01)


def test_percentiles_are_order_statistics_of_the_per_transaction_log(data_dir):
    """sockperf's percentiles are observations of its own full log, at the rank of the percentile (+-1), and its
    mean is the log's mean: no histogram bucket, no relabelled mean."""
    text = _load(data_dir, "udp-paced-mps2000-full-log.csv")
    result = sockperf.parse(text)
    rtts = sorted(sockperf.parse_full_log(text))
    assert len(rtts) == result.transactions
    assert sum(rtts) / len(rtts) == pytest.approx(result.latency_mean_us, abs=0.002)
    assert (rtts[0], rtts[-1]) == (result.latency_min_us, result.latency_max_us)
    for percent, value in [(50, result.latency_p50_us), (90, result.latency_p90_us), (99, result.latency_p99_us),
                           (99.9, result.latency_p99_9_us)]:  # fmt: skip
        rank = bisect.bisect_left(rtts, value - 0.0015)
        assert abs(rtts[rank] - value) <= 0.0015
        assert abs(rank - len(rtts) * percent / 100) <= 2


def test_an_interrupted_run_says_so(data_dir):
    result = sockperf.parse(_load(data_dir, "tcp-interrupted.out"))
    assert result.interrupted and result.run_time_s == 1.334 and result.transactions == 64999


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("tcp-refused.out", "Can`t connect socket"),
        ("udp-no-server.out", "No messages were received"),
        ("tcp-server-killed.out", "forcibly closed by a peer"),
    ],
)
def test_failed_runs_are_refused_with_sockperfs_reason(data_dir, name, reason):
    with pytest.raises(MeasurementError, match=reason):
        sockperf.parse(_load(data_dir, name))


def test_broken_outputs(data_dir):
    with pytest.raises(MeasurementError, match="printed nothing"):
        sockperf.parse("")
    text = _load(data_dir, "tcp-pingpong-m64-t5.out")
    with pytest.raises(MeasurementError, match=r"percentile 99\.9"):
        sockperf.parse("\n".join(line for line in text.splitlines() if "percentile 99.900" not in line))
    with pytest.raises(MeasurementError, match="header"):
        sockperf.parse_full_log(text)


def test_argv_refuses_sizes_sockperf_cannot_send():
    with pytest.raises(ValueError, match="14 to 65507"):
        sockperf.client_argv("10.0.0.1", protocol="tcp", duration=1, message_size=0, full_log=None)
    argv = sockperf.client_argv("10.0.0.1", protocol="udp", duration=5, message_size=64, full_log="/x.csv")
    assert "--tcp" not in argv and argv[-2:] == ["--full-log", "/x.csv"] and "--full-rtt" in argv


@pytest.mark.skipif(shutil.which("sockperf") is None, reason="sockperf is not installed")
@pytest.mark.parametrize("protocol", ["tcp", "udp"])
def test_real_sockperf_on_loopback(protocol, tmp_path):
    """The argv builders drive the real tool: a 1 s ping-pong on loopback parses, one transaction outstanding."""
    port = 23000 + (0 if protocol == "tcp" else 1)
    server = subprocess.Popen(
        sockperf.server_argv("127.0.0.1", protocol=protocol, port=port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.3)
        argv = sockperf.client_argv(
            "127.0.0.1", protocol=protocol, duration=1, message_size=64, port=port, full_log=None
        )
        done = subprocess.run(argv, capture_output=True, text=True, timeout=15, check=False)
    finally:
        server.terminate()
        server.wait(timeout=5)
    result = sockperf.parse(done.stdout)
    assert result.protocol == protocol and result.transactions > 100
    assert littles_law(result.transactions_per_s, result.latency_mean_us).ok
