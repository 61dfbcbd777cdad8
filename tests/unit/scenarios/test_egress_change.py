"""The egress-change scenario: its figures from real captures (tests/data/pcap), its sample maker, its settings."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cnibench.errors import MeasurementError, SpecError
from cnibench.reanalysis import parse_artifact
from cnibench.repetition import MeasureCommand, Repetition
from cnibench.scenarios._egress_capture import Marker, figures, read_capture
from cnibench.scenarios.base import ParseOptions
from cnibench.scenarios.egress_change import EGRESS_CHANGE, EgressChangeExpectation, EgressChangeSample
from cnibench.spec import parse_spec


def _pcap(data_dir: Path, name: str) -> bytes:
    return (data_dir / "pcap" / name).read_bytes()


def test_the_engineered_leak_and_gap_are_found(data_dir):
    """gap-leak.pcap (record_gap_leak.sh): masquerading 0.1 s past the stamped event, then 0.3 s with the link down,
    then SNAT to the egress IP; tcpdump's own reading of the file gives the same counts (README.md there)."""
    fig = figures(read_capture(_pcap(data_dir, "gap-leak.pcap")))
    assert fig.event == "policy-apply" and fig.egress_ip == "203.0.113.254"
    assert fig.leaked_packets == 111  # about 100 engineered (0.1 s at 1,000/s) plus `ip link set down`'s start
    assert 300 <= fig.outage_ms <= 400 and round(fig.outage_ms, 1) == 382.1
    assert round(fig.first_correct_ms, 1) == 492.9 and fig.first_correct_ms > fig.outage_ms
    assert fig.source_stayed_egress is True
    assert 950 <= fig.probe_pps <= 1050  # the probe's rate before the event: 1 ms resolution
    assert fig.flow_outcome is None and fig.new_gateway_ms is None


def test_a_real_failover_capture_moves_gateway_and_keeps_the_flow(data_dir):
    """failover.pcap: a real `cnibench run` of egress-failover on hostgw (keepalived advert_int 0.1 s)."""
    fig = figures(read_capture(_pcap(data_dir, "failover.pcap")))
    assert fig.event == "gateway-failover"
    assert fig.new_gateway_ms is not None and fig.first_correct_ms == fig.new_gateway_ms
    assert fig.outage_ms is not None and fig.outage_ms >= fig.new_gateway_ms - 10
    assert fig.leaked_packets == 0 and fig.source_stayed_egress is True
    assert fig.flow_outcome in ("survived", "reset", "stalled") and fig.flow_stall_ms is not None


def test_a_file_that_is_no_capture_or_has_no_marker_is_a_measurement_error(data_dir):
    with pytest.raises(MeasurementError, match="not a pcap"):
        read_capture(b"not a pcap at all, just text")
    capture = read_capture(_pcap(data_dir, "gap-leak.pcap"))
    capture.markers.clear()
    with pytest.raises(MeasurementError, match="0 event markers"):
        figures(capture)


def test_the_marker_round_trips():
    marker = Marker("new-pod", 1.5, 1.75, "203.0.113.254", 5301, 5303, None, 5.0)
    assert Marker.parse(b"cnibench-event " + marker.line().encode()) == marker
    with pytest.raises(MeasurementError, match="unreadable event marker"):
        Marker.parse(b"cnibench-event {broken")


def _repetition(tmp_path: Path, data_dir: Path, name: str, trial: str, expect: EgressChangeExpectation) -> Repetition:
    artifact = tmp_path / "raw" / "hostgw" / trial / "rep-01.pcap"
    artifact.parent.mkdir(parents=True)
    shutil.copy(data_dir / "pcap" / name, artifact)
    return Repetition("hostgw", trial, 1, artifact, MeasureCommand((), artifact, 1.0), expect=expect)


def test_the_sample_maker_reads_the_pcap_as_bytes(tmp_path, data_dir):
    expect = EgressChangeExpectation(event="policy-apply", egress_ip="203.0.113.254")
    rep = _repetition(tmp_path, data_dir, "gap-leak.pcap", "egress-apply", expect)
    sample = EGRESS_CHANGE.make_sample(rep, run_dir=tmp_path, started_at=None, ended_at=None)
    assert isinstance(sample, EgressChangeSample) and sample.status == "ok", sample.error
    assert sample.artifact == "raw/hostgw/egress-apply/rep-01.pcap"
    assert sample.leaked_packets == sample.leaked_vs_zero == 111
    assert sample.event_clock.startswith("CLOCK_REALTIME")
    # another event or egress IP than the capture's fails the repetition, its figures kept
    wrong = EgressChangeExpectation(event="gateway-failover", egress_ip="203.0.113.9")
    failed = EGRESS_CHANGE.make_sample(rep.__class__(**{**rep.__dict__, "expect": wrong}), run_dir=tmp_path,
                                       started_at=None, ended_at=None)  # fmt: skip
    assert failed.status == "failed" and "expected gateway-failover" in failed.error and "203.0.113.9" in failed.error
    assert failed.leaked_packets == 111
    # reanalyze judges the recorded sample against the same expectation
    assert EGRESS_CHANGE.recorded_expectation(sample, {}, rep.artifact) == expect


def test_a_missing_capture_fails_with_the_tools_reason(tmp_path):
    expect = EgressChangeExpectation(event="new-pod", egress_ip="203.0.113.254")
    artifact = tmp_path / "rep-01.pcap"
    rep = Repetition("hostgw", "egress-new-pod", 1, artifact, MeasureCommand((), artifact, 1.0), expect=expect)
    sample = EGRESS_CHANGE.make_sample(rep, run_dir=tmp_path, started_at=None, ended_at=None, failure="tcpdump died")
    assert sample.status == "failed" and sample.error == "tcpdump died" and sample.artifact is None


def test_cnibench_parse_pcap_rederives_the_figures(data_dir):
    answer = parse_artifact("pcap", data_dir / "pcap" / "gap-leak.pcap")
    assert answer["status"] == "ok" and answer["leaked_packets"] == 111 and answer["event"] == "policy-apply"
    checked = parse_artifact("pcap", data_dir / "pcap" / "gap-leak.pcap", ParseOptions(expected_source_ip="192.0.2.1"))
    assert checked["status"] == "failed" and "192.0.2.1" in checked["error"]


def _spec(**section):
    return parse_spec({"name": "ec", "platform": "netns", "cnis": ["hostgw"], "nodes": {"workers": 3},
                       "metrics": {"enabled": False}, "scenarios": {"egress-change": section}})  # fmt: skip


def test_settings_and_their_checks():
    settings = EGRESS_CHANGE.settings_of(_spec())
    assert settings.probe_bitrate == 1000 * 64 * 8 and settings.vrrp_advert_int == 1.0
    with pytest.raises(SpecError, match="workers"):
        parse_spec({"name": "ec", "platform": "netns", "cnis": ["hostgw"], "nodes": {"workers": 2},
                    "scenarios": {"egress-change": {}}})  # fmt: skip
    with pytest.raises(SpecError, match=r"egress-change\.egress_ip"):
        _spec(egress_ip="203.0.113.3")  # the second gateway's address
    with pytest.raises(SpecError, match=r"egress-change\.probe_rate"):
        _spec(probe_rate=0)


def test_the_summary_gives_median_and_interval_per_event(data_dir, tmp_path):
    expect = EgressChangeExpectation(event="policy-apply", egress_ip="203.0.113.254")
    rep = _repetition(tmp_path, data_dir, "gap-leak.pcap", "egress-apply", expect)
    one = EGRESS_CHANGE.make_sample(rep, run_dir=tmp_path, started_at=None, ended_at=None)
    samples = [one.model_copy(update={"repetition": n, "leaked_packets": 100 + n}) for n in range(1, 4)]
    warnings: list[str] = []
    lines = EGRESS_CHANGE.summary_lines(samples, warnings)
    row = next(line for line in lines if line.startswith("hostgw"))
    assert "102 [101, 103], 75%" in row and "492.9" in row
    assert any("another source than the egress IP in 3 of 3" in w for w in warnings)


def _without_probe_after_failure(data: bytes) -> bytes:
    """failover.pcap as a gateway with no other node would leave it (open-source Cilium's, cilium/cilium#18230): the
    real capture, minus every probe datagram from the failure on (none came back)."""
    import io

    import dpkt

    marker = read_capture(data).markers[0]
    out = io.BytesIO()
    reader = dpkt.pcap.Reader(io.BytesIO(data))
    nano = reader._divisor != 1e6  # dpkt keeps the file's precision there (1E9: a nanosecond pcap)
    writer = dpkt.pcap.Writer(out, snaplen=reader.snaplen, linktype=reader.datalink(), nano=nano)
    for ts, buf in reader:
        ip = dpkt.ethernet.Ethernet(buf).data
        probe = isinstance(ip, dpkt.ip.IP) and isinstance(ip.data, dpkt.udp.UDP) and ip.data.dport == marker.probe_port
        if not (probe and float(ts) >= marker.started):
            writer.writepkt(buf, ts)
    return out.getvalue()


def test_a_failover_the_probe_never_comes_back_from_is_a_censored_outage_not_a_failure(tmp_path, data_dir):
    data = _without_probe_after_failure(_pcap(data_dir, "failover.pcap"))
    capture = read_capture(data)
    fig = figures(capture)
    m = capture.markers[0]
    last = max(p.ts for p in capture.packets if p.proto == "udp" and p.dport == m.probe_port)
    assert fig.outage_censored and fig.first_correct_ms is None
    assert fig.outage_ms is not None and abs(fig.outage_ms - (m.at + (m.window_s or 0) - last) * 1e3) < 0.01
    assert any("at least" in note for note in fig.notes)
    expect = EgressChangeExpectation(event="gateway-failover", egress_ip=m.egress_ip)
    sample = EGRESS_CHANGE.sample_from_bytes(data, expect, {"cni": "hostgw", "scenario": "egress-failover",
                                                            "repetition": 1}, None)  # fmt: skip
    assert isinstance(sample, EgressChangeSample)
    assert sample.status == "ok" and sample.outage_censored is True and sample.outage_ms == fig.outage_ms
    # the real failover, whose probe came back, is no lower bound
    real = figures(read_capture(_pcap(data_dir, "failover.pcap")))
    assert real.outage_censored is False
