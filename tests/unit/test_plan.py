"""Spec -> plan: the trials in run order, --only, and the time estimate's arithmetic."""

from __future__ import annotations

import copy

import pytest

from cnibench.errors import SpecError
from cnibench.plan import format_duration, make_plan
from cnibench.spec import default_spec_data, parse_spec
from cnibench.tools import iperf3, k6


def _spec(rounds=1, **scenarios):
    data = copy.deepcopy(default_spec_data())
    data["rounds"] = rounds
    for name, settings in scenarios.items():
        if settings is None:
            data["scenarios"].pop(name, None)
        else:
            data["scenarios"][name] = {**data["scenarios"].get(name, {}), **settings}
    return parse_spec(data)


def test_each_cni_runs_its_scenarios_trials_in_order():
    spec = _spec(egress={"repetitions": 3}, ingress={"repetitions": 2})
    plan = make_plan(spec)
    assert [(t.cni, t.scenario, t.repetitions) for t in plan.trials] == [
        (cni, trial, reps)
        for cni in spec.cnis
        for trial, reps in (("egress-baseline", 3), ("egress", 3), ("ingress", 2))
    ]
    assert plan.repetitions == len(spec.cnis) * (3 + 3 + 2)


def test_rounds_interleave_cnis_in_alternating_order_and_number_repetitions_on():
    spec = _spec(rounds=3, egress={"repetitions": 2}, ingress={"repetitions": 1})
    plan = make_plan(spec)
    assert [(b.round, b.cni) for b in plan.blocks] == [
        (1, "hostgw"), (1, "vxlan"), (2, "vxlan"), (2, "hostgw"), (3, "hostgw"), (3, "vxlan"),
    ]  # fmt: skip
    assert plan.rounds == 3 and plan.repetitions == 2 * 3 * (2 + 2 + 1)
    second = plan.blocks[2]
    assert second.numbers == {"egress-baseline": range(3, 5), "egress": range(3, 5), "ingress": range(2, 3)}
    # egress and its baseline alternate on one cluster, so that each egress repetition has a neighbouring baseline
    assert second.order == (("egress-baseline", 3), ("egress", 3), ("egress-baseline", 4), ("egress", 4),
                            ("ingress", 2))  # fmt: skip
    slots = plan.slots()
    assert len(slots) == plan.repetitions
    assert {(s.cni, s.scenario, s.repetition) for s in slots} == {
        (t.cni, t.scenario, n) for t in plan.trials for n in range(1, t.repetitions + 1)
    }  # every repetition exactly once
    assert {s.loop for s in slots if s.scenario.startswith("egress")} == {"egress"}


def test_the_plan_says_before_the_run_what_the_clusters_can_show():
    one = make_plan(_spec(rounds=1, egress={"repetitions": 3}, ingress={"repetitions": 3}))
    [warning] = one.warnings()
    assert warning.startswith("1 round: one cluster per CNI, no variance between clusters: every comparison will be")
    six = make_plan(_spec(rounds=6, egress={"repetitions": 1}, ingress={"repetitions": 1}))
    power = six.power()
    assert set(power) == {("egress-baseline", "throughput_bps"), ("egress", "throughput_bps"),
                          ("ingress", "requests_per_s"), ("ingress", "latency_p95_ms")}  # fmt: skip
    egress = power[("egress", "throughput_bps")]
    assert (egress.clusters, egress.design, egress.df, egress.family) == (6, "paired by round", 5, 4)
    assert egress.source == "netns priors" and 0.3 < egress.mde < 0.5  # the measured netns noise: about 39 %
    # more rounds shrink the detectable effect; a quiet history shrinks it further
    twelve = make_plan(_spec(rounds=12, egress={"repetitions": 1}, ingress={"repetitions": 1})).power()
    assert twelve[("egress", "throughput_bps")].mde < egress.mde
    [warning] = six.warnings()
    assert warning.startswith("6 clusters per CNI cannot show a 10 % difference with 80 % power")
    one_cni = _spec(egress={"repetitions": 2})
    assert make_plan(one_cni.model_copy(update={"cnis": ["hostgw"]})).warnings() == []  # nothing to compare


def test_the_plan_uses_the_spread_of_earlier_runs_of_the_spec(data_dir):
    from cnibench.results.model import read_results

    history = [read_results(data_dir / "results" / "netns-default.json")]
    plan = make_plan(_spec(rounds=6, egress={"repetitions": 1}, ingress={"repetitions": 1}))
    power = plan.power(history)[("egress", "throughput_bps")]
    assert power.source == "1 earlier run(s)" and power.mde is not None


def test_each_trial_expects_its_tools_own_wall_time():
    plan = make_plan(_spec(egress={"duration": 7, "omit": 2}, ingress={"duration": 9}))
    by_trial = {t.scenario: t for t in plan.trials}
    assert by_trial["egress"].seconds_each == iperf3.expected_wall_time(7, 2) >= 9
    assert by_trial["egress"].tool == "iperf3" and "2 s warm-up" in by_trial["egress"].settings
    assert by_trial["ingress"].seconds_each == 9 + k6.STARTUP_S and by_trial["ingress"].tool == "k6"


def test_only_keeps_a_scenario_with_all_its_trials():
    spec = _spec(ingress={})
    assert {t.scenario for t in make_plan(spec, ["egress"]).trials} == {"egress-baseline", "egress"}
    assert {t.scenario for t in make_plan(spec, ["ingress"]).trials} == {"ingress"}
    assert make_plan(spec, []).trials == make_plan(spec).trials  # nothing named: everything


def test_only_a_scenario_the_spec_lacks_is_one_line_naming_what_it_has():
    spec = _spec(ingress=None)
    with pytest.raises(SpecError) as error:
        make_plan(spec, ["ingress"])
    assert str(error.value) == "--only: scenario 'ingress' is not in the spec (it has: egress)"


def test_a_repetition_more_costs_its_tools_time_and_the_overhead_around_it():
    """The estimate's marginal cost of one repetition per trial: the tool's wall time plus what the platform
    spends around it (Ansible task, parsing, metrics query), nothing else."""
    one, two = (_spec(egress={"repetitions": n}, ingress=None) for n in (1, 2))
    per_repetition = make_plan(one).priors.repetition_overhead_s
    assert per_repetition > 0
    trials = make_plan(one).trials
    added = sum(t.seconds_each + per_repetition for t in trials)
    assert make_plan(two).estimated_seconds - make_plan(one).estimated_seconds == pytest.approx(added)
    assert make_plan(one).estimated_seconds > sum(t.seconds_each for t in trials)


def test_metrics_add_their_start_to_every_cluster_and_their_query_where_it_is_on_the_critical_path():
    """On netns a repetition's metrics are queried in the background while the next runs: no time per repetition
    (0 is allowed); the wait for Prometheus's scrape of a fresh cluster is time."""
    with_metrics = _spec(egress={"repetitions": 2}, ingress=None)
    data = with_metrics.model_dump(mode="json")
    data["metrics"]["enabled"] = False
    without = parse_spec(data)
    plan_with, plan_without = make_plan(with_metrics), make_plan(without)
    extra = plan_with.estimated_seconds - plan_without.estimated_seconds
    clusters = len(with_metrics.cnis)
    prior_with, prior_without = plan_with.priors, plan_without.priors
    startup = prior_with.setup_s - prior_without.setup_s
    per_repetition = prior_with.repetition_overhead_s - prior_without.repetition_overhead_s
    once = prior_with.first_setup_extra_s - prior_without.first_setup_extra_s  # Prometheus's first scrapes
    assert startup > 0 and per_repetition >= 0
    assert extra == pytest.approx(plan_with.repetitions * per_repetition + clusters * startup + once)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0s"), (59.4, "59s"), (59.6, "1m00s"), (61, "1m01s"), (3599, "59m59s"), (3600, "1h00m"), (-3, "0s")],
)
def test_durations_read_as_a_person_says_them(seconds, shown):
    assert format_duration(seconds) == shown


def test_a_cost_curve_with_many_weak_metrics_is_warned_about_in_one_short_line():
    from pathlib import Path

    from cnibench.spec import load_spec

    example = Path(__file__).resolve().parents[2] / "examples" / "network-policy.yaml"
    [warning] = make_plan(load_spec(example)[0]).warnings()
    assert warning.startswith("3 clusters per CNI cannot show a 10 % difference with 80 % power in ")
    count = int(warning.split(" power in ")[1].split()[0])
    assert count > 4 and "the least sensitive: " in warning and len(warning) < 300, warning
