from __future__ import annotations

import json
import math
import re
import shutil
import statistics

import pytest
import yaml

from cnibench.metrics import prometheus as prom
from cnibench.metrics import queries


def _doc(data_dir, name):
    return json.loads((data_dir / "prometheus" / name).read_text())


def test_queries_use_the_node_mixin_expressions():
    built = queries.expressions(1.0)
    assert set(built) == {"cpu_util", "mem_used_bytes", "net_tx_bps", "net_rx_bps"}
    assert built["cpu_util"] == '1 - avg by (node) (rate(node_cpu_seconds_total{mode="idle"}[2000ms]))'
    assert "node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes" in built["mem_used_bytes"]
    assert 'device=~".*-(eth|ext)"' in built["net_tx_bps"] and built["net_tx_bps"].endswith("* 8")
    assert queries.rate_window_s(0.5) == 2.0 and queries.rate_window_s(5) == 10.0
    # Prometheus refuses fractional units ("2.5s"): whole milliseconds always work
    assert "[2500ms]" in queries.expressions(1.25)["cpu_util"]
    assert 'device=~"eth0"' in queries.expressions(1.0, uplinks="eth0")["net_rx_bps"]


def test_config_scrapes_every_node_with_its_name():
    conf = prom.config(scrape_interval="1s", targets=[("worker", "172.18.0.3:9100"), ("worker2", "172.18.0.4:9100")])
    text = yaml.safe_dump(conf)
    assert conf["global"] == {"scrape_interval": "1s", "scrape_timeout": "1s"}
    assert conf["scrape_configs"][0]["static_configs"][1] == {
        "targets": ["172.18.0.4:9100"],
        "labels": {"node": "worker2"},
    }
    assert yaml.safe_load(text) == conf


def test_summary_uses_points_whose_rate_window_is_inside_the_measurement(data_dir):
    doc = _doc(data_dir, "net_tx_bps.json")
    start, end, lead = doc["start"], doc["end"], doc["rate_window_s"]
    summary = prom.summarize_matrix(doc["data"], start=start, end=end, lead=lead).figures
    assert set(summary) == {"control-plane", "worker", "worker2"}
    series = next(s for s in doc["data"]["result"] if s["metric"]["node"] == "worker")
    inside = [float(v) for t, v in series["values"] if start + lead <= float(t) <= end]
    assert inside and summary["worker"]["avg"] == pytest.approx(statistics.fmean(inside))
    assert summary["worker"]["max"] == max(inside)
    everything = prom.summarize_matrix(doc["data"]).figures["worker"]
    assert everything["avg"] < summary["worker"]["avg"]  # the edges average in idle time


def test_the_report_draws_the_points_the_averages_use(data_dir):
    """The ingress plot once began with a 12.7 Gbit/s spike at t = 0 that the averages left out (a rate window
    reaching into the previous repetition's traffic): the plots now draw exactly the averaged points."""
    doc = _doc(data_dir, "net_tx_bps.json")
    series = next(s for s in doc["data"]["result"] if s["metric"]["node"] == "worker")
    start, lead = doc["start"], doc["rate_window_s"]
    spiked = [[start, "12710000000"], *series["values"]]  # a point at the start, as the real ingress answer had
    drawn = prom.summarised_points(doc, spiked)
    assert drawn and all(t >= start + lead for t, _ in drawn) and 12.71e9 not in [v for _, v in drawn]
    summary = prom.summarize_matrix(
        {"resultType": "matrix", "result": [{"metric": {"node": "worker"}, "values": spiked}]},
        start=start, end=doc["end"], lead=lead,
    ).figures["worker"]  # fmt: skip
    assert summary["avg"] == pytest.approx(statistics.fmean(v for _, v in drawn))


def test_node_metrics_from_the_saved_answers(data_dir, tmp_path):
    for name in queries.QUERIES:
        shutil.copy(data_dir / "prometheus" / f"{name}.json", tmp_path)
    found = prom.node_metrics(tmp_path)
    assert found.error is None and found.notes == []
    figures = found.per_node
    assert set(figures["worker"]) == {f"{q}_{s}" for q in queries.QUERIES for s in ("avg", "max")}
    assert 0 < figures["worker"]["cpu_util_avg"] <= figures["worker"]["cpu_util_max"] <= 1
    assert figures["worker"]["mem_used_bytes_avg"] > 1e8
    # the gateway node forwarded the iperf3 stream; the control plane did nothing
    assert figures["worker"]["net_tx_bps_avg"] > 1e9 > figures["control-plane"]["net_tx_bps_avg"]
    (tmp_path / "cpu_util.json").unlink()
    with pytest.raises(prom.PrometheusError, match="no answer saved for cpu_util"):
        prom.node_metrics(tmp_path)


def test_error_answer_and_wrong_shapes(data_dir, monkeypatch):
    doc = _doc(data_dir, "error-bad-query.json")
    assert doc["status"] == "error"

    class Answer:
        def __init__(self, body):
            self.body = body

        def read(self):
            return self.body

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    monkeypatch.setattr(prom.direct, "urlopen", lambda url, timeout: Answer(json.dumps(doc).encode()))
    with pytest.raises(prom.PrometheusError, match="bad_data: 1:9: parse error"):
        prom.get("http://x", "/api/v1/query_range", {"query": "rate(up["})
    with pytest.raises(prom.PrometheusError, match="expected a matrix"):
        prom.summarize_matrix({"resultType": "vector", "result": []})


def test_targets_health_names_the_down_target(data_dir, monkeypatch):
    doc = _doc(data_dir, "targets-one-down.json")
    monkeypatch.setattr(prom, "get", lambda url, path, params=None: doc["data"])
    health = prom.targets_health("http://x")
    assert health["control-plane"] == "up"
    assert health["worker"].startswith("down (") and "connection refused" in health["worker"]


def test_unreachable_prometheus_is_a_clear_error():
    with pytest.raises(prom.PrometheusError, match=re.escape("Prometheus at http://127.0.0.1:1 unreachable")):
        prom.get("http://127.0.0.1:1", "/api/v1/targets")


# ---- real Prometheus behaviours (tests/data/cases/parsers, see its README) --------------------------------------


def _case(data_dir, name):
    return json.loads((data_dir / "cases" / "parsers" / name).read_text())


def _summary(doc, **kwargs):
    return prom.summarize_matrix(doc["data"], start=doc["start"], end=doc["end"], lead=doc["rate_window_s"], **kwargs)


def test_non_finite_points_are_left_out_and_counted(data_dir):
    """Prometheus answers "+Inf"/"-Inf"/"NaN" as strings: the finite points of the window make the figure."""
    summary = _summary(_case(data_dir, "prometheus-cpu-util-with-inf.json"), name="cpu_util")
    assert summary.figures["worker"]["avg"] == pytest.approx(0.7530, abs=5e-5)
    assert summary.figures["worker"]["max"] == pytest.approx(0.7650, abs=5e-5)
    assert all(map(math.isfinite, (v for f in summary.figures.values() for v in f.values())))
    assert summary.notes == ["cpu_util worker: 1 point(s) not a finite number (NaN/Inf) left out"]


def test_utilisation_is_clamped_to_zero_one(data_dir):
    """1 - rate(idle) dips below 0 when the idle counter runs ahead of wall time (openshift/console#15332)."""
    doc = _case(data_dir, "prometheus-cpu-util-negative.json")
    assert _summary(doc).figures["control-plane"]["avg"] < 0  # what the figure was without the clamp
    summary = _summary(doc, clamp=(0.0, 1.0), name="cpu_util")
    assert summary.figures["control-plane"]["avg"] == pytest.approx(0.00083, abs=5e-6)
    assert "control-plane: 4 point(s) outside [0, 1] clamped" in summary.notes[0]


def test_series_without_the_node_label_are_all_kept(data_dir):
    doc = _case(data_dir, "prometheus-net-tx-no-node-label.json")
    summary = _summary(doc, name="net_tx_bps")
    assert len(summary.figures) == len(doc["data"]["result"]) == 3
    inside = [float(v) for t, v in doc["data"]["result"][1]["values"] if doc["start"] + 2 <= t <= doc["end"]]
    assert summary.figures["series-2"]["max"] == max(inside)
    assert "3 series without a node label" in summary.notes[-1]
    # labels Prometheus does give are used to name them
    doc["data"]["result"][0]["metric"] = {"instance": "172.18.0.3:9100"}
    assert "instance=172.18.0.3:9100" in _summary(doc).figures


def test_a_query_without_series_in_the_window_is_named(data_dir):
    found = prom.node_metrics(data_dir / "cases" / "parsers" / "prometheus-window-no-net-series")
    assert set(found.missing) == {"net_tx_bps", "net_rx_bps"}
    assert found.error is not None and found.error.startswith("net_tx_bps: no series in the window")
    assert "cpu_util_avg" in found.per_node["worker"] and "net_tx_bps_avg" not in found.per_node["worker"]
