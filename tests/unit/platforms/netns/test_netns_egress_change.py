"""The egress-change scenario on netns, compiled (pure): its segment, policies, new pod, keepalived and driver."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from cnibench.errors import SpecError
from cnibench.plan import make_plan
from cnibench.platforms.netns.platform import NetnsPlatform
from cnibench.platforms.netns.render import Bundle
from cnibench.spec import parse_spec


def _data(**section: Any) -> dict[str, Any]:
    return {"name": "ec", "platform": "netns", "cnis": ["hostgw", "vxlan"], "rounds": 1, "nodes": {"workers": 3},
            "metrics": {"enabled": False}, "scenarios": {"egress-change": {"repetitions": 2, **section}}}  # fmt: skip


def _compile(tmp_path, **section: Any):
    plan = make_plan(parse_spec(_data(**section)))
    compiled = NetnsPlatform().compile(plan, run_dir=tmp_path, prefix="cnib0000")
    compiled.write()
    return compiled


def _bundle(tmp_path, cni: str, name: str) -> Bundle:
    return Bundle.load(tmp_path / "rendered" / cni / "egress-change" / name / "bundle.json")


def test_the_plan_runs_three_events_each_writing_a_pcap(tmp_path):
    compiled = _compile(tmp_path)
    reps = [r for r in compiled.repetitions if r.cni == "vxlan"]
    assert [(r.scenario, r.repetition) for r in reps] == [
        ("egress-apply", 1), ("egress-apply", 2), ("egress-new-pod", 1), ("egress-new-pod", 2),
        ("egress-failover", 1), ("egress-failover", 2),
    ]  # fmt: skip
    for rep in reps:
        assert rep.artifact.suffix == ".pcap" and rep.command.stdout == rep.artifact  # tcpdump -w - is the artifact
        assert rep.command.netns == "" and rep.command.argv[1:3] == ("-m", "cnibench.platforms.netns.scenarios."
                                                                   "_egress_change_run")  # fmt: skip
        assert rep.expect.egress_ip == "203.0.113.254"
    cluster = next(c for c in compiled.extravars["cnibench_clusters"] if c["cni"] == "vxlan")
    assert cluster["bundles"][-1].endswith("rendered/vxlan/egress-change/segment/bundle.json")
    [scenario] = cluster["scenarios"]
    bundles = {run["label"].split()[1]: run["bundles"] for run in scenario["runs"]}
    assert bundles["egress-apply"] == []  # the driver applies the policy itself: that is the event
    assert bundles["egress-new-pod"][0].endswith("new-pod-policy/bundle.json")
    assert bundles["egress-failover"][0].endswith("failover-policy/bundle.json")


def test_the_driver_is_told_the_event_and_what_to_fail(tmp_path):
    _compile(tmp_path, vrrp_advert_int=0.2)
    driver = tmp_path / "rendered" / "hostgw" / "egress-change" / "driver"
    failover = json.loads((driver / "egress-failover.json").read_text())
    assert failover["event"] == "gateway-failover" and failover["capture_dev"] == "cnib0000-xbr"
    # the active gateway (worker) fails by its links' peers going down: the node network's port, the segment's
    assert failover["down_links"] == [["cnib0000-net", "cnib0000-n1"], ["cnib0000-ext", "cnib0000-eth"]]
    assert failover["probe_bitrate"] == 512000 and failover["flow_port"] == 5302
    apply = json.loads((driver / "egress-apply.json").read_text())
    assert apply["flush_conntrack"] == ["cnib0000-worker3", "10.244.3.2"]
    new_pod = json.loads((driver / "egress-new-pod.json").read_text())
    assert new_pod["pod_port"] == 5303 and new_pod["pod_netns"] == "cnib0000-pod-probe-new"
    conf = (tmp_path / "keepalived" / "hostgw" / "r1" / "worker" / "keepalived.conf").read_text()
    assert "priority 150" in conf and "advert_int 0.2" in conf and "vrrp_version 3" in conf
    assert "203.0.113.254/32 dev cnib0000-ext" in conf and "172.18.0.254/32 dev cnib0000-eth" in conf
    backup = (tmp_path / "keepalived" / "hostgw" / "r1" / "worker2" / "keepalived.conf").read_text()
    assert "state BACKUP" in backup and "priority 100" in backup


def test_the_bundles(tmp_path):
    _compile(tmp_path)
    segment = _bundle(tmp_path, "hostgw", "segment")
    text = "\n".join(s.content for s in segment.apply)
    assert "link set cnib0000-eth master cnib0000-xbr" in text and "addr add 203.0.113.3/24 dev cnib0000-ext" in text
    assert "route del 203.0.113.0/24 via 172.18.0.3" in text  # worker2 reaches the external network itself now
    failover = _bundle(tmp_path, "vxlan", "failover-policy")
    assert {s.netns for s in failover.apply if s.kind == "nft" and "snat to 203.0.113.254" in s.content} == {
        "cnib0000-worker", "cnib0000-worker2"}  # fmt: skip
    assert any("default via 172.18.0.254 dev cnib0000-eth table 100" in s.content for s in failover.apply)
    new_pod = _bundle(tmp_path, "vxlan", "new-pod")
    steps = [s.file for s in new_pod.apply]
    # the node's egress rule is programmed before the pod's link exists
    assert steps.index(next(f for f in steps if "egress-route" in f)) < steps.index(
        next(f for f in steps if "link" in f)
    )
    assert new_pod.namespaces == ("cnib0000-pod-probe-new",)
    assert any("via 10.244.1.0 dev cnib0000-vx onlink" in s.content for s in new_pod.apply)


@pytest.mark.skipif(shutil.which("nft") is None, reason="nft not installed")
def test_nft_accepts_the_rules(tmp_path):
    _compile(tmp_path)
    for name in ("segment", "failover-policy", "new-pod-policy"):
        for step in _bundle(tmp_path, "hostgw", name).apply:
            if step.kind != "nft" or step.content.startswith("add element"):  # elements of the cluster's own sets
                continue
            path = tmp_path / "check.nft"
            path.write_text(step.content)
            result = subprocess.run(
                ["nft", "--check", "--file", str(path)], capture_output=True, text=True, check=False
            )
            if "Operation not permitted" in result.stderr:
                pytest.skip("nft --check needs root")
            assert result.returncode == 0, (name, result.stderr)


def test_bad_addresses_are_refused():
    with pytest.raises(SpecError, match=r"scenarios\.egress-change\.server_ip: netns places the server itself"):
        parse_spec(_data(server_ip="203.0.113.9"))
    with pytest.raises(SpecError, match=r"scenarios\.egress-change\.egress_ip: 10\.244\.0\.9 is inside network\.pod"):
        parse_spec(_data(egress_ip="10.244.0.9"))
