from __future__ import annotations

import shutil
from pathlib import Path

from cnibench.scenarios import egress
from cnibench.scenarios.egress import EGRESS
from cnibench.spec import default_spec_data, parse_spec


def _settings():
    return EGRESS.settings_of(parse_spec(default_spec_data()))


def _runs(tmp_path: Path):
    return EGRESS.repetitions(
        _settings(),
        cni="hostgw",
        numbers={"egress-baseline": range(1, 4), "egress": range(1, 4)},
        run_dir=tmp_path,
        server_ip="203.0.113.2",
        client_node_ip="172.18.0.4",
        netns="cnib0000-pod-c",
    )


def _place(data_dir: Path, run, name: str) -> None:
    Path(run.artifact).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(data_dir / "iperf3" / name, run.artifact)


def test_plan_runs_baseline_then_egress(tmp_path):
    runs = _runs(tmp_path)
    assert [(r.scenario, r.repetition) for r in runs] == [
        ("egress-baseline", 1),
        ("egress-baseline", 2),
        ("egress-baseline", 3),
        ("egress", 1),
        ("egress", 2),
        ("egress", 3),
    ]
    assert runs[0].expect.expected_source_ip == "172.18.0.4" and runs[0].expect.egress_ip is None
    assert runs[3].expect.expected_source_ip == "203.0.113.254"
    settings = _settings()
    assert runs[3].command.timeout_s == settings.duration + settings.omit + egress.TIMEOUT_MARGIN
    assert runs[3].command.netns == "cnib0000-pod-c"
    assert runs[3].command.stdout == runs[3].artifact  # iperf3 -J writes the artifact to stdout
    assert len({r.artifact for r in runs}) == len(runs)


def test_egress_and_its_baseline_alternate_so_that_they_pair_up(tmp_path):
    runs = _runs(tmp_path)
    assert EGRESS.paired
    ordered = EGRESS.sequence({"egress-baseline": range(4, 7), "egress": range(4, 7)})
    assert ordered == [("egress-baseline", 4), ("egress", 4), ("egress-baseline", 5), ("egress", 5),
                       ("egress-baseline", 6), ("egress", 6)]  # fmt: skip
    assert EGRESS.sequence({"egress-baseline": range(1, 3), "egress": range(1, 3)}, pair=False) == [
        ("egress-baseline", 1), ("egress-baseline", 2), ("egress", 1), ("egress", 2),
    ]  # fmt: skip  # a platform that cannot alternate them runs trial by trial
    assert {r.loop for r in runs} == {"egress-baseline", "egress"}  # a loop each, unless a platform pairs them


def test_plan_runs_only_the_trials_asked_for(tmp_path):
    runs = EGRESS.repetitions(
        _settings(), cni="vxlan", numbers={"egress": range(1, 3)}, run_dir=tmp_path, server_ip="203.0.113.2",
        client_node_ip="172.18.0.4",
    )  # fmt: skip
    assert [(r.cni, r.scenario, r.repetition) for r in runs] == [("vxlan", "egress", 1), ("vxlan", "egress", 2)]


def test_egress_ok_when_server_saw_the_egress_ip(tmp_path, data_dir):
    run = _runs(tmp_path)[3]
    _place(data_dir, run, "tcp-hostgw-egress.json")
    sample = EGRESS.make_sample(run, run_dir=tmp_path, started_at=1.0, ended_at=2.0)
    assert sample.status == "ok" and sample.error is None
    assert sample.egress_ip_ok is True and sample.source_ip_ok is True
    assert sample.artifact == "raw/hostgw/egress/rep-01.iperf3.json"
    assert sample.throughput_bps and sample.rtt_mean_us


def test_wrong_source_ip_fails_but_keeps_figures(tmp_path, data_dir):
    run = _runs(tmp_path)[3]
    _place(data_dir, run, "tcp-hostgw-baseline.json")  # the server saw the node IP: SNAT did not happen
    sample = EGRESS.make_sample(run, run_dir=tmp_path, started_at=1.0, ended_at=2.0)
    assert sample.status == "failed"
    assert sample.egress_ip_ok is False
    assert "server saw 172.18.0.4, expected the egress IP 203.0.113.254" in sample.error
    assert sample.throughput_bps is not None


def test_baseline_verifies_the_node_ip(tmp_path, data_dir):
    run = _runs(tmp_path)[0]
    _place(data_dir, run, "tcp-hostgw-baseline.json")
    sample = EGRESS.make_sample(run, run_dir=tmp_path, started_at=1.0, ended_at=2.0)
    assert sample.status == "ok" and sample.source_ip_ok and sample.egress_ip_ok is None


def test_tool_errors_and_missing_output_are_failed_samples(tmp_path, data_dir):
    runs = _runs(tmp_path)
    _place(data_dir, runs[0], "error-refused.json")
    refused = EGRESS.make_sample(runs[0], run_dir=tmp_path, started_at=1.0, ended_at=2.0)
    assert refused.status == "failed" and "Connection refused" in refused.error
    missing = EGRESS.make_sample(
        runs[1], run_dir=tmp_path, started_at=1.0, ended_at=2.0, failure="iperf3 killed after 32 s"
    )
    assert missing.status == "failed" and missing.error == "iperf3 killed after 32 s"
    assert missing.artifact is None
    _place(data_dir, runs[2], "tcp-no-server-output.json")
    unknown = EGRESS.make_sample(runs[2], run_dir=tmp_path, started_at=1.0, ended_at=2.0)
    assert unknown.status == "failed" and "missing" in unknown.error
