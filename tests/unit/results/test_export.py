"""`export --summary`: statistics per run x CNI x scenario x metric, CSV and JSON, over one or several runs."""

from __future__ import annotations

import csv
import io
import json
import statistics

import pytest

from cnibench import cli
from cnibench.results.export import SUMMARY_COLUMNS, summary_csv, summary_json, summary_rows
from cnibench.results.model import read_results


@pytest.fixture
def egress(data_dir):
    return read_results(data_dir / "results" / "netns-hostgw-vxlan.json")


@pytest.fixture
def ingress(data_dir):
    return read_results(data_dir / "results" / "netns-ingress-l7.json")


def test_one_row_per_cni_scenario_and_metric_with_the_reports_figures(egress):
    rows = summary_rows([egress])
    keys = [(r["cni"], r["scenario"], r["metric"]) for r in rows]
    assert len(keys) == len(set(keys))
    expected_metrics = {"throughput_bps", "rtt_mean_us", "retransmits"}  # TCP: no UDP jitter or loss rows
    assert {k[2] for k in keys} == expected_metrics
    assert {(k[0], k[1]) for k in keys} == {(c, s) for c in ("hostgw", "vxlan") for s in ("egress-baseline", "egress")}
    row = next(r for r in rows if (r["cni"], r["scenario"], r["metric"]) == ("vxlan", "egress", "throughput_bps"))
    values = [s.throughput_bps for s in egress.samples if (s.cni, s.scenario) == ("vxlan", "egress")]
    assert row["n"] == len(values) == 2 and row["failed"] == 0
    assert row["median"] == statistics.median(values) and row["min"] == min(values) and row["max"] == max(values)
    assert (row["ci_low"], row["ci_high"], row["ci_level"]) == (min(values), max(values), 0.5)  # n = 2: honest
    assert row["run_id"] == egress.run_id and row["better"] == "higher" and row["label"] == "throughput"
    assert "only 2 successful repetition(s) (fewer than 3)" in row["warnings"]


def test_csv_and_json_carry_the_same_rows(egress, ingress):
    rows = summary_rows([egress, ingress])
    table = list(csv.DictReader(io.StringIO(summary_csv([egress, ingress]))))
    assert tuple(table[0]) == SUMMARY_COLUMNS and len(table) == len(rows)
    assert [float(t["median"]) for t in table] == [r["median"] for r in rows]
    data = json.loads(summary_json([egress, ingress]))
    assert data["runs"] == [egress.run_id, ingress.run_id]
    assert data["rows"] == json.loads(json.dumps(rows)) and "order-statistic" in data["ci"]
    assert {r["run_id"] for r in rows} == {egress.run_id, ingress.run_id}  # runs are kept apart
    assert {r["metric"] for r in rows if r["scenario"] == "ingress"} >= {"requests_per_s", "latency_p95_ms"}


def test_a_cni_whose_repetitions_all_failed_keeps_its_rows(egress):
    failed = egress.model_copy(
        update={
            "samples": [
                s.model_copy(update={"status": "failed", "error": "boom", "throughput_bps": None})
                if s.cni == "hostgw"
                else s
                for s in egress.samples
            ]
        }
    )
    rows = [r for r in summary_rows([failed]) if r["metric"] == "throughput_bps" and r["cni"] == "hostgw"]
    assert [(r["scenario"], r["n"], r["failed"], r["median"]) for r in rows] == [
        ("egress-baseline", 0, 2, None),
        ("egress", 0, 2, None),
    ]


def test_export_several_runs_from_the_command_line(tmp_path, data_dir, capsys):
    runs = [str(data_dir / "results" / f"{name}.json") for name in ("netns-hostgw-vxlan", "netns-ingress-l7")]
    out = tmp_path / "summary.csv"
    assert cli.main(["export", *runs, "--summary", "--csv", "-o", str(out)]) == 0
    assert capsys.readouterr().err == f"wrote {out}\n"
    assert out.read_text().startswith(",".join(SUMMARY_COLUMNS) + "\n")
    assert cli.main(["export", *runs, "--json"]) == 0  # samples of several runs: a list of the runs' records
    assert [r["run_id"] for r in json.loads(capsys.readouterr().out)] == [
        "20261126-051618-local",
        "20261126-060011-ingress-try",
    ]
    assert cli.main(["export", runs[0], "--json", "-o", str(tmp_path / "no" / "such" / "dir" / "x.json")]) == 0
    capsys.readouterr()
    (tmp_path / "ro").mkdir()
    assert cli.main(["export", runs[0], "--csv", "-o", str(tmp_path / "ro")]) == 2  # a directory: one line
    assert capsys.readouterr().err == f"cnibench: error: -o {tmp_path / 'ro'}: is a directory, not a file\n"


def test_the_summary_carries_each_cnis_verdict_against_the_reference(data_dir):
    """The same figures as ``summary --json``: outcome, ratio, its interval and level, adjusted p, MDE."""
    from cnibench.results.verdicts import analyse

    run = read_results(data_dir / "results" / "netns-default.json")
    table = list(csv.DictReader(io.StringIO(summary_csv([run]))))
    objects = {(o["trial"], o["metric"], o["cni"]): o for o in analyse(run).objects()}
    row = next(r for r in table if (r["scenario"], r["metric"], r["cni"]) == ("egress", "throughput_bps", "vxlan"))
    obj = objects[("egress", "throughput_bps", "vxlan")]
    assert row["reference"] == "hostgw" and row["outcome"] == obj["outcome"]
    assert float(row["ratio"]) == pytest.approx(obj["ratio"]) and float(row["ratio_ci_low"]) == pytest.approx(
        obj["ci"][0]
    )
    assert float(row["p_adjusted"]) == pytest.approx(obj["p_adjusted"]) and float(row["ratio_ci_level"]) == 0.95
    reference = next(
        r for r in table if (r["scenario"], r["metric"], r["cni"]) == ("egress", "throughput_bps", "hostgw")
    )
    assert reference["outcome"] == "" and reference["reference"] == "hostgw"
    east_west = read_results(data_dir / "results" / "netns-east-west-rate.json")
    rows = list(csv.DictReader(io.StringIO(summary_csv([east_west]))))
    assert {r["code"] for r in rows} == {"DTS"} and {r["path"] for r in rows} == {"pod-to-pod"}
    assert {float(r["offered_rate"]) for r in rows} == {5e8, 2e9}
