"""Node metrics with a real Prometheus and real node_exporters in the node namespaces."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
import yaml

from cnibench import commands
from cnibench.platforms.netns import ops
from cnibench.results.model import read_results

from .conftest import cnibench, prefix_of, run_dir_of, wait_for_samples
from .test_run import _assert_clean

pytestmark = pytest.mark.integration
NODES = {"control-plane", "worker", "worker2"}


def _spec(path: Path, metrics: dict | None = None, **egress) -> Path:
    data = {
        "name": "it",
        "cnis": ["hostgw"],
        "rounds": 2,
        "scenarios": {"egress": {"duration": 4, "omit": 1, "repetitions": 2, **egress}},
    }
    if metrics is not None:
        data["metrics"] = metrics
    path.write_text(yaml.safe_dump(data))
    return path


def _root_listening_ports() -> set[int]:
    """TCP ports listening in the machine's own namespace (ours: this test runs there)."""
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{os.getpid()}/net/{table}").read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] == "0A":
                ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


def test_every_sample_carries_node_metrics_and_the_window_is_right(tmp_path):
    spec = _spec(tmp_path / "spec.yaml")
    results_dir = tmp_path / "results"
    proc = cnibench("run", str(spec), "--results-dir", str(results_dir))
    run_dir = wait_for_samples(results_dir, 1)
    # while the cluster is up: the exporters and Prometheus listen only inside the namespaces
    assert not {9090, 9100} & _root_listening_ports()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err + out
    results = read_results(run_dir)
    env = results.environment
    assert "CPU and memory are the whole machine's" in env["metrics"]["scope"]
    assert env["metrics"]["scrape_interval"] == "1s"
    assert env["tools"]["prometheus"] and env["tools"]["node_exporter"]
    assert 0 < env["clusters"]["hostgw"]["metrics_targets_up_s"] < 10
    for sample in results.samples:
        assert sample.metrics_error is None and set(sample.node_metrics) == NODES
        gateway = sample.node_metrics["worker"]
        # the gateway node forwards the stream: its transmit rate is what iperf3 measured (plus headers)
        assert 0.8 < gateway["net_tx_bps_avg"] / sample.throughput_bps < 1.25, (gateway, sample.throughput_bps)
        assert sample.node_metrics["control-plane"]["net_tx_bps_avg"] < 0.01 * sample.throughput_bps
        assert 0 < gateway["cpu_util_avg"] <= gateway["cpu_util_max"] <= 1
        raw = run_dir / "raw" / "hostgw" / sample.scenario / f"rep-{sample.repetition:02d}.metrics"
        answer = json.loads((raw / "net_tx_bps.json").read_text())
        # the window: from the end of the warm-up to the end, plus one scrape interval
        assert answer["start"] == pytest.approx(sample.started_at + 1, abs=0.01)
        assert answer["end"] == pytest.approx(sample.ended_at, abs=0.01)
        times = [float(t) for t, _ in answer["data"]["result"][0]["values"]]
        assert times[0] >= answer["start"] - 0.01 and times[-1] <= answer["end"] + 1.01
    # one Prometheus for the whole run, every round's fresh clusters scraped at the same node addresses
    assert (run_dir / "prometheus").is_dir()
    assert (run_dir / "rendered" / "monitoring" / "prometheus.yml").is_file()
    assert {s.round for s in results.samples} == {1, 2}
    assert "node metrics (Prometheus, 1s scrape" in out and "gateway node worker" in out
    _assert_clean(run_dir)


def test_prometheus_dying_leaves_the_measurements_and_marks_metrics_missing(tmp_path):
    # a sub-second scrape interval on the way: Prometheus must accept every duration the queries use
    spec = _spec(tmp_path / "spec.yaml", metrics={"enabled": True, "scrape_interval": "500ms"}, repetitions=3)
    results_dir = tmp_path / "results"
    proc = cnibench("run", str(spec), "--results-dir", str(results_dir))
    run_dir = wait_for_samples(results_dir, 1)
    first = read_results(run_dir).samples[0]
    assert first.metrics_error is None and set(first.node_metrics) == NODES  # 500ms works
    client = f"{prefix_of(run_dir)}-client"
    prometheus = [
        pid
        for pid, ns in ops.pids_in_namespaces([client]).items()
        if b"prometheus" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    ]
    assert len(prometheus) == 1
    os.kill(prometheus[0], signal.SIGKILL)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err + out  # the repetitions themselves are fine
    results = read_results(run_dir)
    assert results.status == "complete" and all(s.status == "ok" for s in results.samples)
    missing = [s for s in results.samples if s.metrics_error]
    assert missing, "the samples after Prometheus died should say their metrics are missing"
    assert all("metrics missing: Prometheus at http://172.18.0.1:9090 unreachable" in s.metrics_error for s in missing)
    assert all(s.throughput_bps for s in missing)
    assert "metrics missing" in out
    _assert_clean(run_dir)


def test_metrics_disabled_starts_nothing_and_samples_lack_the_fields(tmp_path, capsys):
    spec = _spec(tmp_path / "spec.yaml", metrics={"enabled": False}, repetitions=1, duration=1, omit=0)
    code = commands.run(spec, results_dir=tmp_path / "results", progress=False)
    assert code == 0
    run_dir = run_dir_of(tmp_path / "results")
    raw = json.loads((run_dir / "results.json").read_text())
    assert all("node_metrics" not in s and "metrics_error" not in s for s in raw["samples"])
    assert "metrics" not in raw["environment"]
    assert not (run_dir / "prometheus").exists()
    cluster = json.loads((run_dir / "vars.json").read_text())["cnibench_clusters"][0]
    assert cluster["metrics"] is None
    assert [d["name"] for d in cluster["daemons"]] == ["iperf3-server"]
    topology = json.loads((run_dir / "rendered" / "hostgw" / "topology.json").read_text())
    assert topology["client"] is None  # no host namespace: neither k6 nor Prometheus needs it
    assert "node metrics" not in capsys.readouterr().out
    _assert_clean(run_dir)
