"""Spec -> plan: the trials in run order, --only, and the time estimate's arithmetic."""

from __future__ import annotations

import copy

import pytest

from cnibench.errors import SpecError
from cnibench.plan import METRICS_PER_REPETITION_S, OVERHEAD_PER_REPETITION_S, format_duration, make_plan
from cnibench.spec import default_spec_data, parse_spec
from cnibench.tools import iperf3, k6


def _spec(**scenarios):
    data = copy.deepcopy(default_spec_data())
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
    per_repetition = OVERHEAD_PER_REPETITION_S + (METRICS_PER_REPETITION_S if one.metrics.enabled else 0.0)
    trials = make_plan(one).trials
    added = sum(t.seconds_each + per_repetition for t in trials)
    assert make_plan(two).estimated_seconds - make_plan(one).estimated_seconds == pytest.approx(added)
    assert make_plan(one).estimated_seconds > sum(t.seconds_each for t in trials)


def test_metrics_add_their_query_to_every_repetition_and_their_start_to_every_cluster():
    with_metrics = _spec(egress={"repetitions": 2}, ingress=None)
    data = with_metrics.model_dump(mode="json")
    data["metrics"]["enabled"] = False
    without = parse_spec(data)
    plan_with, plan_without = make_plan(with_metrics), make_plan(without)
    extra = plan_with.estimated_seconds - plan_without.estimated_seconds
    clusters = len(with_metrics.cnis)
    prior_with, prior_without = plan_with.priors, plan_without.priors
    startup = prior_with.setup_s - prior_without.setup_s
    assert startup > 0
    assert extra == pytest.approx(plan_with.repetitions * METRICS_PER_REPETITION_S + clusters * startup)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0s"), (59.4, "59s"), (59.6, "1m00s"), (61, "1m01s"), (3599, "59m59s"), (3600, "1h00m"), (-3, "0s")],
)
def test_durations_read_as_a_person_says_them(seconds, shown):
    assert format_duration(seconds) == shown
