"""East-west's rr and crr workloads: the matrix and codes, the spec's refusals, the sample makers on real captured
outputs (tests/data/east_west_rr: a netns run's launcher documents; tests/data/sockperf and ab: the tools' own
stdout, as ``kubectl exec`` gives it), the Little's-law flag on a doctored copy, the CPU cost per 1,000
transactions, the summary and the metrics the verdicts read."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from cnibench.errors import SpecError
from cnibench.scenarios import metric_named, metrics_for
from cnibench.scenarios._east_west_matrix import ALL_POINTS, POINTS, code, trial_name
from cnibench.scenarios._east_west_rr import CRR_PORT, RR_PORTS, split_ab
from cnibench.scenarios.east_west import EAST_WEST, EastWestSample
from cnibench.spec import parse_spec

CROSS = {"client_node": "worker2", "server_node": "worker", "client_ip": "10.244.2.2", "backend_ip": "10.244.1.2"}


def _data(**east_west: Any) -> dict[str, Any]:
    return {
        "name": "ew",
        "platform": "netns",
        "cnis": ["hostgw"],
        "scenarios": {"east-west": {"duration": 2, "repetitions": 1, **east_west}},
    }


def _settings(**east_west: Any):
    return EAST_WEST.settings_of(parse_spec(_data(**east_west)))


def test_the_workloads_codes_and_names_are_named_once_and_the_stream_ones_unchanged():
    assert code("pod-to-pod", "cross-node", "tcp", "single", "rr") == "DT-RR"
    assert code("pod-to-pod", "cross-node", "udp", "single", "rr") == "DU-RR"
    assert code("pod-to-service", "cross-node", "tcp", "single", "crr") == "ST-CRR"
    assert code("host-to-host", "same-node", "tcp", "single", "crr") == "HT-CRR-SN"
    assert code("pod-to-pod", "cross-node", "tcp", "single") == "DTS"  # the stream codes as before
    assert trial_name("pod-to-service", "cross-node", "tcp", "single", "crr") == "pod-to-service.cross-node.tcp-crr"
    assert [p.trial for p in ALL_POINTS[:2]] == ["pod-to-pod.same-node.tcp-single", "pod-to-pod.same-node.tcp-multi"]
    crr = [p for p in ALL_POINTS if p.workload == "crr"]
    assert len(crr) == 6 and {p.protocol for p in crr} == {"tcp"}  # no crr over UDP
    assert len({p.code for p in ALL_POINTS}) == len(ALL_POINTS) == 42


def test_the_spec_chooses_workloads_and_the_default_is_todays_stream_matrix():
    assert [p.workload for p in _settings().points()] == ["stream"] * 12
    points = _settings(workloads=["rr", "crr"], protocols=["tcp", "udp"][:1], paths=["pod-to-service"]).points()
    assert [p.code for p in points] == ["ST-RR-SN", "ST-RR", "ST-CRR-SN", "ST-CRR"]
    # rr over udp needs no iperf3 bitrate
    assert [p.code for p in _settings(workloads=["rr"], protocols=["udp"], paths=["pod-to-pod"]).points()] == [
        "DU-RR-SN", "DU-RR",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"message_size": 0}, "scenarios.east-west.message_size", "greater than or equal to 14"),
        ({"workloads": ["rr", "ping"]}, "scenarios.east-west.workloads", "stream"),
        ({"workloads": ["crr"], "protocols": ["tcp", "udp"]}, "scenarios.east-west.workloads", "no UDP form"),
        ({"workloads": ["rr"], "load": "rate", "rates": ["1G"]}, "scenarios.east-west.workloads", "load: rate"),
        ({"workloads": []}, "scenarios.east-west.workloads", "at least one workload"),
    ],
)
def test_bad_input_is_refused_in_one_line_naming_the_field(changes, field, words):
    with pytest.raises(SpecError) as info:
        parse_spec(_data(**changes))
    message = str(info.value)
    assert field in message and words in message and "\n" not in message


def _sample(tmp_path: Path, trial: str, text: str, *, failure: str | None = None, target: str = "10.96.0.100"):
    crr = trial.endswith("-crr")
    settings = _settings(workloads=["crr"] if crr else ["rr"], protocols=["tcp"] if crr else ["tcp", "udp"])
    (rep,) = EAST_WEST.repetitions(settings, cni="hostgw", trial=trial, numbers=range(1, 2), run_dir=tmp_path,
                                   target_ip=target, expect=CROSS, netns="cnib0000-pod-c")  # fmt: skip
    rep.artifact.parent.mkdir(parents=True, exist_ok=True)
    rep.artifact.write_text(text)
    return rep, EAST_WEST.make_sample(rep, run_dir=tmp_path, started_at=1.0, ended_at=4.0, failure=failure)


def test_the_repetitions_run_sockperf_and_ab_against_the_servers_ports_after_an_idle_baseline(tmp_path):
    settings = _settings(workloads=["rr", "crr"], duration=3)
    (rr,) = EAST_WEST.repetitions(settings, cni="hostgw", trial="pod-to-pod.cross-node.tcp-rr", numbers=range(1, 2),
                                  run_dir=tmp_path, target_ip="10.244.1.2", expect=CROSS)  # fmt: skip
    argv = list(rr.command.argv)
    assert argv[:2] == ["sockperf", "ping-pong"] and argv[argv.index("--port") + 1] == str(RR_PORTS["tcp"])
    assert "--tcp" in argv and argv[argv.index("--msg-size") + 1] == "64" and "--full-rtt" in argv
    assert rr.command.idle_s == 3.0 and rr.artifact.name == "rep-01.sockperf.out"
    (crr,) = EAST_WEST.repetitions(settings, cni="hostgw", trial="pod-to-service.cross-node.tcp-crr",
                                   numbers=range(1, 2), run_dir=tmp_path, target_ip="10.96.0.100", expect=CROSS,
                                   wrap=lambda argv: ["launcher", "--", *argv])  # fmt: skip
    assert crr.command.argv[:4] == ("launcher", "--", "ab", "-c")
    assert crr.command.argv[-1] == f"http://10.96.0.100:{CRR_PORT}/data?size=1" and "-k" not in crr.command.argv


def test_an_rr_sample_from_the_netns_launcher_has_the_percentiles_little_and_each_nodes_conntrack(tmp_path, data_dir):
    text = (data_dir / "east_west_rr" / "netns-st-rr-hostgw.json").read_text()
    _, sample = _sample(tmp_path, "pod-to-service.cross-node.tcp-rr", text)
    assert isinstance(sample, EastWestSample) and sample.status == "ok", sample.error
    assert (sample.workload, sample.code, sample.message_size, sample.streams) == ("rr", "ST-RR", 64, 1)
    assert sample.transactions_per_s == pytest.approx(23073, rel=0.01)
    assert sample.latency_p50_us < sample.latency_p90_us < sample.latency_p99_us < sample.latency_p99_9_us
    assert sample.latency_p99_9_us <= sample.latency_max_us
    assert sample.little_ok and abs(sample.little_product - 1) < 0.01
    nodes = {n.node: n for n in sample.conntrack}
    assert set(nodes) == {"worker", "worker2"} and all(n.samples >= 2 and not n.troubled for n in nodes.values())
    assert nodes["worker"].limit == 262144 and nodes["worker"].entries_peak >= nodes["worker"].entries_start


def test_a_crr_sample_has_connections_per_s_abs_percentiles_and_the_tables_growth(tmp_path, data_dir):
    text = (data_dir / "east_west_rr" / "netns-st-crr-hostgw.json").read_text()
    _, sample = _sample(tmp_path, "pod-to-service.cross-node.tcp-crr", text)
    assert sample.status == "ok", sample.error
    assert sample.code == "ST-CRR" and sample.connections_per_s == pytest.approx(3618, rel=0.01)
    assert sample.failed_requests == 0 and sample.latency_p99_9_us is None and sample.little_product is None
    assert sample.latency_p50_us == 175.0 and sample.latency_p99_us == 777.0
    worker2 = next(n for n in sample.conntrack if n.node == "worker2")
    # every connection left an entry behind (closed flows linger in the table)
    assert worker2.entries_peak - worker2.entries_start > 0.8 * (sample.transactions or 0)


def test_ab_writes_its_percentile_block_into_its_stdout_and_it_is_cut_out(data_dir):
    text = json.loads((data_dir / "east_west_rr" / "netns-st-crr-hostgw.json").read_text())["stdout"]
    report, csv = split_ab(text)
    assert csv is not None and csv.splitlines()[0] == "Percentage served,Time in ms" and len(csv.splitlines()) == 102
    assert "Percentage served" not in report and "Complete requests" in report


def test_little_s_law_failing_on_a_doctored_copy_fails_the_repetition_keeps_its_figures_and_flags_it(
    tmp_path, data_dir
):
    doc = json.loads((data_dir / "east_west_rr" / "netns-st-rr-hostgw.json").read_text())
    head, _, tail = doc["stdout"].partition("avg-rtt=")
    mean = float(tail.split(" ", 1)[0])
    doc["stdout"] = head + "avg-rtt=" + f"{mean * 2:.3f}" + tail[len(tail.split(" ", 1)[0]) :]  # twice the mean
    _, sample = _sample(tmp_path, "pod-to-service.cross-node.tcp-rr", json.dumps(doc))
    assert sample.status == "failed" and sample.little_ok is False and "Little's law" in (sample.error or "")
    assert sample.little_product == pytest.approx(2, rel=0.02) and sample.transactions_per_s is not None
    warnings: list[str] = []
    lines = EAST_WEST.summary_lines([sample], warnings)
    assert any("flagged, not averaged" in w and "Little" in w for w in warnings)
    assert any(line.startswith("hostgw  ST-RR ") and " 0/1 " in line for line in lines)


@pytest.mark.parametrize(
    ("golden", "trial", "words"),
    [
        ("sockperf/tcp-refused.out", "pod-to-pod.cross-node.tcp-rr", "Can`t connect socket"),
        ("sockperf/udp-no-server.out", "pod-to-pod.cross-node.udp-rr", "No messages were received"),
        ("sockperf/tcp-server-killed.out", "pod-to-pod.cross-node.tcp-rr", "sockperf measured nothing"),
        ("sockperf/tcp-interrupted.out", "pod-to-pod.cross-node.tcp-rr", "interrupted"),
        ("ab/crr-refused-r.out", "pod-to-pod.cross-node.tcp-crr", "requests failed"),
        ("ab/crr-server-killed-r.out", "pod-to-pod.cross-node.tcp-crr", "requests failed"),
    ],
)
def test_a_failed_or_partial_run_is_a_failed_repetition_with_the_tools_reason(tmp_path, data_dir, golden, trial, words):
    _, sample = _sample(tmp_path, trial, (data_dir / golden).read_text(errors="replace"), target="10.244.1.2")
    assert sample.status == "failed" and words in (sample.error or ""), sample.error
    if "crr" in trial:
        assert sample.connections_per_s is None and (sample.failed_requests or 0) > 0


def test_a_crr_repetition_that_saw_insert_failures_says_so(tmp_path, data_dir):
    doc = json.loads((data_dir / "east_west_rr" / "netns-st-crr-hostgw.json").read_text())
    doc["conntrack"]["worker"][-1]["insert_failed"] += 3  # a doctored copy: three inserts failed at the end
    _, sample = _sample(tmp_path, "pod-to-service.cross-node.tcp-crr", json.dumps(doc))
    warnings: list[str] = []
    lines = EAST_WEST.summary_lines([sample], warnings)
    assert any("worker saw conntrack trouble" in w and "insert_failed 3" in w for w in warnings)
    assert any("nf_conntrack_max" in line for line in lines)


def test_the_cpu_cost_per_1000_transactions_is_net_of_the_idle_window(tmp_path, data_dir):
    text = (data_dir / "east_west_rr" / "netns-st-crr-hostgw.json").read_text()
    _, sample = _sample(tmp_path, "pod-to-service.cross-node.tcp-crr", text)
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    shutil.copy(data_dir / "east_west_rr" / "netns-st-crr-hostgw.cpu_seconds.json", metrics / "cpu_seconds.json")
    costed = EAST_WEST.with_cost(sample, metrics)
    cost = costed.cpu_cost
    assert cost is not None and cost.idle_cores is not None
    net = cost.load_cores["total"] - cost.idle_cores["total"]
    assert costed.cpu_s_per_1k_transactions == pytest.approx(net / (sample.connections_per_s / 1000))


def test_the_verdicts_read_rr_p99_and_transactions_and_crr_connections_as_primary():
    rr = metrics_for("pod-to-pod.cross-node.tcp-rr")
    assert [m.name for m in rr if m.primary] == ["latency_p99_us", "transactions_per_s"]
    assert [m.name for m in metrics_for("host-to-host.same-node.tcp-crr") if m.primary] == ["connections_per_s"]
    assert [m.name for m in metrics_for("pod-to-pod.cross-node.tcp-single") if m.primary] == ["throughput_bps"]
    assert metric_named("latency_p99_us").better == "lower" and metric_named("connections_per_s").better == "higher"
    assert POINTS["pod-to-pod.cross-node.tcp-rr"].workload == "rr"
