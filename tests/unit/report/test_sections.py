"""The report's layout on real runs (tests/data/results): one style per CNI in every plot, per-scenario sections,
a multi-run report per run with contents and the environments' differences once, the CPU-cost table."""

from __future__ import annotations

import base64
import html
import logging
import re

import pytest

from cnibench.report import document
from cnibench.report.figure import PALETTE, cni_order, cni_style
from cnibench.results.model import read_results

THREE = ("netns-default", "netns-east-west", "netns-fixed-load")


def _runs(data_dir, *names):
    return [read_results(data_dir / "results" / f"{name}.json") for name in names]


def _svgs(page: str) -> list[str]:
    return [base64.b64decode(u).decode() for u in re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', page)]


def test_the_report_order_gives_a_cni_one_style_whatever_the_plot_shows():
    with cni_order(["hostgw", "vxlan"]):
        assert cni_style("vxlan", ["vxlan"]) == cni_style("vxlan", ["hostgw", "vxlan"])
        assert cni_style("vxlan").color == PALETTE[1] and cni_style("calico", ["calico"]).color == PALETTE[2]
    assert cni_style("vxlan", ["vxlan"]).color == PALETTE[0]  # outside a report: the plot's own order


def test_every_plot_of_a_report_colours_each_cni_alike(data_dir):
    """Two CNIs in all three runs: no plot uses a third palette colour (the old time series, percentile and
    backend plots coloured by series index: four colours for two CNIs in two trials)."""
    runs = _runs(data_dir, *THREE)
    assert document.cni_order(runs, [document.analyse(r) for r in runs]) == ["hostgw", "vxlan"]
    svgs = _svgs(document.build(runs, [None] * 3).html)
    assert len(svgs) >= 12
    allowed = {PALETTE[0].lower(), PALETTE[1].lower()}
    for svg in svgs:
        used = {c.lower() for c in re.findall(r"#[0-9a-fA-F]{6}", svg)} & {c.lower() for c in PALETTE}
        assert used and used <= allowed, used


def test_a_multi_run_report_per_run_with_contents_and_the_differences_once(data_dir):
    runs = _runs(data_dir, *THREE)
    report = document.build(runs, [None] * 3)
    page = report.html
    for i, run in enumerate(runs, start=1):
        assert f'<h2 id="run-{i}">Run {run.run_id}</h2>' in page and f'<a href="#run-{i}">Run {run.run_id}</a>' in page
        # a section per scenario of the run, after its run's heading and before the next run's
        start = page.index(f'<h2 id="run-{i}">')
        end = page.index(f'<h2 id="run-{i + 1}">') if i < 3 else page.index('<h2 id="changes">')
        sections = re.findall(r'<h3 id="(run-\d-[a-z-]+)">', page[start:end])
        assert sections and all(s.startswith(f"run-{i}-") for s in sections)
        assert all(f'<a href="#{s}">' in page for s in sections)
        # why the run has no node plots, in one line
        assert html.unescape(page).count(f"Run {run.run_id}: no node-metric plots: the run's raw Prometheus") == 1
    assert sections == ["run-3-egress", "run-3-ingress"]
    assert re.findall(r'<h3 id="run-2-[a-z-]+">', page) == ['<h3 id="run-2-east-west">']
    # what differs between the machines: once, at the top, and marked in the one environment table
    busy = "other work on the machine before the run: 100 % vs 69 % busy"
    assert page.count(busy) == 1 and page.index(busy) < page.index('<h2 id="run-1">')
    assert page.count('<h2 id="environment">') == 1
    assert '<tr class="differs"><td>other work before the run</td>' in page
    assert report.markdown.count(busy) == 1


def test_the_cost_table_has_an_interval_an_other_column_and_no_negative_number(data_dir):
    (run,) = _runs(data_dir, "netns-fixed-load")
    markdown = document.build([run], [None]).markdown
    start = markdown.index("#### CPU cost per unit of work")
    table = [line for line in markdown[start:].splitlines() if line.startswith("| ")]
    header = table[0]
    assert header.startswith("| cni | trial | unit | total (median) | interval | user | system | softirq | other |")
    rows = [line for line in table[1:] if "CPU s per Gbit" in line]
    assert len(rows) == 12
    assert "| hostgw | egress-baseline@2G | CPU s per Gbit | 0.167 | [< 0, 0.384] 88% |" in markdown
    assert not any(re.search(r"\| -[0-9]", line) for line in rows)  # a net below zero is "< 0", explained
    assert '"< 0": the net was below zero' in markdown[start:]


@pytest.mark.parametrize("name", ["netns-default", "netns-ingress-l7"])
def test_the_backend_spread_says_how_uneven_the_worst_repetition_was(data_dir, name):
    page = document.build(_runs(data_dir, name), [None]).html
    assert "Backend spread.</b>" in page and "Backend spread per pod" not in page
    row = re.search(r"<tr><td>hostgw</td><td>(1\.0\d\d\d) \[(1\.0\d\d\d), (1\.0\d\d\d)\]</td><td>([01]\.\d{4})</td>"
                    r"<td>0\.900</td><td>pass</td><td>3/3</td></tr>", page)  # fmt: skip
    assert row is not None
    median, low, high, jain = (float(g) for g in row.groups())
    assert low <= median <= high and jain >= 0.9


def test_no_plot_prints_text_over_text(data_dir, caplog):
    """Every plot of the real runs checked for overlapping tick labels, titles, axis labels and legend entries
    (:func:`cnibench.report.figure.overlapping_texts`; the old multi-trial policy plot printed 'hostgw\\negress@500M'
    over 'vxlan\\negress@500M')."""
    runs = _runs(data_dir, *THREE, "netns-ingress-l7", "netns-east-west-rate")
    with caplog.at_level(logging.WARNING, logger="cnibench.report.figure"):
        for run in runs:
            document.build([run], [None])
    assert [r.getMessage() for r in caplog.records if "texts overlap" in r.getMessage()] == []


def test_the_overlap_check_finds_labels_printed_over_each_other():
    from cnibench.report.figure import overlapping_texts, panels, plt

    fig, (ax,) = panels(1)
    ax.set_xticks([0, 0.05], ["a long label", "another label"])
    assert overlapping_texts(fig) == [("a long label", "another label")]
    plt.close(fig)
