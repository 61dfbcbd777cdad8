"""The east-west scenario for real on netns: iperf3 servers in a pod and in a node, a kube-proxy-like ClusterIP, both
datapaths; every sample verified from the server's side."""

from __future__ import annotations

import json

import pytest
import yaml

from cnibench.results.model import read_results

from .conftest import cnibench, run_dir_of

pytestmark = pytest.mark.integration


def test_east_west_matrix_runs_verified_on_both_datapaths(tmp_path):
    spec = {
        "name": "ew-it",
        "platform": "netns",
        "cnis": ["hostgw", "vxlan"],
        "rounds": 1,
        "metrics": {"enabled": False},
        "scenarios": {
            "east-west": {"protocols": ["tcp", "udp"], "streams": ["single"], "bitrate": "50M", "duration": 1,
                          "omit": 0, "repetitions": 1},
        },
    }  # fmt: skip
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    proc = cnibench("run", "spec.yaml", "--wait", cwd=tmp_path)
    out, err = proc.communicate(timeout=280)
    assert proc.returncode == 0, err + out
    run_dir = run_dir_of(tmp_path / "results")
    results = read_results(run_dir)
    assert len(results.samples) == 24
    for s in results.samples:
        assert s.status == "ok" and s.verified, (s.scenario, s.error)
        assert s.source_ip_seen == s.client_ip and s.backend_ip_seen == s.backend_ip
        if s.path == "pod-to-service":
            assert s.connected_to == "10.96.0.100" and s.backend_ip == "10.244.1.2"  # DNATed, the source kept
        if s.path == "host-to-host":
            assert s.client_ip == ("172.18.0.3" if s.placement == "same-node" else "172.18.0.4")
        if s.protocol == "udp":
            assert s.lost_percent is not None and s.jitter_ms is not None
        else:
            assert s.throughput_bps > 1e8 and s.rtt_mean_us is not None
    # only what the scenario needs: no external network, no egress server
    topology = json.loads((run_dir / "rendered" / "hostgw" / "topology.json").read_text())
    assert topology["external"] is None
    assert (run_dir / "logs" / "vxlan" / "ew-host-server.log").is_file()
    assert "pod network / host network throughput" in out
    assert "hostgw  STS     pod-to-service  cross-node" in out
