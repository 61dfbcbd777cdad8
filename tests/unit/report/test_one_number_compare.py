"""One number per comparison across runs: ``compare --json``, ``compare``'s terminal table and the multi-run
report's run-to-run section (HTML and Markdown) show the same change and interval for each CNI x trial x metric.
Run A is the real default run (tests/data/results/netns-default.json, 6 clusters per CNI); run B is the same run
with vxlan's egress throughput halved (a change the comparison must find), under another run id.
(The within-run comparisons: tests/unit/results/test_one_number.py.)"""

from __future__ import annotations

import html
import json
import re

from cnibench import cli
from cnibench.report import document
from cnibench.results.model import read_results, write_results
from cnibench.scenarios import metric_named


def _one(value: float) -> str:  # beyond +-1000 %, every place says only that
    return f"{'+' if value > 0 else '-'}>1000" if abs(value) > 10 else f"{value * 100:+.1f}"


def test_compare_json_its_table_and_the_report_agree(data_dir, tmp_path, capsys):
    a = read_results(data_dir / "results" / "netns-default.json")
    samples = [
        s.model_copy(update={"throughput_bps": s.throughput_bps * 0.5}) if (s.cni, s.scenario) == ("vxlan", "egress")
        else s
        for s in a.samples
    ]  # fmt: skip
    b = a.model_copy(update={"run_id": a.run_id + "-b", "samples": samples})
    write_results(tmp_path / "a.json", a)
    write_results(tmp_path / "b.json", b)
    cli.main(["compare", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--json"])
    objects = json.loads(capsys.readouterr().out)["verdicts"]
    cli.main(["compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")])
    table = capsys.readouterr().out
    report = document.build([a, b], [None, None])
    page = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", report.html)))
    checked = 0
    for o in objects:
        if o["ci"] is None:
            continue
        metric = metric_named(o["metric"])
        change, (low, high) = o["ratio"] - 1, o["ci"]
        row = next(
            line for line in table.splitlines()
            if re.match(rf"{o['cni']}\s+{re.escape(o['trial'])}\s+{re.escape(metric.label)} ", line)
        )  # fmt: skip
        assert f"{_one(change)} [{_one(low - 1)}, {_one(high - 1)}]" in row and o["outcome"] in row, (row, o)
        line = next(
            line.replace("**", "") for line in report.markdown.splitlines()  # a regression's line is in bold
            if line.replace("**", "").startswith(f"- {o['cni']} {o['trial']} {metric.label}:")
        )  # fmt: skip
        words = (
            "within 0.05 %" if abs(change) < 0.0005
            else f"{abs(change) * 100:.1f} % {metric.words[0] if change > 0 else metric.words[1]}"
        )  # fmt: skip
        assert words in line and o["outcome"] in line, (line, o)
        for bound in (low - 1, high - 1):
            shown = "over 1000 %" if abs(bound) > 10 else f"{abs(bound) * 100:.1f} %"
            assert shown in line or shown.replace(" %", " to") in line, (line, bound)
        assert line[2:] in page
        checked += 1
    assert checked >= 8
    vxlan = next(o for o in objects if (o["cni"], o["trial"], o["metric"]) == ("vxlan", "egress", "throughput_bps"))
    assert vxlan["outcome"] == "different" and abs(vxlan["ratio"] - 0.5) < 1e-9
