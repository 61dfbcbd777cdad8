from __future__ import annotations

import json

import pytest

from cnibench.errors import MeasurementError
from cnibench.tools import iperf3


def _load(data_dir, name: str) -> str:
    return (data_dir / "iperf3" / name).read_text()


def test_tcp_single_stream(data_dir):
    text = _load(data_dir, "tcp-hostgw-egress.json")
    doc = json.loads(text)
    result = iperf3.parse_client_json(text)
    assert result.protocol == "tcp"
    assert result.throughput_bps == doc["end"]["sum_received"]["bits_per_second"]
    assert result.retransmits == doc["end"]["sum_sent"]["retransmits"]
    sender = doc["end"]["streams"][0]["sender"]
    assert (result.rtt_mean_us, result.rtt_min_us, result.rtt_max_us) == (
        sender["mean_rtt"],
        sender["min_rtt"],
        sender["max_rtt"],
    )
    assert result.source_ip_seen == "203.0.113.254"
    omitted = sum(1 for i in doc["intervals"] if i["sum"]["omitted"])
    assert omitted > 0
    assert len(result.intervals_bps) == len(doc["intervals"]) - omitted
    assert result.jitter_ms is None and result.lost_percent is None


def test_tcp_four_streams_aggregates_rtt(data_dir):
    text = _load(data_dir, "tcp-p4-hostgw-egress.json")
    doc = json.loads(text)
    senders = [s["sender"] for s in doc["end"]["streams"]]
    assert len(senders) == 4
    result = iperf3.parse_client_json(text)
    assert result.rtt_mean_us == pytest.approx(sum(s["mean_rtt"] for s in senders) / 4)
    assert result.rtt_min_us == min(s["min_rtt"] for s in senders)
    assert result.rtt_max_us == max(s["max_rtt"] for s in senders)
    assert result.throughput_bps == doc["end"]["sum_received"]["bits_per_second"]


def test_udp_reports_jitter_and_loss(data_dir):
    text = _load(data_dir, "udp-vxlan-egress.json")
    received = json.loads(text)["end"]["sum_received"]
    result = iperf3.parse_client_json(text)
    assert result.protocol == "udp"
    assert result.throughput_bps == received["bits_per_second"]
    assert result.jitter_ms == received["jitter_ms"]
    assert result.lost_packets == received["lost_packets"]
    assert result.lost_percent == received["lost_percent"]
    assert result.rtt_mean_us is None and result.retransmits is None


def test_baseline_shows_node_ip(data_dir):
    assert iperf3.parse_client_json(_load(data_dir, "tcp-hostgw-baseline.json")).source_ip_seen == "172.18.0.4"


def test_error_document_raises_iperf3s_reason(data_dir):
    with pytest.raises(MeasurementError, match="iperf3: unable to connect to server: Connection refused"):
        iperf3.parse_client_json(_load(data_dir, "error-refused.json"))


@pytest.mark.parametrize("name", ["tcp-no-server-output.json", "tcp-text-server-output.json"])
def test_without_server_json_the_source_is_unknown(data_dir, name):
    assert iperf3.parse_client_json(_load(data_dir, name)).source_ip_seen is None


def test_truncated_and_empty_output(data_dir):
    text = _load(data_dir, "tcp-hostgw-egress.json")
    with pytest.raises(MeasurementError, match="not JSON"):
        iperf3.parse_client_json(text[: len(text) // 2])
    with pytest.raises(MeasurementError, match="no output"):
        iperf3.parse_client_json("")


def test_several_client_addresses_are_an_error(data_dir):
    doc = json.loads(_load(data_dir, "tcp-p4-hostgw-egress.json"))
    doc["server_output_json"]["start"]["connected"][1]["remote_host"] = "172.18.0.4"
    with pytest.raises(MeasurementError, match="several client addresses"):
        iperf3.parse_client_json(json.dumps(doc))


def test_client_argv():
    tcp = iperf3.client_argv("203.0.113.2", protocol="tcp", duration=10, omit=2, parallel=4, bitrate="1G")
    assert tcp[:3] == ["iperf3", "--client", "203.0.113.2"]
    assert tcp[tcp.index("--time") : tcp.index("--time") + 2] == ["--time", "10"]
    assert "--get-server-output" in tcp and "--json" in tcp and "--udp" not in tcp
    udp = iperf3.client_argv("203.0.113.2", protocol="udp", duration=1, omit=0, parallel=1, bitrate="500M")
    assert udp[-3:] == ["--udp", "--bitrate", "500M"]
    assert iperf3.server_argv("203.0.113.2")[:2] == ["iperf3", "--server"]


def test_version_of():
    assert iperf3.version_of("iperf 3.12 (cJSON 1.7.15)") == "3.12"
    assert iperf3.version_of("something else") is None
