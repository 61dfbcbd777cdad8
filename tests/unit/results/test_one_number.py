"""One number per comparison: the terminal summary, ``summary --json``, ``report.md``, ``report.html`` and
``compare --json`` show the same estimate, direction and interval for the same comparison (a real default run on
netns: tests/data/results/netns-default.json, 6 rounds x 1 repetition)."""

from __future__ import annotations

import html
import json
import re

import pytest

from cnibench import cli
from cnibench.report import document
from cnibench.report.summary import format_summary
from cnibench.results.compare import compare
from cnibench.results.model import read_results
from cnibench.results.verdicts import analyse
from cnibench.scenarios import metric_named


@pytest.fixture
def run(data_dir):
    return read_results(data_dir / "results" / "netns-default.json")


def _expected(obj) -> tuple[str, str]:
    """The sentence fragment and the table cell every place must show for one verdict object."""
    metric = metric_named(obj["metric"])
    change = obj["ratio"] - 1
    if abs(change) < 0.0005:
        words = f"{obj['cni']} is within 0.05 % of {obj['reference']}"
    else:
        word = metric.words[0] if change > 0 else metric.words[1]
        words = f"{obj['cni']} is {abs(change) * 100:.1f} % {word} than {obj['reference']}"
    low, high = obj["ci"]

    def one(value):  # beyond +-1000 %, every place says only that
        return f"{'+' if value > 0 else '-'}>1000" if abs(value) > 10 else f"{value * 100:+.1f}"

    cell = f"{one(change)} % [{one(low - 1)}, {one(high - 1)}]"
    return words, cell


def test_every_place_shows_the_same_number_for_each_comparison(run, data_dir, capsys, tmp_path):
    assert cli.main(["summary", str(data_dir / "results" / "netns-default.json"), "--json"]) == 0
    objects = json.loads(capsys.readouterr().out)["verdicts"]
    primary = [o for o in objects if o["primary"]]
    assert len(primary) == 4 and all(o["clusters"] == {"hostgw": 6, "vxlan": 6} for o in primary)
    terminal = format_summary(run, "results/x")
    report = document.build([run], [None])
    page = html.unescape(re.sub(r"<[^>]+>", " ", report.html))
    page = re.sub(r"\s+", " ", page)
    for o in objects:
        if o["ci"] is None:
            continue
        words, cell = _expected(o)
        if o["primary"]:  # the scoreboard's row (the change in % without the unit) and the headline's sentence
            metric = metric_named(o["metric"])
            line = next(
                line for line in terminal.splitlines() if f"  {o['trial']}  " in line and f"  {metric.label} (" in line
            )
            assert cell.replace(" %", "") in line and o["outcome"] in line, (line, cell)
            assert words in report.markdown
        assert cell in report.markdown, (cell, o)
        assert cell in page, (cell, o)
        assert words in page


def test_no_other_percentage_contradicts_the_headline(run):
    """Every ``X.X % slower|faster than`` in the report belongs to a verdict object with that ratio."""
    analysis = analyse(run)
    allowed = {_expected(o)[0] for o in analysis.objects() if o["ci"] is not None}
    found = re.findall(r"\w+ is [0-9.]+ % \w+ than \w+", document.build([run], [None]).markdown)
    assert found and set(found) <= allowed


def test_compare_json_and_its_lines_agree(run):
    """``compare`` of the run with itself shifted: its text and JSON give one ratio per change."""
    result = compare(run, run)
    for change in result.changes:
        j = change.judgement
        if j is None or j.ci is None:
            continue
        data = change.to_json()
        assert data["ratio"] == pytest.approx(j.ratio) and data["ci"] == pytest.approx(list(j.ci))
        assert data["outcome"] in change.describe()
        if j.change is not None and abs(j.change) >= 0.0005:
            assert f"{abs(j.change) * 100:.1f} %" in change.describe()
