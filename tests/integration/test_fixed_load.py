"""A fixed offered load end to end (``load: rate``): real namespaces, iperf3 --bitrate, k6's constant-arrival-rate,
Prometheus and node_exporter; each repetition idles first and its CPU cost is net of that idle window."""

from __future__ import annotations

import pytest

from cnibench.results.model import read_results

from .conftest import cnibench, run_dir_of, write_spec

pytestmark = pytest.mark.integration


def test_a_fixed_load_run_reports_achieved_rates_and_cpu_per_unit(tmp_path):
    write_spec(
        tmp_path / "spec.yaml", cnis=("hostgw",), metrics=True, duration=2, omit=1, repetitions=1, load="rate",
        rates=["200M"], ingress={"duration": 2, "load": "rate", "rates": [200]},
    )  # fmt: skip
    proc = cnibench("run", "spec.yaml", "--wait", cwd=tmp_path)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err + out
    results = read_results(run_dir_of(tmp_path / "results"))
    assert [s.scenario for s in results.samples] == ["egress-baseline@200M", "egress@200M", "ingress@200rps"]
    for sample in results.samples:
        assert sample.status == "ok", sample.error
        assert sample.load == "rate" and sample.sustained is True, sample.achieved_fraction
        # the repetition idled 2 s, then warmed up and measured: its window starts after the idle one
        assert sample.ended_at - sample.started_at >= 4.0
        cost = sample.cpu_cost
        assert cost is not None and cost.scope == "machine" and cost.idle_window_s == pytest.approx(2.0)
        assert cost.idle_cores is not None and 0 <= cost.idle_cores["total"] <= cost.load_cores["total"] + 2
        assert set(cost.per_unit) == {"user", "system", "softirq", "other", "total"}
    egress = results.samples[1]
    assert egress.offered_rate == 200e6 and egress.cpu_s_per_gbit == pytest.approx(cost_per(egress, 1e9))
    ingress = results.samples[2]
    assert ingress.offered_rate == 200 and ingress.dropped_iterations is not None
    assert ingress.cpu_s_per_1k_requests == pytest.approx(cost_per(ingress, 1e3))
    assert "offered Gbit/s" in out and "CPU cost per unit of work" in out


def cost_per(sample, unit: float) -> float:
    """Net cores over the work per second in units (Gbit: 1e9 bit; 1,000 requests)."""
    work = (sample.throughput_bps if hasattr(sample, "throughput_bps") else sample.requests_per_s) / unit
    return sample.cpu_cost.net_cores["total"] / work
