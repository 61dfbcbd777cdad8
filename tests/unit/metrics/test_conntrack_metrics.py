"""The conntrack table per node from node_exporter's saved series (the Kubernetes source), on a real netns run's
answer whose repetition also had the launcher's own samples: both sources must tell the same table."""

from __future__ import annotations

import json
import shutil

import pytest

from cnibench.metrics.conntrack import conntrack_windows
from cnibench.metrics.prometheus import PrometheusError
from cnibench.scenarios._east_west_rr import request_response, with_exported_conntrack
from cnibench.scenarios.east_west import EastWestSample


def test_node_exporters_window_agrees_with_the_netns_samplers(tmp_path, data_dir):
    shutil.copy(data_dir / "east_west_rr" / "netns-st-crr-hostgw-2.conntrack.json", tmp_path / "conntrack.json")
    windows = conntrack_windows(tmp_path)
    assert windows is not None and set(windows) == {"control-plane", "worker", "worker2"}
    fields, errors = request_response((data_dir / "east_west_rr" / "netns-st-crr-hostgw-2.json").read_text(), "crr")
    assert not errors
    for own in fields["conntrack"]:
        exported, scrapes = windows[own.node]
        assert scrapes >= 2 and own.source == "netns sampler"
        assert (exported.entries_start, exported.entries_peak, exported.entries_end) == (
            own.entries_start, own.entries_peak, own.entries_end,
        )  # fmt: skip
        assert exported.limit == own.limit == 262144 and exported.counters.insert_failed == own.insert_failed == 0
    assert windows["worker2"][0].entries_peak - windows["worker2"][0].entries_start > 5000  # a connection each


def test_a_sample_without_its_own_windows_gets_node_exporters_and_one_with_keeps_its_own(tmp_path, data_dir):
    shutil.copy(data_dir / "east_west_rr" / "netns-st-crr-hostgw-2.conntrack.json", tmp_path / "conntrack.json")
    base = {"cni": "antrea", "scenario": "pod-to-pod.cross-node.tcp-crr", "repetition": 1, "status": "ok",
            "path": "pod-to-pod", "placement": "cross-node", "protocol": "tcp", "streams": 1, "code": "DT-CRR",
            "workload": "crr"}  # fmt: skip
    bare = with_exported_conntrack(EastWestSample(**base), tmp_path)
    assert {n.node: n.source for n in bare.conntrack} == dict.fromkeys(("control-plane", "worker", "worker2"),
                                                                        "node_exporter")  # fmt: skip
    assert with_exported_conntrack(bare, tmp_path / "nowhere") is bare


def test_an_answer_without_conntrack_series_says_the_collector_is_off(tmp_path, data_dir):
    doc = json.loads((data_dir / "east_west_rr" / "netns-st-crr-hostgw-2.conntrack.json").read_text())
    doc["data"]["result"] = []
    (tmp_path / "conntrack.json").write_text(json.dumps(doc))
    with pytest.raises(PrometheusError, match="conntrack collector"):
        conntrack_windows(tmp_path)
    assert conntrack_windows(tmp_path / "none") is None
