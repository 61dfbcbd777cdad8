"""`cnibench parse` and `cnibench reanalyze`: the figures a run would record, from raw files, after the fact."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cnibench.cli import main
from cnibench.reanalysis import parse_artifact, reanalyze
from cnibench.results.model import RESULTS_FILE, RunResults, read_results
from cnibench.results.store import Store, recorded_store
from cnibench.scenarios.egress import EgressSample
from cnibench.scenarios.ingress import IngressSample

CASES = Path(__file__).parent.parent / "data" / "cases" / "parsers"


def _parse(capsys, *args: str) -> tuple[int, dict]:
    code = main(["parse", *args])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


# ---- parse: every case file gives its right value -------------------------------------------------------------


def test_parse_iperf3_udp_loss_from_the_receiver(capsys):
    code, answer = _parse(capsys, "iperf3", str(CASES / "iperf3-udp-loss-includes-warmup.json"))
    assert code == 0 and answer["status"] == "ok" and answer["protocol"] == "udp"
    assert answer["lost_packets"] == 193 and answer["lost_percent"] == pytest.approx(0.2166, abs=1e-4)
    assert not {"cni", "scenario", "repetition", "started_at", "ended_at"} & set(answer)


def test_parse_iperf3_retimed_interval(capsys):
    _, answer = _parse(capsys, "iperf3", str(CASES / "iperf3-tcp-omit-race-interval.json"))
    assert answer["intervals_bps"][0] == pytest.approx(14.86e9, rel=0.01)


def test_parse_iperf3_rtt_of_the_measured_intervals(capsys):
    _, answer = _parse(capsys, "iperf3", str(CASES / "iperf3-tcp-rtt-includes-warmup.json"))
    assert (answer["rtt_mean_us"], answer["rtt_min_us"], answer["rtt_max_us"]) == (73.5, 61, 86)


def test_parse_iperf3_rtt_not_measured(capsys):
    _, answer = _parse(capsys, "iperf3", str(CASES / "iperf3-rtt-zero-not-measured.json"))
    assert answer["rtt_mean_us"] is None and answer["status"] == "ok"
    assert any("not measured" in note for note in answer["notes"])


def test_parse_iperf3_checks_the_source_only_when_asked(capsys):
    path = str(CASES / "iperf3-tcp-omit-race-interval.json")
    _, plain = _parse(capsys, "iperf3", path)
    assert plain["status"] == "ok" and plain["source_ip_ok"] is None and plain["source_ip_seen"] == "203.0.113.254"
    _, wrong = _parse(capsys, "iperf3", path, "--expected-source-ip", "172.18.0.4")
    assert wrong["status"] == "failed" and "server saw 203.0.113.254" in wrong["error"]
    assert wrong["source_ip_ok"] is False


def test_parse_k6_judges_the_failed_rate(capsys):
    code, answer = _parse(capsys, "k6", str(CASES / "k6-no-thresholds-all-failed.json"))
    assert code == 0 and answer["status"] == "failed" and answer["failed_rate"] == 1.0
    assert answer["error"] == "100.00% of requests failed, above max_failed_rate 0.00%"
    _, lenient = _parse(capsys, "k6", str(CASES / "k6-no-thresholds-all-failed.json"), "--max-failed-rate", "1")
    assert lenient["status"] == "ok"


def test_parse_k6_backends_default_to_those_counted(capsys, data_dir):
    _, answer = _parse(capsys, "k6", str(data_dir / "k6" / "l7-hostgw-3-backends.json"))
    assert set(answer["backend_hits"]) == {"echo-1", "echo-2", "echo-3"} and answer["backends_seen"] == 3
    _, four = _parse(capsys, "k6", str(data_dir / "k6" / "l7-hostgw-3-backends.json"), "--backends", "echo-1,echo-9")
    assert four["backend_hits"]["echo-9"] == 0 and four["backends_expected"] == 2


@pytest.mark.parametrize(
    ("name", "node", "key", "value"),
    [
        ("prometheus-cpu-util-with-inf.json", "worker", "cpu_util_avg", 0.7530),
        ("prometheus-cpu-util-negative.json", "control-plane", "cpu_util_avg", 0.00083),
    ],
)
def test_parse_prometheus_cases(capsys, tmp_path, data_dir, name, node, key, value):
    """The case file as a repetition's saved answer, beside the other queries' real answers."""
    for query in ("mem_used_bytes", "net_tx_bps", "net_rx_bps"):
        shutil.copy(data_dir / "prometheus" / f"{query}.json", tmp_path)
    shutil.copy(CASES / name, tmp_path / "cpu_util.json")
    code, answer = _parse(capsys, "prometheus", str(tmp_path))
    assert code == 0 and answer["node_metrics"][node][key] == pytest.approx(value, abs=5e-5)
    assert answer["notes"]


def test_parse_prometheus_names_the_missing_metrics(capsys):
    code, answer = _parse(capsys, "prometheus", str(CASES / "prometheus-window-no-net-series"))
    assert code == 0 and answer["status"] == "ok"
    assert answer["metrics_error"].startswith("metrics missing: net_tx_bps: no series in the window")


def test_parse_prometheus_keeps_every_series_without_a_node_label(tmp_path, data_dir):
    for query in ("cpu_util", "mem_used_bytes", "net_rx_bps"):
        shutil.copy(data_dir / "prometheus" / f"{query}.json", tmp_path)
    shutil.copy(CASES / "prometheus-net-tx-no-node-label.json", tmp_path / "net_tx_bps.json")
    answer = parse_artifact("prometheus", tmp_path)
    assert {"series-1", "series-2", "series-3"} <= set(answer["node_metrics"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["iperf3", "/no/such/file.json"], "/no/such/file.json: no such file"),
        (["iperf3", "."], ".: not a file"),
        (["prometheus", str(CASES / "README.md")], "not a directory"),
    ],
)
def test_parse_bad_paths_exit_2_with_one_line(capsys, args, message):
    assert main(["parse", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and message in captured.err


def test_parse_a_broken_file_is_a_failed_sample_not_an_error(capsys, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"start": ')
    code, answer = _parse(capsys, "iperf3", str(broken))
    assert code == 0 and answer["status"] == "failed" and "not JSON" in answer["error"]


def test_parse_reads_standard_input_and_a_pipe(tmp_path, data_dir, capsys):
    """/dev/stdin and a process substitution (<(...), a pipe) are read once, as plan reads a spec from them."""
    text = (data_dir / "iperf3" / "udp-vxlan-egress.json").read_text()
    done = subprocess.run(
        [sys.executable, "-m", "cnibench", "parse", "iperf3", "/dev/stdin"],
        input=text, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["lost_packets"] == 193
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_text, args=(text,))
    writer.start()
    code, answer = _parse(capsys, "iperf3", str(fifo))
    writer.join(timeout=10)
    assert code == 0 and answer["protocol"] == "udp" and answer["lost_packets"] == 193


def test_parse_reverse_udp_reads_the_client_that_received(capsys, data_dir):
    code, answer = _parse(capsys, "iperf3", str(data_dir / "iperf3" / "udp-reverse-loopback.json"))
    doc = json.loads((data_dir / "iperf3" / "udp-reverse-loopback.json").read_text())
    assert code == 0 and answer["status"] == "ok"
    assert answer["throughput_bps"] == doc["end"]["sum_received"]["bits_per_second"] > 9e7  # not 0 (iperf#1410)
    assert answer["jitter_ms"] == doc["end"]["sum_received"]["jitter_ms"] > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["iperf3", "iperf3/tcp-bidir-loopback.json"],
            "iperf3/tcp-bidir-loopback.json: iperf3 --bidir output (both directions in one test): cnibench reads "
            "one direction per test; measure each direction as its own test (-R for the server-to-client one)",
        ),
        (
            ["iperf3", "--protocol", "udp", "iperf3/tcp-hostgw-egress.json"],
            "iperf3/tcp-hostgw-egress.json: --protocol udp, but the file is a TCP test (start.test_start.protocol); "
            "leave --protocol out",
        ),
        (
            ["k6", "--backends", "echo-1,echo-1", "k6/l7-hostgw-3-backends.json"],
            "--backends: echo-1 named more than once (each backend pod once)",
        ),
    ],
)
def test_parse_refuses_what_it_would_misread_with_one_line(capsys, data_dir, args, message):
    args = [*args[:-1], str(data_dir / args[-1])]
    assert main(["parse", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == f"cnibench: error: {data_dir}/{message}\n".replace(
        f"{data_dir}/--backends", "--backends"
    )


def test_parse_answer_has_no_round(capsys, data_dir):
    _, answer = _parse(capsys, "k6", str(data_dir / "k6" / "l7-hostgw-3-backends.json"))
    assert "round" not in answer and answer["status"] == "ok"


# ---- reanalyze: a run recorded by the old parsers, made right --------------------------------------------------


def _old_run(tmp_path: Path, data_dir: Path) -> Path:
    """A schema-4 run directory as cnibench recorded it before the parser fixes: the figures the case README says
    the old parsers gave (UDP loss 462 / 0.518 %, RTT mean 89 / max 122), with the real raw artifacts."""
    run_dir = tmp_path / "results" / "20261126-051629-old"
    samples = []
    for cni, scenario, case, figures in (
        ("vxlan", "egress", "iperf3-udp-loss-includes-warmup.json",
         {"protocol": "udp", "lost_packets": 462, "lost_percent": 0.518419605686906, "jitter_ms": 0.0130}),
        ("vxlan", "egress-baseline", "iperf3-tcp-rtt-includes-warmup.json",
         {"protocol": "tcp", "rtt_mean_us": 89.0, "rtt_min_us": 61.0, "rtt_max_us": 122.0}),
    ):  # fmt: skip
        artifact = Path("raw") / cni / scenario / "rep-01.iperf3.json"
        (run_dir / artifact).parent.mkdir(parents=True)
        shutil.copy(CASES / case, run_dir / artifact)
        doc = json.loads((run_dir / artifact).read_text())
        seen = doc["server_output_json"]["start"]["accepted_connection"]["host"]
        samples.append(
            {
                "cni": cni, "scenario": scenario, "repetition": 1, "status": "ok", "error": None,
                "started_at": 1.0, "ended_at": 4.0, "artifact": str(artifact), "throughput_bps": 1e9,
                "source_ip_seen": seen, "expected_source_ip": seen, "source_ip_ok": True, "egress_ip": None,
                **figures,
            }
        )  # fmt: skip
    k6_artifact = Path("raw") / "vxlan" / "ingress" / "rep-01.k6-summary.json"
    (run_dir / k6_artifact).parent.mkdir(parents=True)
    shutil.copy(CASES / "k6-no-thresholds-all-failed.json", run_dir / k6_artifact)
    samples.append(
        {
            "cni": "vxlan", "scenario": "ingress", "repetition": 1, "status": "ok", "artifact": str(k6_artifact),
            "gateway": "l7", "vus": 20, "reuse_connections": True, "backends_expected": 0, "failed_rate": 1.0,
        }
    )  # fmt: skip
    results = {
        "schema_version": 4, "run_id": run_dir.name, "name": "old", "platform": "netns", "status": "complete",
        "started_at": time.time(), "ended_at": time.time(), "cnibench_version": "0.1.0", "planned_repetitions": 3,
        "spec": {"scenarios": {"ingress": {"max_failed_rate": 0.0}}}, "environment": {}, "samples": samples,
    }  # fmt: skip
    (run_dir / RESULTS_FILE).write_text(json.dumps(results))
    return run_dir


def test_reanalyze_makes_a_new_run_with_the_right_figures(tmp_path, data_dir):
    run_dir = _old_run(tmp_path, data_dir)
    before = (run_dir / RESULTS_FILE).read_bytes()
    source = read_results(run_dir)
    done = reanalyze(source, run_dir, tmp_path / "again")
    assert (run_dir / RESULTS_FILE).read_bytes() == before  # the original is never modified
    new = read_results(done.run_dir)
    assert new.run_id != source.run_id and new.provenance is not None
    assert new.provenance["reanalyzed_from"] == source.run_id and new.provenance["from_schema_version"] == 4
    udp, tcp, k6_sample = new.samples
    assert isinstance(udp, EgressSample) and (udp.lost_packets, round(udp.lost_percent or 0, 4)) == (193, 0.2166)
    assert isinstance(tcp, EgressSample) and (tcp.rtt_mean_us, tcp.rtt_max_us) == (73.5, 86)
    assert isinstance(k6_sample, IngressSample) and k6_sample.status == "failed"  # 100 % failed, threshold 0
    assert (done.run_dir / "raw" / "vxlan" / "egress" / "rep-01.iperf3.json").exists()
    assert "vxlan egress rep 1: lost_packets 462 -> 193" in done.changes
    assert "vxlan egress-baseline rep 1: rtt_mean_us 89 -> 73.5" in done.changes
    assert "vxlan ingress rep 1: status ok -> failed" in done.changes
    # what did not change is not listed: the UDP sample's protocol and the TCP sample's minimum RTT
    assert not any(" rtt_min_us " in line for line in done.changes)


def test_reanalyze_command_stores_and_reports(tmp_path, data_dir, capsys):
    run_dir = _old_run(tmp_path, data_dir)
    out = tmp_path / "again"
    assert main(["reanalyze", str(run_dir), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"reanalyzed {run_dir.name} (cnibench 0.1.0)" in printed
    assert "lost_packets 462 -> 193" in printed and f"stored in {out / 'cnibench.db'}" in printed
    new_dir = next(p for p in out.iterdir() if p.is_dir())
    assert (new_dir / "report.html").exists()
    assert isinstance(RunResults.model_validate_json((new_dir / RESULTS_FILE).read_text()), RunResults)


def test_reanalyze_follows_the_store_rule(tmp_path, data_dir, capsys, monkeypatch):
    """A stored run id is looked up where every command looks ($CNIBENCH_DB here, not ./results), the new run is
    stored there too, and its directory records that store."""
    run_dir = _old_run(tmp_path, data_dir)
    elsewhere = tmp_path / "elsewhere.db"
    Store(elsewhere).add(read_results(run_dir), run_dir)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CNIBENCH_DB", str(elsewhere))
    assert main(["reanalyze", run_dir.name, "-o", "again"]) == 0
    assert f"\nstored in {elsewhere}\n" in capsys.readouterr().out
    new_dir = next(p for p in (tmp_path / "again").iterdir() if p.is_dir())
    assert recorded_store(new_dir) == elsewhere
    assert len(Store(elsewhere).runs()) == 2


def test_reanalyze_refuses_a_run_without_raw_artifacts(tmp_path, data_dir, capsys):
    run_dir = _old_run(tmp_path, data_dir)
    shutil.rmtree(run_dir / "raw")
    assert main(["reanalyze", str(run_dir), "-o", str(tmp_path / "x")]) == 2
    assert "no raw/ directory" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_reanalyze_fails_a_broken_artifact_and_goes_on(tmp_path, data_dir):
    """One artifact that cannot be read (here a directory where the file was) and one with a NaN token fail their
    samples with the reason; the others are re-derived."""
    run_dir = _old_run(tmp_path, data_dir)
    k6_file = run_dir / "raw" / "vxlan" / "ingress" / "rep-01.k6-summary.json"
    k6_file.write_text(k6_file.read_text().replace('"value": 1', '"value": NaN', 1))
    assert "NaN" in k6_file.read_text()
    tcp_file = run_dir / "raw" / "vxlan" / "egress-baseline" / "rep-01.iperf3.json"
    tcp_file.unlink()
    tcp_file.mkdir()
    done = reanalyze(read_results(run_dir), run_dir, tmp_path / "again")
    udp, tcp, k6_sample = read_results(done.run_dir).samples
    assert udp.status == "ok" and isinstance(udp, EgressSample) and udp.lost_packets == 193
    assert tcp.status == "failed" and tcp.error == (
        "reanalyze: raw/vxlan/egress-baseline/rep-01.iperf3.json: cannot read: Is a directory"
    )
    assert isinstance(tcp, EgressSample) and tcp.rtt_mean_us is None  # the old parsers' figures are not kept
    assert k6_sample.status == "failed" and "holds NaN where a number belongs" in (k6_sample.error or "")
    assert "vxlan egress-baseline rep 1: status ok -> failed" in done.changes
