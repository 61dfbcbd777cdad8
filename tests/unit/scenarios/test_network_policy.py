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
    spec = parse_spec(_data(workloads=["rr"], paths=["pod-to-pod"], placements=["cross-node"], sizes=[100, 10],
                            events=[]))  # fmt: skip  # the latency events: tests/unit/scenarios/test_policy_latency.py
    plan = make_plan(spec)
    names = [t.scenario for t in plan.trials]
    assert names == [trial_name(RR, s) for s in (None, 0, 10, 100)]
    order = [item for item in plan.blocks[0].order]
    up = [(trial_name(RR, s), 1) for s in (None, 0, 10, 100)]
    assert order == up + [(trial_name(RR, s), 2) for s in (100, 10, 0, None)]  # ABBA


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
    # udp and load: rate are refused as this scenario's, first: not with east-west's asks (a bitrate, rates) for them
    with pytest.raises(SpecError, match=r"scenarios\.network-policy\.protocols.*runs TCP only"):
        parse_spec(_data(protocols=["tcp", "udp"]))
    with pytest.raises(SpecError, match=r"scenarios\.network-policy\.load.*saturates"):
        parse_spec(_data(load="rate"))


# ---- samples from real artifacts (tests/data/network_policy/README.md) ------------------------------------------


def _sample(tmp_path, data_dir, golden: str, trial: str, **expect: Any):
    import shutil

    from cnibench.repetition import MeasureCommand, Repetition
    from cnibench.scenarios.network_policy import NetworkPolicyExpectation

    point, size = split(trial)
    artifact = tmp_path / "rep-01.out"
    shutil.copy(data_dir / "network_policy" / golden, artifact)
    full = NetworkPolicyExpectation(path=point.path, placement=point.placement, protocol="tcp", streams=1,
                                    code=point.code, workload=point.workload, policy_size=size, **expect)  # fmt: skip
    rep = Repetition("hostgw", trial, 1, artifact, MeasureCommand(argv=("x",), stdout=artifact, timeout_s=1), 1.0,
                     0.0, full)  # fmt: skip
    return NETWORK_POLICY.make_sample(rep, run_dir=tmp_path, started_at=1.0, ended_at=2.0)


CHAIN_10 = {"representation": "chain", "policy_rules": 13, "table": "cnib8b79_netpol", "expected_nft_rules": 16,
            "expected_nft_sets": 7, "expected_nft_elements": 8}  # fmt: skip


def test_a_crr_repetition_under_a_chain_policy(tmp_path, data_dir):
    sample = _sample(tmp_path, data_dir, "crr-10rules-chain.json", "pod-to-pod.cross-node.tcp-crr@10rules",
                     target_ip="10.244.1.2", client_ip="10.244.2.2", backend_ip="10.244.1.2",
                     probe_source="10.244.2.3", probe_target="10.244.1.2", probe_port=5201, **CHAIN_10)  # fmt: skip
    assert sample.status == "ok", sample.error
    assert sample.denied_probe == "blocked" and sample.connections_per_s and sample.conntrack
    assert (sample.nft_rules, sample.nft_sets, sample.nft_elements) == (16, 7, 8)
    assert sample.code == "DT-CRR" and sample.scenario == "pod-to-pod.cross-node.tcp-crr@10rules"
    # the table read back must be the rendered one: a count that differs fails the repetition
    wrong = _sample(tmp_path, data_dir, "crr-10rules-chain.json", "pod-to-pod.cross-node.tcp-crr@10rules",
                    probe_source="10.244.2.3", probe_target="10.244.1.2", probe_port=5201,
                    **{**CHAIN_10, "expected_nft_elements": 9})  # fmt: skip
    assert wrong.status == "failed" and "nft_elements 8 (rendered 9)" in (wrong.error or "")


def test_an_rr_repetition_through_the_service_under_a_set_policy(tmp_path, data_dir):
    sample = _sample(tmp_path, data_dir, "rr-10rules-set-service.json", "pod-to-service.same-node.tcp-rr@10rules",
                     target_ip="10.96.0.101", representation="set", policy_rules=13, table="cnib8b79_netpol",
                     expected_nft_rules=4, expected_nft_sets=1, expected_nft_elements=18, probe_source="10.244.1.4",
                     probe_target="10.96.0.101", probe_port=5201)  # fmt: skip
    assert sample.status == "ok", sample.error
    assert sample.denied_probe == "blocked" and sample.latency_p99_us and sample.transactions_per_s
    assert (sample.nft_rules, sample.nft_sets, sample.nft_elements) == (4, 1, 18)


def test_no_policy_has_no_probe_and_a_policy_without_one_fails(tmp_path, data_dir):
    trial = "pod-to-pod.cross-node.tcp-single@no-policy"
    ok = _sample(tmp_path, data_dir, "stream-no-policy.json", trial, target_ip="10.244.1.2", client_ip="10.244.2.2",
                 backend_ip="10.244.1.2")  # fmt: skip
    assert ok.status == "ok" and ok.denied_probe is None and ok.throughput_bps and ok.policy_size is None
    missing = _sample(tmp_path, data_dir, "stream-no-policy.json", "pod-to-pod.cross-node.tcp-single@10rules",
                      target_ip="10.244.1.2", client_ip="10.244.2.2", backend_ip="10.244.1.2",
                      probe_source="10.244.2.3", probe_target="10.244.1.2", probe_port=5201)  # fmt: skip
    assert missing.status == "failed" and "no denied probe was recorded" in (missing.error or "")


def _np_sample(cni: str, trial: str, rep: int, **figures: Any):
    from cnibench.scenarios.network_policy import NetworkPolicySample

    point, size = split(trial)
    return NetworkPolicySample(
        cni=cni, scenario=trial, repetition=rep, round=rep, status="ok", path=point.path, placement=point.placement,
        protocol="tcp", streams=1, code=point.code, workload=point.workload, policy_size=size,
        denied_probe=None if size is None else "blocked", nft_rules=None if size is None else size + 5, **figures,
    )  # fmt: skip


def test_the_cost_curve_has_a_line_per_variant_and_the_summary_a_row_per_size():
    from cnibench.results.group import Group
    from cnibench.scenarios._network_policy_report import cost_curves, summary

    crr = POINTS["pod-to-pod.cross-node.tcp-crr"]
    rates = {"hostgw": {None: 2000, 0: 1990, 10: 1900, 1000: 900}, "hostgw-set": {None: 2000, 0: 1995, 10: 1990,
                                                                                1000: 1980}}  # fmt: skip
    samples = [_np_sample(cni, trial_name(crr, size), rep, connections_per_s=rate * (1 + rep / 100),
                          transactions_per_s=rate, cpu_s_per_1k_transactions=0.01 * (2000 / rate))
               for cni, by_size in rates.items() for size, rate in by_size.items() for rep in (1, 2)]  # fmt: skip
    groups = [Group(cni, "run", cni, trial, tuple(s for s in samples if (s.cni, s.scenario) == (cni, trial)))
              for cni in rates for trial in dict.fromkeys(s.scenario for s in samples)]  # fmt: skip
    plots = cost_curves(groups)
    assert [p.title for p in plots] == ["Network policy: connections/s vs rules (crr)",
                                        "Network policy: CPU s per 1,000 connections vs rules (crr)"]  # fmt: skip
    [table] = plots[0].tables
    assert ("hostgw", "DT-CRR", "1000", "914") in table.rows and ("hostgw-set", "DT-CRR", "none", "2,030") in table.rows
    assert plots[0].svg.startswith("<?xml") and plots[0].scenario == "network-policy"
    warnings: list[str] = []
    lines = summary(samples, warnings)
    assert lines[0].startswith("network-policy, crr (medians")
    rows = [line.split() for line in lines[2:10]]
    assert [r[2] for r in rows if r[0] == "hostgw"] == ["none", "0", "10", "1000"]
    assert rows[3][:7] == ["hostgw", "DT-CRR", "1000", "2/2", "2/2", "1,005", "-"] and not warnings


def test_reanalysis_judges_a_recorded_sample_again(tmp_path, data_dir):
    """``reanalyze`` rebuilds the expectation from the sample: the probe is checked again and the table's counts
    read again from the listing (the rendered counts are not recorded: nothing to compare them with)."""
    first = _sample(tmp_path, data_dir, "crr-10rules-chain.json", "pod-to-pod.cross-node.tcp-crr@10rules",
                    target_ip="10.244.1.2", client_ip="10.244.2.2", backend_ip="10.244.1.2",
                    probe_source="10.244.2.3", probe_target="10.244.1.2", probe_port=5201, **CHAIN_10)  # fmt: skip
    expect = NETWORK_POLICY.recorded_expectation(first, {}, tmp_path / "rep-01.out")
    assert expect.policy_size == 10 and expect.probe_source == "10.244.2.3" and expect.table is None
    again = NETWORK_POLICY.sample_from((tmp_path / "rep-01.out").read_text(), expect, {
        **NETWORK_POLICY.expected_fields(expect), "cni": "hostgw", "scenario": first.scenario, "repetition": 1,
    }, None)  # fmt: skip
    assert again.status == "ok" and (again.nft_rules, again.nft_elements, again.denied_probe) == (16, 8, "blocked")
