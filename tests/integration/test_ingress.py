"""Ingress end to end: real nginx backends and gateway, real nftables DNAT, real k6 from outside the cluster."""

from __future__ import annotations

import signal
import time

import pytest

from cnibench import commands
from cnibench.results.model import read_results
from cnibench.scenarios._ingress_settings import IngressSettings
from cnibench.tools import nginx

from .conftest import cnibench, run_dir_of, wait_for_samples, write_spec
from .test_run import _assert_clean

pytestmark = pytest.mark.integration


def _run(tmp_path, capsys, **settings):
    spec = write_spec(tmp_path / "spec.yaml", ingress=settings)
    code = commands.run(spec, results_dir=tmp_path / "results", progress=False)
    out = capsys.readouterr().out
    run_dir = run_dir_of(tmp_path / "results")
    return code, out, run_dir, read_results(run_dir)


def test_l7_every_backend_answers_and_nothing_fails(tmp_path, capsys):
    code, out, run_dir, results = _run(tmp_path, capsys, backends=3)
    assert code == 0, out
    assert [(s.cni, s.scenario) for s in results.samples] == [("hostgw", "ingress"), ("vxlan", "ingress")]
    for sample in results.samples:
        assert sample.status == "ok", sample.error
        assert sample.failed_rate == 0 and sample.requests > 1000
        assert sample.backends_seen == 3 and set(sample.backend_hits) == {"echo-1", "echo-2", "echo-3"}
        assert sample.unmatched_responses == 0
        assert sample.jain_fairness > 0.99  # round-robin per request
        assert sample.latency_p50_ms <= sample.latency_p95_ms <= sample.latency_p99_ms <= sample.latency_max_ms
        assert (run_dir / sample.artifact).is_file()
    assert (run_dir / "nginx" / "hostgw" / "gateway" / "nginx.conf").is_file()
    assert (run_dir / "rendered" / "vxlan" / "ingress" / "load.js").is_file()
    assert results.environment["tools"]["k6"] and results.environment["tools"]["nginx"]
    assert "fairness" in out and "3/3" in out
    _assert_clean(run_dir)


def test_l4_balances_per_connection(tmp_path, capsys):
    """nftables DNAT picks a backend per connection: with a new connection per request, the spread is exact."""
    code, out, run_dir, results = _run(tmp_path, capsys, gateway="l4", backends=3, reuse_connections=False, vus=5)
    assert code == 0, out
    for sample in results.samples:
        hits = sorted(sample.backend_hits.values())
        assert sample.status == "ok" and sample.gateway == "l4" and hits[0] > 0
        assert hits[-1] - hits[0] <= sample.vus  # at most one round of connections apart
    _assert_clean(run_dir)


def test_failed_requests_fail_the_repetition(tmp_path, capsys, monkeypatch):
    """k6 is pointed at a port where nothing listens: every request fails, the repetition is kept as failed (judged
    by cnibench, even with K6_NO_THRESHOLDS=true in the environment, which k6 then runs without), and the run goes
    on to the next CNI."""
    monkeypatch.setattr(
        IngressSettings, "target_url", property(lambda settings: f"http://{settings.lb_ip}:81{settings.path}")
    )
    monkeypatch.setenv("K6_NO_THRESHOLDS", "true")
    code, _out, run_dir, results = _run(tmp_path, capsys)
    assert code == 1
    assert results.status == "complete" and len(results.samples) == 2
    for sample in results.samples:
        assert sample.status == "failed"
        assert sample.error == "100.00% of requests failed, above max_failed_rate 0.00%"
        assert sample.backends_seen == 0
        assert any("K6_NO_THRESHOLDS" in note for note in sample.notes)
    _assert_clean(run_dir)


def test_a_gateway_that_does_not_start_fails_the_run_and_cleans_up(tmp_path, capsys, monkeypatch):
    real = nginx.gateway_conf
    monkeypatch.setattr(
        nginx, "gateway_conf", lambda *a, **kw: real(*a, **kw).replace("keepalive 256;", "keepalive_bogus 256;")
    )
    code, _out, run_dir, results = _run(tmp_path, capsys)
    assert code == 1
    assert results.status == "failed" and results.samples == []
    assert results.error.startswith("Build the netns cluster and start its servers: gateway: nginx in ")
    assert "exited with code 1" in results.error
    assert 'unknown directive "keepalive_bogus"' in results.error
    _assert_clean(run_dir)


def test_sigint_during_ingress_stops_nginx_and_k6(tmp_path):
    spec = write_spec(tmp_path / "spec.yaml", ingress={"repetitions": 4, "duration": 2})
    results_dir = tmp_path / "results"
    proc = cnibench("run", str(spec), "--results-dir", str(results_dir))
    run_dir = wait_for_samples(results_dir, 1)
    proc.send_signal(signal.SIGINT)
    start = time.monotonic()
    proc.communicate(timeout=30)
    assert time.monotonic() - start < 15 and proc.returncode == 130
    assert read_results(run_dir).samples[0].status == "ok"
    _assert_clean(run_dir)
