"""The egress-change scenario for real on netns: the three events on both datapaths (keepalived moving the egress IP
for the failover), each from the external server's tcpdump capture; reanalyze re-derives the figures from it."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from cnibench.reanalysis import parse_artifact
from cnibench.results.model import read_results

from .conftest import cnibench, prefix_of, run_dir_of

pytestmark = pytest.mark.integration


def test_three_events_on_both_datapaths(tmp_path):
    spec = {
        "name": "ec-it", "platform": "netns", "cnis": ["hostgw", "vxlan"], "rounds": 1, "nodes": {"workers": 3},
        "metrics": {"enabled": False},
        "scenarios": {"egress-change": {"repetitions": 1, "lead": 1, "duration": 2, "vrrp_advert_int": 0.1}},
    }  # fmt: skip
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    proc = cnibench("run", "spec.yaml", "--wait", cwd=tmp_path)
    out, err = proc.communicate(timeout=280)
    assert proc.returncode == 0, err + out
    run_dir = run_dir_of(tmp_path / "results")
    samples = read_results(run_dir).samples
    assert sorted((s.cni, s.scenario) for s in samples) == sorted(
        (cni, trial) for cni in ("hostgw", "vxlan") for trial in ("egress-apply", "egress-new-pod", "egress-failover")
    )
    for s in samples:
        assert s.status == "ok", (s.cni, s.scenario, s.error)
        assert s.egress_ip == "203.0.113.254" and s.artifact.endswith(".pcap")
        assert 900 <= (s.probe_pps or 1000) <= 1100  # the probe's rate: 1 ms resolution
        if s.scenario == "egress-failover":
            # keepalived: 3 adverts of 0.1 s plus the skew, then the gratuitous ARPs; the old gateway is gone
            assert 150 <= s.new_gateway_ms <= 2000 and s.outage_ms >= s.new_gateway_ms - 10
            assert s.source_stayed_egress is True and s.flow_outcome in ("survived", "stalled", "reset")
        if s.scenario == "egress-new-pod":
            assert s.first_correct_ms == 0.0 and s.leaked_packets == 0  # netns programs the pod before its link
        # the capture alone re-derives the figures
        again = parse_artifact("pcap", run_dir / s.artifact)
        assert again["leaked_packets"] == s.leaked_packets and again["outage_ms"] == s.outage_ms
    assert "median [interval] per event" in out
    reanalyzed = cnibench("reanalyze", str(run_dir), "-o", str(tmp_path / "again"), cwd=tmp_path)
    rout, rerr = reanalyzed.communicate(timeout=120)
    assert reanalyzed.returncode == 0, rerr + rout
    remade = {
        (s.cni, s.scenario): s
        for s in read_results(next(p for p in (tmp_path / "again").iterdir() if p.is_dir())).samples
    }
    for s in samples:
        assert remade[(s.cni, s.scenario)].first_correct_ms == s.first_correct_ms
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert prefix_of(run_dir) not in left  # the new pod's namespace too
