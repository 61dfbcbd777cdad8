from __future__ import annotations

import json
import re

import pytest

from cnibench.errors import SpecError
from cnibench.plan import make_plan
from cnibench.platforms.netns.platform import NetnsPlatform
from cnibench.spec import default_spec_data, parse_spec


def _compile(tmp_path, only=None, **egress):
    data = default_spec_data()
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
    trials = clusters[0]["trials"]
    assert [(t["scenario"], len(t["runs"]), len(t["bundles"])) for t in trials] == [
        ("egress-baseline", 2, 0),
        ("egress", 2, 1),
    ]
    assert trials[1]["bundles"][0].endswith("rendered/hostgw/egress-policy/bundle.json")
    assert trials[0]["runs"][0]["argv"][0].endswith("iperf3")  # resolved to a path for `ip netns exec`
    assert compiled.extravars["cnibench_state_file"] == "/run/cnibench/cnib0000.json"
    compiled.write()
    bundle = json.loads((tmp_path / "rendered" / "vxlan" / "cluster" / "bundle.json").read_text())
    assert bundle["prefix"] == "cnib0000"
    assert (tmp_path / "rendered" / "hostgw" / "egress-policy" / "bundle.json").is_file()
    assert (tmp_path / "rendered" / "hostgw" / "topology.json").is_file()


def test_steps_come_from_the_compiled_data(tmp_path):
    _, compiled = _compile(tmp_path, repetitions=4, duration=7)
    text = "\n".join(compiled.steps)
    assert "[vxlan] build the cluster" in text and "pod MTU 1450" in text
    assert "[hostgw] egress: 4 x `iperf3 --client 203.0.113.2" in text and "--time 7" in text
    assert text.count("apply the egress policy") == 2


def test_only_and_its_errors(tmp_path):
    plan, _compiled = _compile(tmp_path, only=["egress"])
    assert plan.repetitions == 12
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
    data["scenarios"] = {"ingress": {"backends": 4, "repetitions": 2}}
    plan = make_plan(parse_spec(data))
    compiled = NetnsPlatform().compile(plan, run_dir=tmp_path, prefix="cnib0000")
    trial = compiled.extravars["cnibench_clusters"][0]["trials"][0]
    assert trial["scenario"] == "ingress" and len(trial["runs"]) == 2
    assert [d["name"] for d in trial["daemons"]] == ["echo-1", "echo-2", "echo-3", "echo-4", "gateway"]
    assert trial["daemons"][-1]["netns"] == "cnib0000-worker" and trial["daemons"][-1]["listen_port"] == 80
    assert trial["bundles"][0].endswith("rendered/hostgw/ingress/loadbalancer/bundle.json")
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
    assert [d["name"] for d in l4.extravars["cnibench_clusters"][0]["trials"][0]["daemons"]][-1] == "echo-4"
