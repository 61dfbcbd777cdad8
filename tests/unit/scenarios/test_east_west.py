from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from cnibench import cli
from cnibench.errors import SpecError
from cnibench.report.text import table_width
from cnibench.results.model import RunResults
from cnibench.scenarios import SCENARIOS, scenario_of
from cnibench.scenarios._east_west_matrix import ALL_POINTS, MAX_STREAMS, TRIALS
from cnibench.scenarios.east_west import EAST_WEST, EastWestSample
from cnibench.scenarios.egress import EGRESS
from cnibench.spec import parse_spec

SERVICE_IP = "10.96.0.100"


def _data(**east_west: Any) -> dict[str, Any]:
    return {
        "name": "ew",
        "platform": "netns",
        "cnis": ["hostgw", "vxlan"],
        "scenarios": {"east-west": {"duration": 2, "omit": 1, "repetitions": 1, **east_west}},
    }


def _settings(**east_west: Any):
    return EAST_WEST.settings_of(parse_spec(_data(**east_west)))


def test_codes_are_infrabuilders_for_cross_node_with_h_for_host_and_sn_for_same_node():
    codes = {(p.path, p.placement, p.protocol, p.streams): p.code for p in ALL_POINTS if p.workload == "stream"}
    # InfraBuilder's bench.sh: D(irect)/S(ervice), T(CP)/U(DP), S(ingle)/M(ulti), all cross-node
    modes = (("tcp", "single"), ("tcp", "multi"), ("udp", "single"), ("udp", "multi"))
    assert [codes[("pod-to-pod", "cross-node", *mode)] for mode in modes] == ["DTS", "DTM", "DUS", "DUM"]
    assert [codes[("pod-to-service", "cross-node", *mode)] for mode in modes] == ["STS", "STM", "SUS", "SUM"]
    assert codes[("host-to-host", "cross-node", "tcp", "single")] == "HTS"
    assert codes[("pod-to-pod", "same-node", "udp", "multi")] == "DUM-SN"
    assert len(set(codes.values())) == 24
    assert len({p.code for p in ALL_POINTS}) == len(TRIALS) == 24 + 12 + 6  # stream, rr (tcp, udp), crr (tcp)
    assert all(scenario_of(trial) is EAST_WEST for trial in TRIALS)


def test_the_spec_chooses_the_matrix_and_each_trial_shows_its_code():
    settings = _settings(paths=["pod-to-service"], placements=["cross-node"], protocols=["tcp", "udp"],
                         streams=["multi"], parallel=4, bitrate="200M")  # fmt: skip
    trials = EAST_WEST.trials_for(settings, "hostgw")
    assert [t.scenario for t in trials] == [
        "pod-to-service.cross-node.tcp-multi",
        "pod-to-service.cross-node.udp-multi",
    ]
    assert trials[0].settings == "STM: tcp, 4 stream(s), 2 s + 1 s warm-up"
    assert trials[1].settings == "SUM: udp, 4 stream(s) at 200Mbit/s each, 2 s + 1 s warm-up"


def test_defaults_run_tcp_single_and_multi_over_every_path_and_placement():
    settings = _settings()
    assert len(settings.points()) == 12 and settings.parallel == 8


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        (
            {"paths": ["pod-to-node"]},
            "scenarios.east-west.paths[0]",
            "'pod-to-pod', 'pod-to-service' or 'host-to-host'",
        ),
        ({"placements": ["same-rack"]}, "scenarios.east-west.placements[0]", "'same-node' or 'cross-node'"),
        ({"parallel": MAX_STREAMS + 1}, "scenarios.east-west.parallel", "iperf3 allows at most 128"),
        ({"parallel": 1}, "scenarios.east-west.parallel", "greater than or equal to 2"),
        ({"protocols": ["udp"]}, "scenarios.east-west.bitrate", "required with protocol udp"),
        ({"protocols": ["udp"], "bitrate": "fast"}, "scenarios.east-west.bitrate", "K, M or G"),
        ({"paths": []}, "scenarios.east-west.paths", "at least one path"),
        ({"streams": ["single", "single"]}, "scenarios.east-west.streams", "only once"),
        ({"client_node": "worker3"}, "scenarios.east-west.client_node", "no worker 'worker3'"),
        ({"server_node": "worker2", "client_node": "worker2"}, "scenarios.east-west.client_node", "other than"),
    ],
)
def test_bad_input_names_the_field(changes, field, words):
    with pytest.raises(SpecError) as info:
        parse_spec(_data(**changes))
    message = str(info.value)
    assert field in message and words in message and "\n" not in message


def test_cross_node_with_one_worker_is_refused_naming_placements_and_same_node_alone_runs():
    data = _data(placements=["same-node", "cross-node"])
    data["nodes"] = {"workers": 1}
    with pytest.raises(SpecError, match=r"scenarios\.east-west\.placements: cross-node needs two workers"):
        parse_spec(data)
    data["scenarios"]["east-west"]["placements"] = ["same-node"]
    assert parse_spec(data).nodes.workers == 1


def test_run_with_bad_input_exits_2_and_creates_nothing(tmp_path, capsys):
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: ew\ncnis: [hostgw]\nscenarios:\n  east-west:\n    protocols: [udp]\n")
    results = tmp_path / "results"
    assert cli.main(["run", str(spec), "--results-dir", str(results)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "scenarios.east-west.bitrate" in err
    assert not results.exists()


def test_iperf3_metrics_are_the_same_declarations_as_egress():
    assert EAST_WEST.metrics is EGRESS.metrics
    # the first modules lead; the others follow in the order they registered (a test importing one registers it early)
    assert SCENARIOS.names()[:2] == ("egress", "ingress")
    assert set(SCENARIOS.names()) == {"egress", "ingress", "east-west", "egress-change", "ingested", "network-policy"}


def _run(tmp_path: Path, data_dir: Path, trial: str, golden: str, *, target: str, expect: dict[str, Any],
         settings=None):  # fmt: skip
    settings = settings or _settings(protocols=["tcp", "udp"], bitrate="100M")
    (rep,) = EAST_WEST.repetitions(settings, cni="hostgw", trial=trial, numbers=range(1, 2), run_dir=tmp_path,
                                   target_ip=target, expect=expect, netns="cnib0000-pod-c")  # fmt: skip
    rep.artifact.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(data_dir / "iperf3" / golden, rep.artifact)
    return rep, EAST_WEST.make_sample(rep, run_dir=tmp_path, started_at=1.0, ended_at=4.0)


SAME = {"client_node": "worker", "server_node": "worker", "client_ip": "10.244.1.3", "backend_ip": "10.244.1.2"}


def test_a_service_sample_is_verified_from_the_servers_side(tmp_path, data_dir):
    rep, sample = _run(tmp_path, data_dir, "pod-to-service.same-node.tcp-single",
                       "tcp-hostgw-east-west-service-same-node.json", target=SERVICE_IP, expect=SAME)  # fmt: skip
    assert "--client" in rep.command.argv and SERVICE_IP in rep.command.argv
    assert sample.status == "ok", sample.error
    assert isinstance(sample, EastWestSample)
    assert (sample.code, sample.path, sample.placement, sample.protocol, sample.streams) == (
        "STS-SN", "pod-to-service", "same-node", "tcp", 1)  # fmt: skip
    assert sample.source_ip_seen == "10.244.1.3" and sample.source_ip_ok  # no SNAT through the Service
    assert sample.backend_ip_seen == "10.244.1.2" and sample.connected_to == SERVICE_IP  # DNAT to the backend
    assert sample.verified and sample.throughput_bps > 1e9 and sample.rtt_mean_us > 0


def test_a_udp_multi_stream_service_sample_has_loss_and_jitter(tmp_path, data_dir):
    expect = {**SAME, "client_node": "worker2", "client_ip": "10.244.2.2"}
    _, sample = _run(tmp_path, data_dir, "pod-to-service.cross-node.udp-multi",
                     "udp-p8-hostgw-east-west-service-cross-node.json", target=SERVICE_IP, expect=expect)  # fmt: skip
    assert sample.status == "ok", sample.error
    assert sample.code == "SUM" and sample.streams == 8 and sample.verified
    assert sample.jitter_ms is not None and sample.lost_percent is not None and sample.rtt_mean_us is None


def test_snat_or_another_backend_fails_the_repetition_and_keeps_its_figures(tmp_path, data_dir):
    wrong = {**SAME, "client_ip": "10.244.1.9", "backend_ip": "10.244.1.7"}
    _, sample = _run(tmp_path, data_dir, "pod-to-service.same-node.tcp-single",
                     "tcp-hostgw-east-west-service-same-node.json", target=SERVICE_IP, expect=wrong)  # fmt: skip
    assert sample.status == "failed" and not sample.verified
    assert "server saw 10.244.1.3, expected the client pod's own address 10.244.1.9 (no SNAT)" in sample.error
    assert "the server answered on 10.244.1.2, expected the backend 10.244.1.7" in sample.error
    assert sample.throughput_bps > 0


def test_a_service_sample_whose_client_did_not_connect_to_the_cluster_ip_fails(tmp_path, data_dir):
    _, sample = _run(tmp_path, data_dir, "pod-to-service.same-node.tcp-single",
                     "tcp-hostgw-east-west-service-same-node.json", target="10.96.0.200", expect=SAME)  # fmt: skip
    assert sample.status == "failed" and "the client was connected to 10.96.0.100, expected 10.96.0.200" in sample.error


def _samples(tmp_path: Path, data_dir: Path) -> list[Any]:
    cross = {"client_node": "worker2", "server_node": "worker"}
    out = []
    for cni in ("hostgw", "vxlan"):
        for trial, golden, target, ips in (
            ("pod-to-pod.cross-node.tcp-single", "tcp-hostgw-east-west-pod-cross-node.json", "10.244.1.2",
             {"client_ip": "10.244.2.2", "backend_ip": "10.244.1.2"}),
            ("host-to-host.cross-node.tcp-single", "tcp-hostgw-east-west-host-cross-node.json", "172.18.0.3",
             {"client_ip": "172.18.0.4", "backend_ip": "172.18.0.3"}),
        ):  # fmt: skip
            _, sample = _run(tmp_path / cni, data_dir, trial, golden, target=target, expect={**cross, **ips})
            out.append(sample.model_copy(update={"cni": cni}))
    return out


def test_the_summary_has_a_table_per_cni_and_the_pod_host_ratio_per_datapath(tmp_path, data_dir):
    samples = _samples(tmp_path, data_dir)
    assert all(s.status == "ok" and s.verified for s in samples), [s.error for s in samples]
    results = RunResults.model_construct(samples=samples)
    warnings: list[str] = []
    with table_width(200):  # a wide terminal: the table unfolded
        lines = EAST_WEST.summary_lines(results.samples, warnings)
    assert lines[0].split()[:6] == ["cni", "code", "path", "placement", "mode", "ok"]
    rows = [line.split() for line in lines[1:5]]
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("hostgw", "DTS", "pod-to-pod"), ("hostgw", "HTS", "host-to-host"),
        ("vxlan", "DTS", "pod-to-pod"), ("vxlan", "HTS", "host-to-host"),
    ]  # fmt: skip
    assert all(r[-1] == "1/1" for r in rows)
    pod = next(s for s in samples if s.path == "pod-to-pod").throughput_bps
    host = next(s for s in samples if s.path == "host-to-host").throughput_bps
    assert lines[5].startswith("pod network / host network throughput")
    ratio_rows = [line.split() for line in lines[7:]]
    assert [r[0] for r in ratio_rows] == ["hostgw", "vxlan"]
    assert ratio_rows[0][1:4] == ["cross-node", "tcp", f"{pod / host:.2f}"]
    assert not warnings


def test_reanalysis_judges_a_sample_against_what_it_recorded(tmp_path, data_dir):
    sample = _samples(tmp_path, data_dir)[0]
    recorded = EAST_WEST.recorded_expectation(sample, {}, Path(sample.artifact or ""))
    assert recorded.client_ip == "10.244.2.2" and recorded.path == "pod-to-pod" and recorded.code == "DTS"


def test_the_settings_line_says_the_matrix_in_a_few_words():
    text = EAST_WEST.settings_text({"streams": ["single"], "duration": 2, "omit": 1}, rounds=2)
    assert text == (
        "6 trial(s): pod-to-pod/pod-to-service/host-to-host x same-node/cross-node x tcp x single, 2 s + 1 s "
        "warm-up, 3 repetition(s) per round"
    )
    udp = EAST_WEST.settings_text({"protocols": ["udp"], "bitrate": "1G", "paths": ["pod-to-pod"]})
    assert "udp (udp 1Gbit/s per stream) x single/multi (multi: -P 8)" in udp and udp.startswith("4 trial(s)")


def _plan(settings, trial: str, run_dir: Path):
    return EAST_WEST.repetitions(settings, cni="hostgw", trial=trial, numbers=range(1, 2), run_dir=run_dir,
                                 target_ip="10.244.1.2", expect={})  # fmt: skip


def test_a_fixed_load_runs_the_matrix_once_per_rate_with_codes_and_an_idle_baseline(tmp_path):
    settings = _settings(paths=["pod-to-pod"], placements=["cross-node"], streams=["single", "multi"], parallel=4,
                         load="rate", rates=["500M", "2G"])  # fmt: skip
    trials = EAST_WEST.trials_for(settings, "hostgw")
    assert [t.scenario for t in trials] == [
        "pod-to-pod.cross-node.tcp-single@500M", "pod-to-pod.cross-node.tcp-multi@500M",
        "pod-to-pod.cross-node.tcp-single@2G", "pod-to-pod.cross-node.tcp-multi@2G",
    ]  # fmt: skip
    assert trials[3].settings == (
        "DTM@2G: tcp, 4 stream(s), 2 s + 1 s warm-up, offered 2G bit/s, 2 s idle baseline first"
    )
    assert all(EAST_WEST.owns(t.scenario) for t in trials)
    assert EAST_WEST.metrics_of(trials[0].scenario)[0].name == "rtt_mean_us"  # RTT under load leads a fixed load
    (rep,) = _plan(settings, "pod-to-pod.cross-node.tcp-multi@2G", tmp_path)
    argv = rep.command.argv
    assert argv[argv.index("--bitrate") + 1] == "500000000"  # 2 Gbit/s over 4 streams: iperf3's -b is per stream
    assert rep.command.idle_s == settings.duration and rep.warmup_s == settings.duration + settings.omit
    assert rep.expect.offered_rate == 2e9
    with pytest.raises(KeyError):  # a rate the spec does not offer
        _plan(settings, "pod-to-pod.cross-node.tcp-multi@1G", tmp_path)
    saturate = _settings(paths=["pod-to-pod"], placements=["cross-node"], streams=["single"])
    (rep,) = _plan(saturate, "pod-to-pod.cross-node.tcp-single", tmp_path)
    assert "--bitrate" not in rep.command.argv and rep.command.idle_s == 0


def test_a_fixed_load_sample_says_whether_it_sustained_the_offered_rate(tmp_path, data_dir):
    """A real DTS@2G capture (vxlan, tests/data/iperf3/README.md): 2 Gbit/s offered was carried; the same output
    judged against 100 Gbit/s offered is marked as not sustained, its figures kept."""
    cross = {**SAME, "client_node": "worker2", "client_ip": "10.244.2.2"}
    golden = "tcp-rate-2G-vxlan-east-west-pod-cross-node.json"
    for offered, sustained in ((2e9, True), (100e9, False)):
        settings = _settings(paths=["pod-to-pod"], placements=["cross-node"], streams=["single"], load="rate",
                             rates=[offered])  # fmt: skip
        trial = f"pod-to-pod.cross-node.tcp-single@{EAST_WEST.settings_model.rate_unit.label(offered)}"
        _, sample = _run(tmp_path, data_dir, trial, golden, target="10.244.1.2", expect=cross, settings=settings)
        assert isinstance(sample, EastWestSample) and sample.scenario == trial and sample.code == "DTS"
        assert sample.status == "ok" and sample.verified, sample.error
        assert sample.load == "rate" and sample.offered_rate == offered and sample.sustained is sustained
        assert sample.achieved_fraction == pytest.approx(sample.throughput_bps / offered)
        assert sample.rtt_mean_us > 0  # RTT under load
    with pytest.raises(ValueError, match="scenario"):
        EastWestSample(cni="hostgw", scenario="pod-to-pod.cross-node.tcp-single@fast", repetition=1, status="ok",
                       path="pod-to-pod", placement="cross-node", protocol="tcp", streams=1, code="DTS")  # fmt: skip
