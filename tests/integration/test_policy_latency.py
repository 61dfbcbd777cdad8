"""The network-policy scenario's programming latency for real on netns: the three events in both representations,
each from the server node's tcpdump capture; ``parse pcap`` and reanalyze re-derive the figures from it."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from cnibench.reanalysis import parse_artifact
from cnibench.results.model import read_results

from .conftest import cnibench, prefix_of, run_dir_of

pytestmark = pytest.mark.integration

EVENTS = ("policy-allow", "policy-deny", "policy-new-pod")


def test_three_events_in_both_representations(tmp_path):
    spec = {
        "name": "npl-it", "platform": "netns", "rounds": 1, "nodes": {"workers": 2}, "metrics": {"enabled": False},
        "cnis": ["hostgw", {"name": "hostgw-set", "cni": "hostgw", "set": {"policy_representation": "set"}}],
        "scenarios": {"network-policy": {
            "sizes": [10], "workloads": ["crr"], "paths": ["pod-to-pod"], "placements": ["cross-node"],
            "duration": 1, "repetitions": 1, "event_repetitions": 1, "event_lead": 0.5, "event_window": 1.0,
            "event_size": "largest",
        }},
    }  # fmt: skip
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    proc = cnibench("run", "spec.yaml", "--wait", cwd=tmp_path)
    out, err = proc.communicate(timeout=280)
    assert proc.returncode == 0, err + out
    run_dir = run_dir_of(tmp_path / "results")
    samples = [s for s in read_results(run_dir).samples if s.scenario in EVENTS]
    assert sorted((s.cni, s.scenario) for s in samples) == sorted(
        (cni, e) for cni in ("hostgw", "hostgw-set") for e in EVENTS
    )
    for s in samples:
        assert s.status == "ok", (s.cni, s.scenario, s.error)
        assert s.artifact.endswith(".pcap") and s.policy_size == 10
        assert s.representation == ("set" if s.cni == "hostgw-set" else "chain")
        assert s.probe_pps and s.probe_pps > 500 and s.probe_gap_p99_ms < 20  # about 1 ms resolution
        if s.scenario == "policy-allow":
            assert -200 < s.allow_ms < 200 and s.delivered_before == 0  # netns's agent: the nft transaction
        if s.scenario == "policy-deny":
            assert -200 < s.deny_ms < 200 and s.passed_after_deny < 200
        if s.scenario == "policy-new-pod":
            assert 0 <= s.new_pod_ms < 200 and s.probe_delivered > 0
        again = parse_artifact("pcap", run_dir / s.artifact)  # the capture alone re-derives the figures
        for field in ("allow_ms", "deny_ms", "new_pod_ms", "passed_after_deny", "dropped_before_allow"):
            assert again[field] == getattr(s, field)
    assert "programming latency, median [interval]" in out
    reanalyzed = cnibench("reanalyze", str(run_dir), "-o", str(tmp_path / "again"), cwd=tmp_path)
    rout, rerr = reanalyzed.communicate(timeout=120)
    assert reanalyzed.returncode == 0, rerr + rout
    remade = {(s.cni, s.scenario): s
              for s in read_results(next(p for p in (tmp_path / "again").iterdir() if p.is_dir())).samples}  # fmt: skip
    for s in samples:
        assert remade[(s.cni, s.scenario)].allow_ms == s.allow_ms
        assert remade[(s.cni, s.scenario)].new_pod_ms == s.new_pod_ms
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert prefix_of(run_dir) not in left  # the new pod's namespace too
