from __future__ import annotations

import re

from cnibench.report import document
from cnibench.results.model import read_results


def _runs(data_dir):
    return [
        read_results(data_dir / "results" / "netns-hostgw-vxlan.json"),
        read_results(data_dir / "results" / "netns-ingress-l7.json"),
    ]


def test_one_run_report_is_self_contained(data_dir):
    run = _runs(data_dir)[0]
    report = document.build([run], [None])
    page = report.html
    assert "<script" not in page and "@import" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing fetched from anywhere
    images = re.findall(r'<img alt="([^"]+)" src="data:image/svg\+xml;base64,', page)
    assert images == [
        "Egress throughput per CNI",
        "TCP round-trip time per CNI",
        "Egress gateway vs baseline",
        "iperf3 throughput over time",
    ]
    assert "<td>egress</td>" in page and "throughput (Gbit/s)" in page
    assert "prefers-color-scheme: dark" in page and "@media print" in page
    assert "| egress | throughput (Gbit/s) |" in report.markdown


def test_several_runs_are_series_of_their_own(data_dir):
    runs = _runs(data_dir)
    report = document.build(runs, [None, None])
    for run in runs:
        assert f"hostgw ({run.run_id})" in report.html
    assert "Ingress requests per second per CNI" in report.html and "Backend spread per pod" in report.html
    assert "k6 latency percentiles" in report.html
    assert "environments differ" in report.html or runs[0].environment["kernel"] == runs[1].environment["kernel"]


def test_failed_repetitions_and_warnings_are_shown(data_dir):
    run = _runs(data_dir)[0]
    samples = list(run.samples)
    samples[0] = samples[0].model_copy(update={"status": "failed", "error": "iperf3: boom"})
    report = document.build([run.model_copy(update={"samples": samples})], [None])
    assert "Failed repetitions" in report.html and "iperf3: boom" in report.html
    assert "1 failed repetition(s) left out of the statistics" in report.markdown
    assert report.markdown.count("only 1 successful repetition(s)") == 1  # once, not once per metric
