"""East-west's rr and crr workloads for real on netns, both datapaths: sockperf and nginx beside iperf3's servers,
the kube-proxy-like ClusterIP with their ports, every repetition inside the conntrack launcher (both nodes' tables
sampled), the summary's request/response and conntrack tables."""

from __future__ import annotations

import pytest
import yaml

from cnibench.results.model import read_results

from .conftest import cnibench, run_dir_of

pytestmark = pytest.mark.integration


def test_rr_and_crr_run_on_both_datapaths_with_each_nodes_conntrack(tmp_path):
    spec = {
        "name": "ew-rr-it",
        "platform": "netns",
        "cnis": ["hostgw", "vxlan"],
        "rounds": 1,
        "metrics": {"enabled": False},
        "scenarios": {
            "east-west": {"workloads": ["rr", "crr"], "paths": ["pod-to-pod", "pod-to-service"],
                          "placements": ["cross-node"], "protocols": ["tcp"], "duration": 2, "repetitions": 1},
        },
    }  # fmt: skip
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    proc = cnibench("run", "spec.yaml", "--wait", cwd=tmp_path)
    out, err = proc.communicate(timeout=280)
    assert proc.returncode == 0, err + out
    results = read_results(run_dir_of(tmp_path / "results"))
    samples = {(s.cni, s.code): s for s in results.samples}
    assert sorted(samples) == sorted((c, code) for c in ("hostgw", "vxlan")
                                     for code in ("DT-RR", "ST-RR", "DT-CRR", "ST-CRR"))  # fmt: skip
    for (cni, code), s in samples.items():
        assert s.status == "ok", (cni, code, s.error)
        assert {n.node for n in s.conntrack} == {"worker", "worker2"} and all(n.samples >= 2 for n in s.conntrack)
        assert s.latency_p50_us is not None and s.latency_p99_us is not None and s.latency_p50_us <= s.latency_p99_us
        if s.workload == "rr":
            assert s.transactions_per_s > 1000 and s.little_ok and s.latency_p99_9_us is not None
        else:
            assert s.connections_per_s > 100 and s.failed_requests == 0
            # one connection per transaction, each tracked on the client's node (the Service's DNAT happens there)
            client_node = next(n for n in s.conntrack if n.node == "worker2")
            assert client_node.entries_peak - client_node.entries_start > 0.5 * s.transactions
    assert "request/response (medians" in out and "conntrack per node" in out
    assert "hostgw  ST-CRR " in out and "vxlan   DT-RR " in out
