"""The network-policy scenario: its trials' names, codes, order and pairing, its spec section and what it refuses."""

from __future__ import annotations

from typing import Any

import pytest

from cnibench.errors import SpecError
from cnibench.plan import make_plan
from cnibench.scenarios import scenario_of
from cnibench.scenarios._network_policy_trials import POINTS, split, trial_code, trial_name
from cnibench.scenarios.east_west import EAST_WEST
from cnibench.scenarios.network_policy import NETWORK_POLICY
from cnibench.spec import parse_spec

RR = POINTS["pod-to-pod.cross-node.tcp-rr"]


def _data(cnis: list[Any] | None = None, **section: Any) -> dict[str, Any]:
    return {
        "name": "np",
        "platform": "netns",
        "cnis": cnis or ["hostgw"],
        "rounds": 1,
        "metrics": {"enabled": False},
        "scenarios": {"network-policy": {"duration": 1, "repetitions": 2, **section}},
    }


def test_names_codes_and_owner():
    assert trial_name(RR, 100) == "pod-to-pod.cross-node.tcp-rr@100rules"
    assert trial_code(RR, 100) == "DT-RR@100rules" and trial_code(RR, None) == "DT-RR@no-policy"
    assert trial_code(POINTS["pod-to-service.same-node.tcp-crr"], 0) == "ST-CRR-SN@0rules"
    assert split("pod-to-pod.cross-node.tcp-rr@no-policy") == (RR, None)
    assert scenario_of("pod-to-pod.cross-node.tcp-rr@100rules") is NETWORK_POLICY
    # east-west keeps its own points and rates, and no longer claims a size
    assert scenario_of("pod-to-pod.cross-node.tcp-rr") is EAST_WEST
    assert scenario_of("pod-to-pod.cross-node.tcp-single@500M") is EAST_WEST
    assert not EAST_WEST.owns("pod-to-pod.cross-node.tcp-rr@100rules")
    for wrong in ("pod-to-pod.cross-node.tcp-rr@01rules", "host-to-host.cross-node.tcp-rr@1rules", "x@no-policy"):
        assert not NETWORK_POLICY.owns(wrong)
    assert (
        NETWORK_POLICY.baseline_of("pod-to-pod.cross-node.tcp-rr@1000rules") == "pod-to-pod.cross-node.tcp-rr@no-policy"
    )
    assert NETWORK_POLICY.baseline_of("pod-to-pod.cross-node.tcp-rr@no-policy") is None


def test_every_size_is_a_trial_and_pairs_with_no_policy_repetition_by_repetition():
    spec = parse_spec(_data(workloads=["rr"], paths=["pod-to-pod"], placements=["cross-node"], sizes=[100, 10]))
    plan = make_plan(spec)
    names = [t.scenario for t in plan.trials]
    assert names == [trial_name(RR, s) for s in (None, 0, 10, 100)]
    order = [item for item in plan.blocks[0].order]
    assert order == [(trial_name(RR, s), n) for n in (1, 2) for s in (None, 0, 10, 100)]


def test_bad_input_is_refused_naming_the_field():
    with pytest.raises(SpecError, match=r"scenarios\.network-policy\.sizes\[1\].*greater than or equal to 0"):
        parse_spec(_data(sizes=[10, -1]))
    with pytest.raises(SpecError, match=r"scenarios\.network-policy\.sizes.*only once"):
        parse_spec(_data(sizes=[10, 10]))
    with pytest.raises(
        SpecError, match=r"cnis\[1\]\.set\.policy_representation.*'tree' is not valid; valid: chain, set"
    ):
        parse_spec(_data(cnis=["hostgw", {"name": "h2", "cni": "hostgw", "set": {"policy_representation": "tree"}}]))
    with pytest.raises(SpecError, match=r"scenarios\.network-policy\.paths.*host-to-host"):
        parse_spec(_data(paths=["host-to-host"]))
    with pytest.raises(SpecError, match=r"scenarios\.network-policy\.protocols"):
        parse_spec(_data(protocols=["udp"], workloads=["stream"], bitrate="1G"))
