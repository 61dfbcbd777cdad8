"""The network-policy scenario's programming latency: its figures from a real capture (tests/data/pcap), the checks
that fail a repetition, its settings and trials."""

from __future__ import annotations

import io
import json
from pathlib import Path

import dpkt
import pytest

from cnibench.errors import MeasurementError
from cnibench.repetition import MeasureCommand, Repetition
from cnibench.scenarios._pcap import MARKER_MAGIC, read_pcap
from cnibench.scenarios._policy_latency import (
    EVENT_TRIALS,
    PolicyLatencyExpectation,
    PolicyLatencySample,
    PolicyLatencySettings,
    event_trials,
    metrics_for,
)
from cnibench.scenarios._policy_latency_capture import latency_figures, policy_capture
from cnibench.scenarios.network_policy import NETWORK_POLICY

#: record_policy_allow.sh's stamped event and the server pod's veth (README.md beside the capture).
EVENT_AT = 1796664272.473721365
DELIVERED_IFINDEX = 3


def _golden(data_dir: Path) -> bytes:
    return (data_dir / "pcap" / "policy-allow.pcap").read_bytes()


def _with_marker(data: bytes, **changes: object) -> bytes:
    """The golden capture with its marker's JSON changed (every other frame as recorded)."""
    reader = dpkt.pcap.Reader(io.BytesIO(data))
    out = io.BytesIO()
    writer = dpkt.pcap.Writer(out, linktype=reader.datalink(), snaplen=512)
    for ts, buf in reader:
        frame = dpkt.sll2.SLL2(buf)
        ip = frame.data
        if isinstance(ip, dpkt.ip.IP) and isinstance(ip.data, dpkt.udp.UDP) and ip.data.dport == 9:
            marker = json.loads(bytes(ip.data.data)[len(MARKER_MAGIC) :])
            ip.data.data = MARKER_MAGIC + json.dumps({**marker, **changes}).encode()
            ip.data.ulen = len(ip.data)
            ip.len = len(ip)
            frame.data = ip
            buf = bytes(frame)
        writer.writepkt(buf, ts)
    return out.getvalue()


def test_the_engineered_allow_delay_is_found(data_dir):
    """policy-allow.pcap: the allowing table applied 0.2 s after the stamped event; tcpdump's own reading gives the
    first datagram sent on the server's veth 222.7 ms after it (README.md there)."""
    fig = latency_figures(_golden(data_dir))
    assert fig.event == "policy-allow" and fig.size == 0 and fig.representation == "chain"
    assert fig.allow_ms is not None and 200 <= fig.allow_ms <= 260 and round(fig.allow_ms, 1) == 222.7
    assert fig.delivered_before == 0 and fig.errors == ()
    assert fig.deny_ms is None and fig.new_pod_ms is None
    assert fig.probe_pps is not None and 800 <= fig.probe_pps <= 1400  # hping3 -i u700: about 1 ms resolution
    assert fig.probe_gap_p99_ms is not None and fig.probe_gap_p99_ms < 10
    assert fig.delivered < fig.arrived  # the datagrams of the first 0.2 s were dropped, yet seen arriving


def test_the_capture_is_read_on_every_interface(data_dir):
    """An any-interface (Linux cooked v2) capture: each delivered datagram is seen twice, arriving and sent on the
    server's veth; the marker once."""
    marker, packets = policy_capture(_golden(data_dir))
    assert marker.at == pytest.approx(EVENT_AT) and marker.delivered_ifindex == DELIVERED_IFINDEX
    sent = [p for p in packets if p.outgoing]
    assert sent and {p.ifindex for p in sent} == {DELIVERED_IFINDEX}
    arrived = {p.sport for p in packets if not p.outgoing}
    assert {p.sport for p in sent} <= arrived  # every delivered datagram arrived first
    assert len(read_pcap(_golden(data_dir)).markers) == 1


def test_a_new_source_port_per_datagram(data_dir):
    """hping3 sends every datagram from the next source port: each is a flow of its own."""
    _, packets = policy_capture(_golden(data_dir))
    arrived = [p.sport for p in packets if not p.outgoing]
    assert len(set(arrived)) == len(arrived) > 1000


def test_a_deny_that_never_held_fails_the_repetition(data_dir):
    """Read as a deny, the golden capture delivers nothing before the event and still delivers at the window's end:
    both fail the repetition; the figures stay."""
    fig = latency_figures(_with_marker(_golden(data_dir), event="policy-deny"))
    assert fig.deny_ms is not None and fig.passed_after_deny and fig.passed_after_deny > 500
    assert any("before the deny" in e for e in fig.errors)
    assert any("end of the window" in e for e in fig.errors)


def test_datagrams_delivered_before_an_allow_fail_it(data_dir):
    """An allow whose start is put after the first delivered datagram: the deny did not hold before it."""
    fig = latency_figures(_with_marker(_golden(data_dir), started=EVENT_AT + 0.5, at=EVENT_AT + 0.5))
    assert fig.delivered_before > 0 and any("before the allow" in e for e in fig.errors)


def test_as_a_new_pod_the_first_arrival_is_time_zero(data_dir):
    """Read as a new pod, the probe's first arrival is time zero and the first delivered one ends the wait."""
    fig = latency_figures(_with_marker(_golden(data_dir), event="policy-new-pod"))
    assert fig.new_pod_ms is not None and fig.new_pod_ms > 1000  # the lead (1 s) plus the engineered 0.2 s
    assert fig.dropped_before_allow is not None and fig.dropped_before_allow > 1000


def test_the_sample_and_its_expectation(data_dir):
    fields = {"cni": "hostgw", "scenario": "policy-allow", "repetition": 1, "round": 1}
    ok = NETWORK_POLICY.sample_from_bytes(_golden(data_dir), PolicyLatencyExpectation(event="policy-allow"),
                                          fields, None)  # fmt: skip
    assert isinstance(ok, PolicyLatencySample) and ok.status == "ok" and ok.allow_ms is not None
    wrong = NETWORK_POLICY.sample_from_bytes(
        _golden(data_dir), PolicyLatencyExpectation(event="policy-deny", representation="set"), fields, None
    )
    assert wrong.status == "failed" and "event is policy-allow" in str(wrong.error) and "set" in str(wrong.error)
    assert NETWORK_POLICY.recorded_expectation(ok, {}, Path("x")) == PolicyLatencyExpectation(
        event="policy-allow", policy_size=0, representation="chain"
    )
    with pytest.raises(MeasurementError, match="not a pcap"):
        NETWORK_POLICY.sample_from_bytes(b"garbage", PolicyLatencyExpectation(), fields, None)


def test_make_sample_reads_the_pcap_through_the_base_class(data_dir, tmp_path):
    artifact = tmp_path / "rep-01.pcap"
    artifact.write_bytes(_golden(data_dir))
    rep = Repetition("hostgw", "policy-allow", 1, artifact, MeasureCommand(argv=(), stdout=artifact, timeout_s=0.0),
                     expect=PolicyLatencyExpectation(event="policy-allow"))  # fmt: skip
    sample = NETWORK_POLICY.make_sample(rep, run_dir=tmp_path, started_at=None, ended_at=None)
    assert isinstance(sample, PolicyLatencySample) and sample.status == "ok"
    assert NETWORK_POLICY.sample_model_of("policy-allow") is PolicyLatencySample
    artifact.write_bytes(b"")
    failed = NETWORK_POLICY.make_sample(rep, run_dir=tmp_path, started_at=None, ended_at=None, failure="boom")
    assert isinstance(failed, PolicyLatencySample) and failed.status == "failed" and failed.error == "boom"


def test_trials_metrics_and_settings():
    settings = PolicyLatencySettings(event_size="largest", events=["policy-deny", "policy-allow"])
    assert settings.event_policy_size([10, 1000, 100]) == 1000
    assert PolicyLatencySettings().event_policy_size([10, 1000]) == 0
    trials = event_trials(settings, "hostgw", [10])
    assert [t.scenario for t in trials] == ["policy-allow", "policy-deny"]  # the event trials' own order
    assert all(t.repetitions == 3 for t in trials)
    assert [m.name for m in metrics_for("policy-deny")] == ["deny_ms", "passed_after_deny"]
    assert all(m.better == "lower" for t in EVENT_TRIALS for m in metrics_for(t))
    assert NETWORK_POLICY.metrics_of("policy-new-pod")[0].name == "new_pod_ms"
    assert NETWORK_POLICY.owns("policy-allow") and NETWORK_POLICY.baseline_of("policy-allow") is None


@pytest.mark.parametrize(("field", "value"), [("probe_interval_us", 50), ("event_size", "biggest"),
                                              ("events", ["policy-drop"]), ("event_lead", 0)])  # fmt: skip
def test_bad_event_settings_are_refused(field, value):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=field):
        PolicyLatencySettings.model_validate({field: value})


def test_parse_pcap_reads_a_policy_capture_and_still_an_egress_one(data_dir, tmp_path):
    """``cnibench parse pcap``: the first scenario that claims the file (its marker's event) reads it."""
    from cnibench.reanalysis import parse_artifact

    answer = parse_artifact("pcap", data_dir / "pcap" / "policy-allow.pcap")
    assert answer["status"] == "ok" and round(answer["allow_ms"], 1) == 222.7 and answer["event"] == "policy-allow"
    egress = parse_artifact("pcap", data_dir / "pcap" / "gap-leak.pcap")
    assert egress["leaked_packets"] == 111 and "allow_ms" not in egress


def test_the_events_run_after_the_sizes_on_each_cluster():
    """A spec's network-policy section runs its event trials (all three by default) after the cost trials, one
    after the other; ``events: []`` runs none; a bad event is refused with the field named."""
    from cnibench.errors import SpecError
    from cnibench.plan import make_plan
    from cnibench.spec import parse_spec

    def spec(**section: object) -> dict[str, object]:
        return {"name": "np", "platform": "netns", "cnis": ["hostgw"], "rounds": 1, "metrics": {"enabled": False},
                "scenarios": {"network-policy": {"duration": 1, "repetitions": 1, "workloads": ["rr"],
                                                 "paths": ["pod-to-pod"], "placements": ["cross-node"], "sizes": [10],
                                                 "event_repetitions": 2, **section}}}  # fmt: skip

    order = make_plan(parse_spec(spec())).blocks[0].order
    events = [item for item in order if item[0] in EVENT_TRIALS]
    assert events == [(t, n) for t in EVENT_TRIALS for n in (1, 2)] and order[-len(events) :] == tuple(events)
    assert not [t for t in make_plan(parse_spec(spec(events=[]))).trials if t.scenario in EVENT_TRIALS]
    with pytest.raises(SpecError, match="events"):
        parse_spec(spec(events=["policy-drop"]))
