"""The report (HTML and Markdown from the same Jinja2 context) on real runs: tests/data/results."""

from __future__ import annotations

import re

import markupsafe

from cnibench.report import document
from cnibench.results.model import read_results
from cnibench.results.verdicts import analyse


def _run(data_dir, name):
    return read_results(data_dir / "results" / f"{name}.json")


def _trial_table(page, trial):
    """The HTML table of one trial of the first run."""
    start = page.index(f"<h4>{trial}</h4>")
    return page[start : page.index("</table>", start)]


def test_one_run_report_is_self_contained(data_dir):
    run = _run(data_dir, "netns-hostgw-vxlan")
    report = document.build([run], [None])
    page = report.html
    assert "<script" not in page and "@import" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing fetched from anywhere
    images = re.findall(r'<img alt="([^"]+)" src="data:image/svg\+xml;base64,', page)
    assert images == [
        "Egress throughput per CNI",
        "TCP round-trip time per CNI",
        "iperf3 throughput over time",
        "Policy vs baseline: throughput",
    ]
    assert '<h3 id="run-1-egress">egress</h3>' in page and "<h4>egress</h4>" in page and "throughput (Gbit/s)" in page
    assert "prefers-color-scheme: dark" in page and "@media print" in page
    assert "| metric | hostgw | vxlan | against the reference |" in report.markdown


def test_headline_first_and_the_settings_beside_it(data_dir):
    """The answer comes before any table, in both documents, with the settings that produced it."""
    run = _run(data_dir, "netns-pool-a")
    report = document.build([run], [None])
    headline = analyse(run).headline()
    settings = "egress: tcp, 1 stream(s), 3 s + 1 s warm-up, 12 repetition(s); ingress: l7 gateway, 3 backends, 10 VUs"
    for text, escape in ((report.html, lambda s: str(markupsafe.escape(s))), (report.markdown, str)):
        first_table = text.index("<h4>") if text is report.html else text.index("\n#### ")  # the first trial's table
        scoreboard = text.index('class="scoreboard"') if text is report.html else text.index("| | trial | metric |")
        assert scoreboard < first_table
        assert settings in text and text.index(settings) < first_table
        for line in headline:
            assert escape(line) in text and text.index(escape(line)) < first_table
    assert headline[0].startswith("egress-baseline throughput: inconclusive: vxlan 8.95 vs hostgw 7.28 Gbit/s")


def test_only_a_cni_shown_different_and_better_is_highlighted(data_dir):
    """The old report crowned a "best" in 10 of 12 rows at p = 1.0. One cluster per CNI (the pool run) tests
    nothing; in the default run (6 clusters) vxlan's egress throughput halved makes hostgw the one highlighted."""
    assert 'class="win"' not in document.build([_run(data_dir, "netns-pool-a")], [None]).html
    run = _run(data_dir, "netns-default")
    samples = [
        s.model_copy(update={"throughput_bps": s.throughput_bps * 0.5}) if (s.cni, s.scenario) == ("vxlan", "egress")
        else s
        for s in run.samples
    ]  # fmt: skip
    page = document.build([run.model_copy(update={"samples": samples})], [None]).html
    table = _trial_table(page, "egress")
    row = next(r for r in table.split("<tr>") if r.startswith("<td>throughput"))
    assert row.count('class="win"') == 1 and "(reference)" in row and "≠ -54.9 % [-71.8, -27.8]" in row


def test_warnings_sit_next_to_the_numbers_they_concern(data_dir):
    page = document.build([_run(data_dir, "netns-pool-a")], [None]).html
    table = _trial_table(page, "egress-baseline")
    row = next(r for r in table.split("<tr>") if r.startswith("<td>throughput"))
    assert "7.65 [5.48, 9.93] (n=12) (reference) <sup" in row and "&#9888;1</sup>" in row  # hostgw's cell, warning 1
    after = page[page.index("</table>", page.index("<h4>egress-baseline</h4>")) :]
    assert after.startswith(
        '</table></div>\n<ol class="warnings"><li>hostgw egress-baseline: throughput: stdev is 31% of the mean '
        "(&gt;= 10%)"
    )


def test_checks_are_limits_not_contests(data_dir):
    page = document.build([_run(data_dir, "netns-pool-a")], [None]).html
    table = _trial_table(page, "ingress")
    fairness = next(r for r in table.split("<tr>") if r.startswith("<td>backend fairness"))
    assert fairness.count("pass (worst 1.000, limit 0.900)") == 2 and fairness.endswith("<td>check</td></tr>\n")


def test_several_runs_compare_cnis_within_each_run_and_each_cni_with_itself_across_runs(data_dir):
    runs = [_run(data_dir, "netns-pool-a"), _run(data_dir, "netns-pool-b")]
    report = document.build(runs, [None, None])
    page = report.html
    for i, run in enumerate(runs):
        assert f'<h2 id="run-{i + 1}">Run {run.run_id}</h2>' in page and f'<a href="#run-{i + 1}">' in page
        assert f"hostgw ({run.run_id})" not in page  # no CNI-of-a-run series: each run's figures in its section
    changes = page[page.index('<h2 id="changes">Run-to-run changes</h2>') : page.index('<h2 id="environment">')]
    assert f"<h3>{runs[0].run_id} &rarr; {runs[1].run_id}</h3>" in changes
    # one cluster per CNI in each run: described, never judged (the old gate called vxlan's -33 % a regression)
    assert "<li>hostgw egress throughput: 9.35 -&gt; 8.41 Gbit/s: inconclusive (1 vs 1 cluster(s)" in changes
    assert "<li><b>" not in changes
    assert page.count("Ingress requests per second per CNI.</b>") == 2 and page.count("Backend spread.</b>") == 2


def test_runs_of_different_scenarios_share_nothing_to_compare(data_dir):
    runs = [_run(data_dir, "netns-hostgw-vxlan"), _run(data_dir, "netns-ingress-l7")]
    report = document.build(runs, [None, None])
    assert "the runs share no CNI x trial with results: nothing to compare" in report.html
    assert "k6 latency percentiles" in report.html


def test_failed_repetitions_and_warnings_are_shown(data_dir):
    run = _run(data_dir, "netns-hostgw-vxlan")
    samples = list(run.samples)
    samples[0] = samples[0].model_copy(update={"status": "failed", "error": "iperf3: boom"})
    report = document.build([run.model_copy(update={"samples": samples})], [None])
    where = f"{samples[0].cni} {samples[0].scenario}"
    assert "Failed repetitions" in report.html and "iperf3: boom" in report.html
    assert f"{where}: 1 of 2 repetitions failed (left out)" in report.markdown
    assert report.markdown.count(f"{where}: only 1 successful repetition(s)") == 1  # once, not once per metric
