"""Load modes (``load: rate``): the spec, the trials per offered rate, the tools' arguments, achieved vs offered on
real captured outputs, and the CPU cost per unit of work from a real Prometheus answer."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnibench import cli
from cnibench.metrics.cpu import cpu_windows, value_at
from cnibench.plan import make_plan
from cnibench.proc import tool_path
from cnibench.repetition import MeasureCommand
from cnibench.scenarios._ingress_settings import backend_names
from cnibench.scenarios.egress import EGRESS, EgressExpectation
from cnibench.scenarios.ingress import INGRESS, IngressExpectation
from cnibench.scenarios.load import SUSTAIN_TOLERANCE, cost_from_cores, with_cpu_cost
from cnibench.spec import default_spec_data, parse_spec
from cnibench.tools import k6


def _spec(egress: dict | None = None, ingress: dict | None = None):
    data = default_spec_data()
    data["scenarios"]["egress"].update(egress or {})
    data["scenarios"]["ingress"].update(ingress or {})
    return parse_spec(data)


@pytest.mark.parametrize(
    ("section", "settings", "field", "words"),
    [
        ("egress", {"load": "rate"}, "scenarios.egress.rates", "needs at least one offered rate"),
        ("egress", {"load": "rate", "rates": []}, "scenarios.egress.rates", "needs at least one offered rate"),
        ("egress", {"load": "rate", "rates": ["500M", 0]}, "scenarios.egress.rates[1]", "more than 0 bit/s"),
        ("egress", {"load": "rate", "rates": ["-5M"]}, "scenarios.egress.rates[0]", "not a rate in bit/s"),
        ("egress", {"load": "rate", "rates": ["fast"]}, "scenarios.egress.rates[0]", "not a rate in bit/s"),
        ("egress", {"load": "rate", "rates": ["1G", "1000M"]}, "scenarios.egress.rates[1]", "repeats rates[0]"),
        ("egress", {"rates": ["1G"]}, "scenarios.egress.rates", "only with load: rate"),
        ("egress", {"load": "rate", "rates": ["1G"], "bitrate": "2G"}, "scenarios.egress.bitrate", "not used"),
        ("ingress", {"load": "rate", "rates": [0]}, "scenarios.ingress.rates[0]", "more than 0 req/s"),
        ("ingress", {"load": "rate", "rates": [-100]}, "scenarios.ingress.rates[0]", "more than 0 req/s"),
        ("ingress", {"load": "rate", "rates": [100.5]}, "scenarios.ingress.rates[0]", "whole number of req/s"),
        ("ingress", {"load": "rate", "rates": ["2k"]}, "scenarios.ingress.rates[0]", "not a rate in req/s"),
        ("ingress", {"load": "sometimes"}, "scenarios.ingress.load", "'saturate' or 'rate'"),
        ("east-west", {"load": "rate"}, "scenarios.east-west.rates", "needs at least one offered rate"),
        ("east-west", {"load": "rate", "rates": ["1G", 0]}, "scenarios.east-west.rates[1]", "more than 0 bit/s"),
        ("east-west", {"load": "rate", "rates": [-5e8]}, "scenarios.east-west.rates[0]", "more than 0 bit/s"),
        ("east-west", {"rates": ["1G"]}, "scenarios.east-west.rates", "only with load: rate"),
        (
            "east-west",
            {"load": "rate", "rates": ["1G"], "protocols": ["udp"], "bitrate": "100M"},
            "scenarios.east-west.bitrate",
            "not used with load: rate",
        ),
    ],
)
def test_bad_rates_are_one_line_naming_the_field_exit_2_nothing_created(
    section, settings, field, words, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    data = default_spec_data()
    data["scenarios"].setdefault(section, {}).update(settings)
    spec = tmp_path / "bad.yaml"
    spec.write_text(json.dumps(data))
    for command in ("plan", "run"):
        assert cli.main([command, str(spec)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and re.search(rf": {re.escape(field)}( \(line \d+\))?: ", err), err
        assert words in err
    assert [p.name for p in tmp_path.iterdir()] == ["bad.yaml"]  # no results directory


def test_rates_that_differ_get_names_that_differ():
    """1.5G and 1500000001 were both named egress@1.5G (and 1e6 req/s ingress@1e+06rps): their samples, raw files
    and statistics would have merged. Every trial name now shows the rate exactly."""
    spec = _spec({"load": "rate", "rates": ["1.5G", 1500000001]}, {"load": "rate", "rates": [1000000, 2000000]})
    trials = {t.scenario for t in make_plan(spec).trials}
    assert {"egress@1.5G", "egress@1.500000001G", "ingress@1000000rps", "ingress@2000000rps"} <= trials
    assert sorted(t for t in trials if t.startswith("egress@")) == ["egress@1.500000001G", "egress@1.5G"]


def test_each_rate_is_its_own_trial_paired_with_its_baseline():
    spec = _spec({"load": "rate", "rates": ["500M", "1.5G"], "repetitions": 2}, {"load": "rate", "rates": [2000]})
    plan = make_plan(spec)
    names = [t.scenario for t in plan.trials if t.cni == "hostgw"]
    assert names == ["egress-baseline@500M", "egress@500M", "egress-baseline@1.5G", "egress@1.5G", "ingress@2000rps"]
    block = plan.blocks[0]
    egress = [item for item in block.order if item[0].startswith("egress")]
    # each load's policy trial alternates with its own baseline, repetition by repetition
    assert egress == [
        ("egress-baseline@500M", 1), ("egress@500M", 1), ("egress-baseline@500M", 2), ("egress@500M", 2),
        ("egress-baseline@1.5G", 1), ("egress@1.5G", 1), ("egress-baseline@1.5G", 2), ("egress@1.5G", 2),
    ]  # fmt: skip
    assert EGRESS.baseline_of("egress@1.5G") == "egress-baseline@1.5G"
    assert EGRESS.metrics_of("egress@1.5G")[0].name == "rtt_mean_us"  # latency under load leads a fixed load
    assert EGRESS.metrics_of("egress")[0].name == "throughput_bps"


def test_saturate_stays_as_it_was():
    plan = make_plan(_spec())
    assert {t.scenario for t in plan.trials} == {"egress-baseline", "egress", "ingress"}
    reps = EGRESS.repetitions(
        _spec().scenarios.egress, cni="hostgw", numbers={"egress": range(1, 2)}, run_dir=Path("/r"),
        server_ip="203.0.113.2", client_node_ip="172.18.0.4",
    )  # fmt: skip
    assert "--bitrate" not in reps[0].command.argv and reps[0].command.idle_s == 0
    assert reps[0].command.run_argv == reps[0].command.argv


@pytest.mark.parametrize("protocol", ["tcp", "udp"])
def test_iperf3_offers_the_rate_split_over_its_streams(protocol):
    settings = _spec({"load": "rate", "rates": ["2G"], "parallel": 4, "protocol": protocol}).scenarios.egress
    reps = EGRESS.repetitions(
        settings, cni="hostgw", numbers={"egress@2G": range(1, 3)}, run_dir=Path("/r"), server_ip="203.0.113.2",
        client_node_ip="172.18.0.4",
    )  # fmt: skip
    argv = reps[0].command.argv
    assert argv[argv.index("--bitrate") + 1] == "500000000"  # 2 Gbit/s over 4 streams: iperf3's -b is per stream
    assert ("--udp" in argv) == (protocol == "udp")
    # the idle baseline first, as long as the measured window, and left out of the measured window
    assert reps[0].command.idle_s == settings.duration
    assert reps[0].warmup_s == settings.duration + settings.omit
    assert reps[0].command.run_argv[1:5] == ("-m", "cnibench.tools.idle", f"{settings.duration}", "--")
    assert reps[0].command.run_argv[5:] == argv


def test_the_idle_wrapper_idles_then_becomes_the_command():
    start = time.monotonic()
    command = MeasureCommand(argv=("echo", "measured"), stdout=Path("/dev/null"), timeout_s=5, idle_s=0.3)
    proc = subprocess.run(list(command.run_argv), capture_output=True, text=True, check=True)
    assert proc.stdout == "measured\n" and time.monotonic() - start >= 0.3
    bad = subprocess.run([sys.executable, "-m", "cnibench.tools.idle", "-1", "--", "true"], capture_output=True)
    assert bad.returncode == 2 and bad.stderr.count(b"\n") == 1


def _egress_sample(data_dir: Path, name: str, offered: float):
    expect = EgressExpectation(protocol="tcp", expected_source_ip="203.0.113.254", egress_ip="203.0.113.254",
                               offered_rate=offered)  # fmt: skip
    fields = {"cni": "hostgw", "scenario": f"egress@{EGRESS.settings_model.rate_unit.label(offered)}",
              "repetition": 1, **EGRESS.expected_fields(expect)}  # fmt: skip
    return EGRESS.sample_from((data_dir / "iperf3" / name).read_text(), expect, fields, None)


def test_achieved_vs_offered_on_real_iperf3_outputs(data_dir):
    """Captured by `cnibench run` (tests/data/iperf3/README.md): 500 Mbit/s offered was carried, 100 Gbit/s was not
    (the path carried about 8): the second is marked, with its figures kept."""
    carried = _egress_sample(data_dir, "tcp-rate-500M-hostgw-egress.json", 500e6)
    assert carried.status == "ok" and carried.sustained is True
    assert abs(carried.achieved_fraction - 1) <= SUSTAIN_TOLERANCE
    # TCP RTT under load: over the measured intervals' samples (the warm-up's left out)
    doc = json.loads((data_dir / "iperf3" / "tcp-rate-500M-hostgw-egress.json").read_text())
    rtts = [s["rtt"] for i in doc["intervals"] if not i["sum"]["omitted"] for s in i["streams"]]
    assert carried.rtt_mean_us == pytest.approx(sum(rtts) / len(rtts))
    overloaded = _egress_sample(data_dir, "tcp-rate-100G-not-sustained.json", 100e9)
    assert overloaded.status == "ok" and overloaded.sustained is False
    assert overloaded.achieved_fraction == pytest.approx(overloaded.throughput_bps / 100e9)
    assert overloaded.achieved_fraction < 1 - SUSTAIN_TOLERANCE


def test_udp_at_a_rate_reads_loss_and_jitter_from_the_receiver(data_dir):
    text = (data_dir / "iperf3" / "udp-rate-20G-not-sustained.json").read_text()
    server = json.loads(text)["server_output_json"]["end"]["sum_received"]
    expect = EgressExpectation(protocol="udp", expected_source_ip="203.0.113.254", egress_ip="203.0.113.254",
                               offered_rate=20e9)  # fmt: skip
    fields = {"cni": "vxlan", "scenario": "egress@20G", "repetition": 1, **EGRESS.expected_fields(expect)}
    sample = EGRESS.sample_from(text, expect, fields, None)
    assert (sample.lost_percent, sample.jitter_ms) == (server["lost_percent"], server["jitter_ms"])
    assert sample.sustained is False and sample.achieved_fraction == pytest.approx(server["bits_per_second"] / 20e9)


def _ingress_sample(data_dir: Path, name: str, offered: int):
    backends = backend_names(2)
    expect = IngressExpectation(backends=backends, gateway="l7", vus=20, reuse_connections=True, max_failed_rate=0.0,
                                offered_rate=float(offered))  # fmt: skip
    fields = {"cni": "hostgw", "scenario": f"ingress@{offered}rps", "repetition": 1, **INGRESS.expected_fields(expect)}
    return INGRESS.sample_from((data_dir / "k6" / name).read_text(), expect, fields, None)


def test_k6_arrival_rate_summary_dropped_iterations(data_dir):
    """Real k6 1.1.0 summaries of cnibench's constant-arrival-rate script through the netns L7 gateway."""
    doc = json.loads((data_dir / "k6" / "arrival-rate-12000-dropped.json").read_text())
    overloaded = _ingress_sample(data_dir, "arrival-rate-12000-dropped.json", 12000)
    assert overloaded.dropped_iterations == doc["metrics"]["dropped_iterations"]["count"] > 0
    assert overloaded.sustained is False
    assert overloaded.achieved_fraction == pytest.approx(doc["metrics"]["http_reqs"]["rate"] / 12000)
    assert overloaded.latency_p99_ms == doc["metrics"]["http_req_duration"]["p(99)"]
    carried = _ingress_sample(data_dir, "arrival-rate-500-l7-hostgw.json", 500)
    assert carried.sustained is True and carried.latency_p50_ms is not None


def test_k6_without_dropped_iterations_counts_none(data_dir):
    """k6 exports only the metrics that got samples: a saturating run's summary has no dropped_iterations."""
    result = k6.parse_summary((data_dir / "k6" / "l7-hostgw-3-backends.json").read_text(), backend_names(3))
    assert result.dropped_iterations == 0 and result.iterations > 0


def test_rendered_arrival_rate_script_is_what_k6_reads(tmp_path):
    """`k6 inspect` (the real binary) parses the rate script: a constant-arrival-rate scenario with enough VUs."""
    script = tmp_path / "load.js"
    script.write_text(k6.render_script(target="http://172.18.0.254/echo", backends=["echo-1"], vus=20, duration=7,
                                       reuse_connections=True, max_failed_rate=0.0, rate=3000))  # fmt: skip
    proc = subprocess.run([tool_path("k6") or "k6", "inspect", str(script)], capture_output=True, text=True, check=True)
    options = json.loads(proc.stdout)
    load = options["scenarios"]["load"]
    assert load["executor"] == "constant-arrival-rate" and load["rate"] == 3000 and load["duration"] == "7s"
    assert load["preAllocatedVUs"] == 30 and load["maxVUs"] == 300  # 10 ms and 100 ms of requests in flight
    assert "vus" not in options or options["vus"] in (None, 0)


def test_value_at_interpolates_between_scrapes():
    points = [(10.0, 100.0), (11.0, 102.0), (12.0, 103.0)]
    assert value_at(points, 10.5) == 101.0 and value_at(points, 12.0) == 103.0
    assert value_at(points, 9.0) is None and value_at(points, 12.5) is None


def test_cpu_per_unit_from_a_real_prometheus_answer(data_dir, tmp_path):
    """The raw node_cpu_seconds_total scrapes of one egress@500M repetition (hostgw): cores per mode over the
    measured window and its idle window, recomputed here from the points themselves."""
    source = data_dir / "prometheus" / "cpu" / "cpu_seconds-egress-500M.json"
    (tmp_path / "cpu_seconds.json").write_text(source.read_text())
    windows = cpu_windows(tmp_path)
    assert windows is not None and windows.scope == "machine" and windows.idle_window_s == pytest.approx(3.0)
    doc = json.loads(source.read_text())
    node = sorted({s["metric"]["node"] for s in doc["data"]["result"]})[0]
    series = [s for s in doc["data"]["result"] if s["metric"]["node"] == node]
    softirq = {}
    for s in (s for s in series if s["metric"]["mode"] == "softirq"):
        for t, v in s["values"]:
            softirq[float(t)] = softirq.get(float(t), 0.0) + float(v)
    points = sorted(softirq.items())
    expected = (value_at(points, doc["end"]) - value_at(points, doc["start"])) / (doc["end"] - doc["start"])
    assert windows.load_cores["softirq"] == pytest.approx(expected)
    assert 0 < windows.load_cores["total"] <= 2.0 + 1e-6  # this machine has 2 cores
    assert windows.load_cores["total"] == pytest.approx(sum(windows.load_cores[m] for m in
                                                            ("user", "system", "softirq", "other")))  # fmt: skip
    cost = cost_from_cores(
        scope="machine", window_s=windows.window_s, load_cores=windows.load_cores,
        idle_window_s=windows.idle_window_s, idle_cores=windows.idle_cores, work_per_s=0.5,
    )  # fmt: skip
    assert cost is not None
    assert cost.per_unit["total"] == pytest.approx((windows.load_cores["total"] - windows.idle_cores["total"]) / 0.5)


def test_a_sample_gets_its_cost_per_gbit(data_dir, tmp_path):
    (tmp_path / "cpu_seconds.json").write_text(
        (data_dir / "prometheus" / "cpu" / "cpu_seconds-egress-500M.json").read_text()
    )
    sample = _egress_sample(data_dir, "tcp-rate-500M-hostgw-egress.json", 500e6)
    costed = EGRESS.with_cost(sample, tmp_path)
    assert costed.cpu_cost is not None and costed.cpu_cost.idle_cores is not None
    assert costed.cpu_s_per_gbit == pytest.approx(costed.cpu_cost.net_cores["total"] / (sample.throughput_bps / 1e9))
    saturating = sample.model_copy(update={"load": "saturate"})
    assert with_cpu_cost(saturating, tmp_path, 1.0, "cpu_s_per_gbit") is saturating
