"""The east-west part of the report and of the terminal summary, on a real run (data: results/netns-east-west)."""

from __future__ import annotations

import html
import re

from cnibench.report import document
from cnibench.report.summary import format_summary
from cnibench.results.model import read_results


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def test_the_section_has_the_matrix_with_codes_and_the_pod_host_ratio_as_text(data_dir):
    run = read_results(data_dir / "results" / "netns-east-west.json")
    report = document.build([run], [None])
    images = re.findall(r'<img alt="([^"]+)" src="data:image/svg\+xml;base64,', report.html)
    assert images == [
        *(f"East-west {path} throughput per CNI" for path in ("pod-to-pod", "pod-to-service", "host-to-host")),
        "Pod network over host network",
    ]
    assert '<h3 id="run-1-east-west">east-west</h3>' in report.html
    assert "<h4>pod-to-service.cross-node.tcp-single</h4>" in report.html
    page = _text(report.html)
    # the trial codes are text in the section (and the Markdown), with the same numbers as the terminal's table
    assert re.search(r"STS cross-node tcp-single 6\.59 \[5\.83, 7\.35\], 50% \(n=2\)", page)
    assert "| HTS-SN same-node tcp-single | " in report.markdown
    # the pod/host ratios, as the terminal summary prints them
    assert "hostgw cross-node tcp 0.81 0.58" in page and "vxlan cross-node tcp 0.95 1.02" in page
    assert "| hostgw | cross-node | tcp | 0.81 | 0.58 |" in report.markdown


def test_the_summary_has_the_matrix_and_the_pod_host_ratios(data_dir):
    run = read_results(data_dir / "results" / "netns-east-west.json")
    text = format_summary(run, "results/x")
    assert text.startswith(f"cnibench run {run.run_id} on netns: complete, 24/24 repetitions ok")
    assert re.search(r"hostgw\s+STS\s+pod-to-service\s+cross-node\s+tcp\s+2/2\s+6\.59\s+\[5\.83, 7\.35\] 50%", text)
    assert re.search(r"vxlan\s+HTS-SN\s+host-to-host\s+same-node\s+tcp\s+2/2\s+16\.43", text)
    assert "pod network / host network throughput" in text
    assert re.search(r"hostgw\s+cross-node\s+tcp\s+0\.81\s+0\.58", text)
    assert re.search(r"vxlan\s+cross-node\s+tcp\s+0\.95\s+1\.02", text)
