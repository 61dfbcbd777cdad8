from __future__ import annotations

import json
import re

import pytest

from cnibench.errors import SpecError
from cnibench.plan import make_plan
from cnibench.platforms.netns.platform import NetnsPlatform
from cnibench.spec import default_spec_data, parse_spec


def _compile(tmp_path, only=None, rounds=1, **egress):
    data = default_spec_data()
    data["rounds"] = rounds
    data["scenarios"]["egress"].update(egress)
    del data["scenarios"]["ingress"]
    plan = make_plan(parse_spec(data), only)
    return plan, NetnsPlatform().compile(plan, run_dir=tmp_path, prefix="cnib0000")


def test_compile_is_pure_and_follows_the_plan(tmp_path):
    plan, compiled = _compile(tmp_path, repetitions=2)
    assert list(tmp_path.iterdir()) == []  # nothing written until write()
    assert len(compiled.repetitions) == plan.repetitions == 8
    clusters = compiled.extravars["cnibench_clusters"]
    assert [c["cni"] for c in clusters] == ["hostgw", "vxlan"]
    [scenario] = clusters[0]["scenarios"]  # egress and its baseline: one loop, alternating
    assert [(r["label"], len(r["bundles"])) for r in scenario["runs"]] == [
        ("hostgw egress-baseline 1", 0),
        ("hostgw egress 1", 1),
        ("hostgw egress-baseline 2", 0),
        ("hostgw egress 2", 1),
    ]
    assert scenario["runs"][1]["bundles"][0].endswith("rendered/hostgw/egress-policy/bundle.json")
    assert scenario["runs"][0]["argv"][0].endswith("iperf3")  # resolved to a path for `ip netns exec`
    assert clusters[0]["bundles"] == [str(tmp_path / "rendered" / "hostgw" / "cluster" / "bundle.json")]
    assert compiled.extravars["cnibench_network"]["bundle"].endswith("rendered/network/bundle.json")
    assert {r.loop for r in compiled.repetitions} == {"egress"}  # one playbook loop runs both trials, alternating
    assert compiled.extravars["cnibench_state_file"] == "/run/cnibench/cnib0000.json"
    compiled.write()
    bundle = json.loads((tmp_path / "rendered" / "vxlan" / "cluster" / "bundle.json").read_text())
    assert bundle["prefix"] == "cnib0000"
    assert (tmp_path / "rendered" / "hostgw" / "egress-policy" / "bundle.json").is_file()
    assert (tmp_path / "rendered" / "hostgw" / "topology.json").is_file()


def test_steps_come_from_the_compiled_data(tmp_path):
    _, compiled = _compile(tmp_path, repetitions=4, duration=7)
    text = "\n".join(compiled.steps)
    assert "[round 1, vxlan] build the cluster" in text and "pod MTU 1450" in text
    assert "[round 1, hostgw] egress-baseline and egress: 8 x `iperf3 --client 203.0.113.2" in text
    assert "--time 7" in text and "alternating repetition by repetition" in text
    assert text.count("apply and remove the egress policy") == 2


def test_later_rounds_build_fresh_clusters_on_the_same_node_network(tmp_path):
    plan, compiled = _compile(tmp_path, rounds=2, repetitions=2)
    clusters = compiled.extravars["cnibench_clusters"]
    assert [(c["round"], c["cni"]) for c in clusters] == [(1, "hostgw"), (1, "vxlan"), (2, "vxlan"), (2, "hostgw")]
    labels = [r["label"] for r in clusters[2]["scenarios"][0]["runs"]]
    assert labels == ["vxlan egress-baseline 3", "vxlan egress 3", "vxlan egress-baseline 4", "vxlan egress 4"]
    assert {r.round for r in compiled.repetitions if r.repetition > 2} == {2}
    assert len(compiled.repetitions) == plan.repetitions == 16
    text = "\n".join(compiled.steps)
    assert "[round 2, hostgw] the same on a fresh cluster: repetitions egress-baseline 3-4, egress 3-4" in text
    assert text.startswith("build the node network 172.18.0.0/24")


def test_only_and_its_errors(tmp_path):
    plan, _compiled = _compile(tmp_path, only=["egress"])
    assert plan.repetitions == 2 * 2 * plan.spec.scenarios.egress.repetitions
    data = default_spec_data()
    del data["scenarios"]["ingress"]
    with pytest.raises(SpecError, match="--only: scenario 'ingress' is not in the spec"):
        make_plan(parse_spec(data), ["ingress"])
    both = make_plan(parse_spec(default_spec_data()), ["ingress"])
    assert {t.scenario for t in both.trials} == {"ingress"}


def test_pod_cidr_needs_room_for_every_node():
    data = default_spec_data()
    data["nodes"] = {"workers": 16}
    data["network"] = {"pod_cidr": "10.244.0.0/20"}
    with pytest.raises(
        SpecError,
        match=re.escape("network.pod_cidr: 10.244.0.0/20 has room for 16 node /24s, the cluster has 17 nodes"),
    ):
        parse_spec(data, "x")


def test_ingress_compiles_backends_loadbalancer_gateway_and_k6(tmp_path):
    data = default_spec_data()
    data["rounds"] = 1
    data["scenarios"] = {"ingress": {"backends": 4, "repetitions": 2}}
    plan = make_plan(parse_spec(data))
    compiled = NetnsPlatform().compile(plan, run_dir=tmp_path, prefix="cnib0000")
    cluster = compiled.extravars["cnibench_clusters"][0]
    [trial] = cluster["scenarios"]
    assert trial["scenario"] == "ingress" and len(trial["runs"]) == 2
    # the servers start with the cluster: node_exporters, then the scenario's backends and gateway
    names = [d["name"] for d in cluster["daemons"]]
    assert names[-5:] == ["echo-1", "echo-2", "echo-3", "echo-4", "gateway"]
    gateway = cluster["daemons"][-1]
    assert gateway["netns"] == "cnib0000-worker" and gateway["listen_port"] == 80
    assert cluster["bundles"][1].endswith("rendered/hostgw/ingress/loadbalancer/bundle.json")
    assert trial["runs"][0]["netns"] == "cnib0000-client"
    assert trial["runs"][0]["argv"][0].endswith("k6")
    text = "\n".join(compiled.steps)
    assert "echo-1 on worker, echo-2 on worker2, echo-3 on worker, echo-4 on worker2" in text
    assert "LoadBalancer IP 172.18.0.254" in text
    compiled.write()
    assert (tmp_path / "nginx" / "hostgw" / "gateway" / "nginx.conf").is_file()
    assert (tmp_path / "nginx" / "hostgw" / "echo-4" / "tmp").is_dir()
    assert (tmp_path / "rendered" / "vxlan" / "ingress" / "load.js").is_file()
    data["scenarios"]["ingress"]["gateway"] = "l4"
    l4 = NetnsPlatform().compile(make_plan(parse_spec(data)), run_dir=tmp_path, prefix="cnib0000")
    assert [d["name"] for d in l4.extravars["cnibench_clusters"][0]["daemons"]][-1] == "echo-4"


def test_a_cluster_waits_for_a_scrape_after_its_last_repetition_only_when_its_cpu_cost_needs_one(tmp_path):
    """A fixed load's CPU cost brackets its window with counters: the cluster's last repetition needs every node
    scraped after it ended before the cluster is destroyed; a saturating run's windows end inside the measurement."""
    _, saturate = _compile(tmp_path / "saturate", rounds=2, repetitions=1)
    assert [c["metrics"]["scrape_after_last"] for c in saturate.extravars["cnibench_clusters"]] == [False] * 4
    _, rate = _compile(tmp_path / "rate", rounds=2, repetitions=1, load="rate", rates=["200M"])
    assert [c["metrics"]["scrape_after_last"] for c in rate.extravars["cnibench_clusters"]] == [True] * 4
    assert any("scraped every node after the last repetition ended" in step for step in rate.steps)
    data = default_spec_data()
    data["metrics"]["enabled"] = False
    data["scenarios"]["egress"].update(load="rate", rates=["200M"])
    off = NetnsPlatform().compile(make_plan(parse_spec(data)), run_dir=tmp_path / "off", prefix="cnib0000")
    assert all(c["metrics"] is None for c in off.extravars["cnibench_clusters"])
