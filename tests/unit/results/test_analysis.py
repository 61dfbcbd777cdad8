from __future__ import annotations

import pytest

from cnibench.results.analysis import compare, environment_differences, spec_differences, verdicts
from cnibench.results.model import read_results


def _real(data_dir, name="netns-hostgw-vxlan.json"):
    return read_results(data_dir / "results" / name)


def _with_throughputs(run, cni, scenario, values):
    """A copy of a real run whose (cni, scenario) samples have these throughputs (one sample per value)."""
    template = next(s for s in run.samples if (s.cni, s.scenario) == (cni, scenario))
    others = [s for s in run.samples if (s.cni, s.scenario) != (cni, scenario)]
    made = [template.model_copy(update={"repetition": i + 1, "throughput_bps": v}) for i, v in enumerate(values)]
    return run.model_copy(update={"samples": [*others, *made]})


def test_winner_follows_the_metrics_direction(data_dir):
    run = _real(data_dir)
    by_key = {(v.scenario, v.metric.name): v for v in verdicts([run])}
    throughput = by_key[("egress", "throughput_bps")]
    medians = {s: st.median for s, st in throughput.stats.items()}
    assert throughput.winner == max(medians, key=medians.get)
    rtt = by_key[("egress", "rtt_mean_us")]
    rtt_medians = {s: st.median for s, st in rtt.stats.items()}
    assert rtt.winner == min(rtt_medians, key=rtt_medians.get)
    loser = next(s for s in medians if s != throughput.winner)
    assert throughput.relative(loser) == pytest.approx(
        (medians[loser] - medians[throughput.winner]) / medians[throughput.winner]
    )
    assert not throughput.significant and throughput.too_few_to_tell  # 2 repetitions a side


def test_significance_needs_the_test_and_the_effect(data_dir):
    run = _real(data_dir)
    run = _with_throughputs(run, "hostgw", "egress", [20e9, 20.2e9, 19.9e9, 20.1e9, 20.3e9])
    run = _with_throughputs(run, "vxlan", "egress", [10e9, 10.1e9, 9.9e9, 10.2e9, 10.05e9])
    verdict = next(v for v in verdicts([run]) if (v.scenario, v.metric.name) == ("egress", "throughput_bps"))
    assert verdict.winner == "hostgw" and verdict.significant and verdict.p_value < 0.05
    close = _with_throughputs(run, "vxlan", "egress", [19.6e9, 19.7e9, 19.5e9, 19.8e9, 19.65e9])
    verdict = next(v for v in verdicts([close]) if (v.scenario, v.metric.name) == ("egress", "throughput_bps"))
    assert verdict.p_value < 0.05 and not verdict.significant  # real but smaller than 5 %


def test_compare_flags_significant_regressions_only(data_dir):
    base = _with_throughputs(_real(data_dir), "hostgw", "egress", [14e9, 14.1e9, 13.9e9, 14.2e9, 14.05e9])
    worse = _with_throughputs(base, "hostgw", "egress", [12e9, 12.1e9, 11.9e9, 12.2e9, 12.05e9])
    better = _with_throughputs(base, "hostgw", "egress", [16e9, 16.1e9, 15.9e9, 16.2e9, 16.05e9])
    changes = {(c.cni, c.scenario, c.metric.name): c for c in compare(base, worse)}
    regression = changes[("hostgw", "egress", "throughput_bps")]
    assert regression.worse and regression.change == pytest.approx(-0.1423, abs=1e-3)
    assert regression.p_worse < 0.05 and "WORSE" in regression.describe()
    assert not any(c.worse for c in compare(base, better))
    assert not any(c.worse for c in compare(base, base))
    assert not any(c.worse for c in compare(base, worse, threshold=0.2))  # smaller than the threshold


def test_differences_in_environment_and_settings(data_dir):
    run = _real(data_dir)
    other = run.model_copy(
        update={
            "environment": {
                **run.environment,
                "kernel": "6.1.0",
                "tools": {**run.environment["tools"], "iperf3": "3.16"},
            },
            "spec": {**run.spec, "scenarios": {"egress": {**run.spec["scenarios"]["egress"], "parallel": 4}}},
        }
    )
    diffs = environment_differences(run, other)
    assert any(d.startswith("kernel:") for d in diffs) and any(d.startswith("iperf3:") for d in diffs)
    assert spec_differences(run, other) == ["egress.parallel: 1 vs 4"]
    assert environment_differences(run, run) == [] and spec_differences(run, run) == []


def test_compare_command_exit_codes(data_dir, tmp_path, capsys):
    from cnibench import cli
    from cnibench.results.model import write_results

    base = _with_throughputs(_real(data_dir), "hostgw", "egress", [14e9, 14.1e9, 13.9e9, 14.2e9, 14.05e9])
    worse = _with_throughputs(base, "hostgw", "egress", [12e9, 12.1e9, 11.9e9, 12.2e9, 12.05e9])
    worse = worse.model_copy(update={"run_id": "b-worse", "environment": {**base.environment, "kernel": "6.1.0"}})
    paths = {}
    for name, run in (("a", base), ("b", worse)):
        paths[name] = tmp_path / name
        paths[name].mkdir()
        write_results(paths[name] / "results.json", run)
    db = str(tmp_path / "x.db")
    assert cli.main(["compare", str(paths["a"]), str(paths["b"]), "--db", db]) == 1
    out = capsys.readouterr().out
    assert "! hostgw egress throughput: 14.05 -> 12.05 Gbit/s (-14.2%)" in out
    assert "warning: environments differ: kernel:" in out
    assert cli.main(["compare", str(paths["a"]), str(paths["b"]), "--threshold", "20%", "--db", db]) == 0
    assert cli.main(["compare", str(paths["b"]), str(paths["a"]), "--db", db]) == 0  # an improvement
    assert cli.main(["compare", str(paths["a"]), str(tmp_path / "nowhere"), "--db", db]) == 2
