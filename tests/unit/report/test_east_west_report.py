"""The east-west part of the report and of the terminal summary, on a real run (data: results/netns-east-west)."""

from __future__ import annotations

import re

from cnibench.report import document
from cnibench.report.summary import format_summary
from cnibench.results.model import read_results


def test_the_report_draws_a_grouped_chart_per_path(data_dir):
    run = read_results(data_dir / "results" / "netns-east-west.json")
    report = document.build([run], [None])
    images = re.findall(r'<img alt="([^"]+)" src="data:image/svg\+xml;base64,', report.html)
    assert images == [
        f"East-west {path} throughput per CNI" for path in ("pod-to-pod", "pod-to-service", "host-to-host")
    ]
    assert "<h3>pod-to-service.cross-node.tcp-single</h3>" in report.html


def test_the_summary_has_the_matrix_and_the_pod_host_ratios(data_dir):
    run = read_results(data_dir / "results" / "netns-east-west.json")
    text = format_summary(run, "results/x")
    assert text.startswith(f"cnibench run {run.run_id} on netns: complete, 24/24 repetitions ok")
    assert re.search(r"hostgw\s+STS\s+pod-to-service\s+cross-node\s+tcp\s+2/2\s+6\.59\s+\[5\.83, 7\.35\] 50%", text)
    assert re.search(r"vxlan\s+HTS-SN\s+host-to-host\s+same-node\s+tcp\s+2/2\s+16\.43", text)
    assert "pod network / host network throughput" in text
    assert re.search(r"hostgw\s+cross-node\s+tcp\s+0\.81\s+0\.58", text)
    assert re.search(r"vxlan\s+cross-node\s+tcp\s+0\.95\s+1\.02", text)
