from __future__ import annotations

import json

import pytest

from cnibench.errors import MeasurementError
from cnibench.tools import iperf3, iperf3_intervals


def _load(data_dir, name: str) -> str:
    return (data_dir / "iperf3" / name).read_text()


def _measured_rtts(doc) -> list[float]:
    return [st["rtt"] for i in doc["intervals"] if not i["sum"]["omitted"] for st in i["streams"] if st["rtt"] > 0]


def test_tcp_single_stream(data_dir):
    text = _load(data_dir, "tcp-hostgw-egress.json")
    doc = json.loads(text)
    result = iperf3.parse_client_json(text)
    assert result.protocol == "tcp"
    assert result.throughput_bps == doc["end"]["sum_received"]["bits_per_second"]
    assert result.retransmits == doc["end"]["sum_sent"]["retransmits"]
    rtts = _measured_rtts(doc)
    assert (result.rtt_mean_us, result.rtt_min_us, result.rtt_max_us) == (sum(rtts) / len(rtts), min(rtts), max(rtts))
    assert result.source_ip_seen == "203.0.113.254"
    # the receiver's intervals: the server's measured ones, without the 0.5 ms remainder at the end
    server = [i["sum"] for i in doc["server_output_json"]["intervals"] if not i["sum"]["omitted"]]
    assert len(server) == 3 and server[-1]["seconds"] < 0.01
    assert result.intervals_bps == tuple(i["bits_per_second"] for i in server[:2])
    assert result.jitter_ms is None and result.lost_percent is None
    assert result.client_cpu_percent == doc["end"]["cpu_utilization_percent"]["host_total"]
    assert result.server_cpu_percent == doc["end"]["cpu_utilization_percent"]["remote_total"]
    assert (result.version, result.server_version) == ("3.12", "3.12")


def test_tcp_four_streams_aggregates_rtt(data_dir):
    text = _load(data_dir, "tcp-p4-hostgw-egress.json")
    doc = json.loads(text)
    assert len(doc["end"]["streams"]) == 4
    result = iperf3.parse_client_json(text)
    rtts = _measured_rtts(doc)
    assert len(rtts) == 4 * 2  # 4 streams x 2 measured intervals
    assert result.rtt_mean_us == pytest.approx(sum(rtts) / len(rtts))
    assert (result.rtt_min_us, result.rtt_max_us) == (min(rtts), max(rtts))
    assert result.throughput_bps == doc["end"]["sum_received"]["bits_per_second"]


def test_udp_figures_are_the_receivers(data_dir):
    text = _load(data_dir, "udp-vxlan-egress.json")
    doc = json.loads(text)
    received = doc["server_output_json"]["end"]["sum_received"]
    result = iperf3.parse_client_json(text)
    assert result.protocol == "udp"
    assert result.throughput_bps == received["bits_per_second"]
    assert result.jitter_ms == received["jitter_ms"]
    assert result.lost_packets == received["lost_packets"]
    assert result.lost_percent == received["lost_percent"]
    assert result.rtt_mean_us is None and result.retransmits is None
    # the per-second received rate is the server's, not the client's offered rate
    server = [i["sum"]["bits_per_second"] for i in doc["server_output_json"]["intervals"] if not i["sum"]["omitted"]]
    assert result.intervals_bps == tuple(server[:2])
    assert result.sender_bps == doc["end"]["sum_sent"]["bits_per_second"]


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


# ---- real iperf3 behaviours (tests/data/cases/parsers, see its README) --------------------------------------------


def _case(data_dir, name: str) -> str:
    return (data_dir / "cases" / "parsers" / name).read_text()


def test_udp_loss_leaves_the_warm_up_out(data_dir):
    """iperf3 <= 3.13 counts warm-up loss in the client's copy (esnet/iperf#1489): 462 lost there, 193 measured."""
    text = _case(data_dir, "iperf3-udp-loss-includes-warmup.json")
    assert json.loads(text)["end"]["sum_received"]["lost_packets"] == 462  # the client's wrong copy
    result = iperf3.parse_client_json(text)
    assert result.lost_packets == 193
    assert result.lost_percent == pytest.approx(0.2166, abs=1e-4)


def test_udp_from_a_client_that_saw_loss_zero_still_reads_the_receiver(data_dir):
    """A 3.14-3.20 client against an older server reports loss 0 (esnet/iperf#1984): the server's figure counts."""
    doc = json.loads(_case(data_dir, "iperf3-udp-loss-includes-warmup.json"))
    for key in ("lost_packets", "lost_percent"):
        doc["end"]["sum_received"][key] = 0
        doc["end"]["sum"][key] = 0
    assert iperf3.parse_client_json(json.dumps(doc)).lost_packets == 193


def test_udp_without_the_servers_output_is_refused_not_taken_from_the_client(data_dir):
    doc = json.loads(_case(data_dir, "iperf3-udp-loss-includes-warmup.json"))
    del doc["server_output_json"]
    with pytest.raises(MeasurementError, match=r"UDP: the server's own output is missing.*not taken from the client"):
        iperf3.parse_client_json(json.dumps(doc))


def test_udp_from_a_server_older_than_3_11_names_the_version_needed(data_dir):
    doc = json.loads(_case(data_dir, "iperf3-udp-loss-includes-warmup.json"))
    del doc["server_output_json"]["end"]["sum_received"]
    doc["server_output_json"]["start"]["version"] = "iperf 3.9"
    with pytest.raises(MeasurementError, match=r"iperf3 3\.9, which writes no UDP receiver summary.*3\.11 or newer"):
        iperf3.parse_client_json(json.dumps(doc))


def test_a_mis_timed_interval_is_re_timed(data_dir):
    """esnet/iperf#1261: the first interval after the warm-up says 2.0003 s for 1,857,290,240 bytes of one second."""
    text = _case(data_dir, "iperf3-tcp-omit-race-interval.json")
    doc = json.loads(text)
    assert doc["intervals"][1]["sum"]["bits_per_second"] == pytest.approx(7.43e9, rel=1e-3)  # the dip iperf3 shows
    result = iperf3.parse_client_json(text)
    assert result.intervals_bps[0] == pytest.approx(14.86e9, rel=0.01)
    assert min(result.intervals_bps) > 0.9 * max(result.intervals_bps)  # no dip that did not happen
    # the client's own intervals, re-timed the same way
    intervals, notes = iperf3_intervals.measured_intervals(doc, "client")
    assert intervals[0].bits_per_second == pytest.approx(1_857_290_240 * 8 / 1.000577)
    assert len(notes) == 1 and "esnet/iperf#1261" in notes[0] and "2.0003" in notes[0]


def test_a_mis_timed_interval_whose_length_cannot_be_known_is_left_out(data_dir):
    doc = json.loads(_case(data_dir, "iperf3-tcp-omit-race-interval.json"))
    doc["intervals"][1]["sum"]["end"] = 0.01  # no time since the previous interval: the span is unknown
    intervals, notes = iperf3_intervals.measured_intervals(doc, "client")
    assert len(intervals) == 1 and "left out" in notes[0]


def test_rtt_over_the_measured_intervals_only(data_dir):
    """iperf3 never resets its RTT accumulators after the warm-up: its end summary says mean 89, max 122."""
    text = _case(data_dir, "iperf3-tcp-rtt-includes-warmup.json")
    sender = json.loads(text)["end"]["streams"][0]["sender"]
    assert (sender["mean_rtt"], sender["max_rtt"]) == (89, 122)
    result = iperf3.parse_client_json(text)
    assert (result.rtt_mean_us, result.rtt_min_us, result.rtt_max_us) == (73.5, 61, 86)
    # the server's own intervals show the same timer race: re-timed, and said so
    assert any("server interval 1" in note and "esnet/iperf#1261" in note for note in result.notes)


def test_rtt_not_measured_is_null_not_zero(data_dir):
    """mean_rtt 0: the sender took no TCP_INFO sample (esnet/iperf#1920, #803)."""
    result = iperf3.parse_client_json(_case(data_dir, "iperf3-rtt-zero-not-measured.json"))
    assert (result.rtt_mean_us, result.rtt_min_us, result.rtt_max_us) == (None, None, None)
    assert result.throughput_bps > 1e9


def test_rtt_zero_in_every_interval_is_null_too(data_dir):
    doc = json.loads(_load(data_dir, "tcp-hostgw-egress.json"))
    for interval in doc["intervals"]:
        for stream in interval["streams"]:
            stream["rtt"] = 0
    assert iperf3.parse_client_json(json.dumps(doc)).rtt_mean_us is None


def test_a_client_too_old_for_the_servers_output_names_the_version(data_dir):
    doc = json.loads(_load(data_dir, "tcp-no-server-output.json"))
    doc["start"]["version"] = "iperf 3.0.11"
    doc["start"]["test_start"]["protocol"] = "UDP"
    with pytest.raises(MeasurementError, match=r"iperf3 3\.0\.11 cannot relay the server's output.*3\.1 or newer"):
        iperf3.parse_client_json(json.dumps(doc))


def test_version_floors():
    assert iperf3.older_than("3.9", iperf3.MIN_VERSION_UDP_RECEIVER)
    assert not iperf3.older_than("3.12", iperf3.MIN_VERSION_UDP_RECEIVER)
    assert not iperf3.older_than("3.11", iperf3.MIN_VERSION_UDP_RECEIVER)
    assert iperf3.older_than("3.0.11", iperf3.MIN_VERSION_SERVER_OUTPUT)
    assert not iperf3.older_than(None, iperf3.MIN_VERSION_SERVER_OUTPUT)


# ---- reverse and bidirectional tests, documents printed twice, sections of the wrong type (issue 25) -------------


def test_reverse_udp_reads_the_client_as_the_receiver(data_dir):
    """A reverse-mode server's sum_received is all zeros (esnet/iperf#1410): the receiver is the client."""
    text = _load(data_dir, "udp-reverse-loopback.json")
    doc = json.loads(text)
    assert doc["server_output_json"]["end"]["sum_received"]["bits_per_second"] == 0  # the trap
    received = doc["end"]["sum_received"]
    result = iperf3.parse_client_json(text)
    assert result.throughput_bps == received["bits_per_second"] > 9e7
    assert result.jitter_ms == received["jitter_ms"] > 0
    assert (result.lost_packets, result.lost_percent) == (received["lost_packets"], received["lost_percent"])
    client = [i["sum"]["bits_per_second"] for i in doc["intervals"] if not i["sum"]["omitted"]]
    assert result.intervals_bps == pytest.approx(tuple(client), rel=1e-12)  # the receiver's: the client's own
    assert iperf3.REVERSED in result.notes


def test_reverse_tcp_takes_rtt_from_the_server_that_sent(data_dir):
    text = _load(data_dir, "tcp-reverse-loopback.json")
    doc = json.loads(text)
    server = doc["server_output_json"]
    rtts = _measured_rtts(server)[:-1]  # the last is the 3 ms fragment after the last full interval (left out)
    assert rtts == [75, 65, 230]
    assert not any("rtt" in st for i in doc["intervals"] for st in i["streams"])  # the client received
    result = iperf3.parse_client_json(text)
    assert (result.rtt_mean_us, result.rtt_min_us, result.rtt_max_us) == (sum(rtts) / len(rtts), min(rtts), max(rtts))
    assert result.throughput_bps == doc["end"]["sum_received"]["bits_per_second"]
    client = [i["sum"] for i in doc["intervals"] if not i["sum"]["omitted"]]
    assert result.intervals_bps[0] == pytest.approx(client[0]["bits_per_second"], rel=1e-12)
    assert iperf3.RTT_NOT_MEASURED not in result.notes


@pytest.mark.parametrize("name", ["tcp-bidir-loopback.json", "udp-bidir-loopback.json"])
def test_bidirectional_output_is_refused(data_dir, name):
    with pytest.raises(MeasurementError, match=r"^iperf3 --bidir output \(both directions in one test\)"):
        iperf3.parse_client_json(_load(data_dir, name))


def test_bidir_flag_of_newer_iperf3_is_recognised(data_dir):
    doc = json.loads(_load(data_dir, "tcp-hostgw-egress.json"))
    assert not iperf3.is_bidirectional(doc)
    doc["start"]["test_start"]["bidir"] = 1  # iperf3 >= 3.13 says so in test_start (esnet/iperf PR #1908's output)
    assert iperf3.is_bidirectional(doc)


def test_a_document_printed_twice_is_read_once_with_a_note(data_dir):
    """iperf3 3.16/3.17 print two identical copies of the -J document (esnet/iperf#1688, #1716)."""
    text = _load(data_dir, "tcp-hostgw-egress.json")
    once = iperf3.parse_client_json(text)
    twice = iperf3.parse_client_json(text + text)
    assert twice.throughput_bps == once.throughput_bps
    assert twice.notes == (iperf3.DOUBLED, *once.notes)


def test_two_different_documents_are_refused(data_dir):
    text = _load(data_dir, "tcp-hostgw-egress.json") + _load(data_dir, "tcp-vxlan-egress.json")
    with pytest.raises(MeasurementError, match="holds 2 different JSON documents"):
        iperf3.parse_client_json(text)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.__setitem__("start", []), "start is a JSON array, not an object"),
        (lambda d: d["start"].__setitem__("test_start", "TCP"), "start.test_start is a JSON string, not an object"),
        (lambda d: d.__setitem__("intervals", 3), "intervals is a JSON number, not an array"),
        (lambda d: d["end"].__setitem__("sum_received", []), "end.sum_received is a JSON array, not an object"),
        (lambda d: d.__setitem__("server_output_json", [1]), "server_output_json is not a JSON object"),
    ],
)
def test_a_section_of_the_wrong_type_is_a_measurement_error(data_dir, edit, message):
    doc = json.loads(_load(data_dir, "tcp-hostgw-egress.json"))
    edit(doc)
    with pytest.raises(MeasurementError, match=message):
        iperf3.parse_client_json(json.dumps(doc))


def test_a_nan_token_is_a_measurement_error(data_dir):
    text = _load(data_dir, "tcp-hostgw-egress.json")
    doc = json.loads(text)
    value = doc["end"]["sum_received"]["bits_per_second"]
    broken = text.replace(repr(value) if repr(value) in text else str(value), "NaN", 1)
    assert "NaN" in broken
    with pytest.raises(MeasurementError, match="holds NaN where a number belongs"):
        iperf3.parse_client_json(broken)
