from __future__ import annotations

import re
import statistics

from cnibench.report.summary import format_summary
from cnibench.report.text import table, table_width
from cnibench.results.model import read_results
from cnibench.scenarios.egress import EGRESS


def _real(data_dir):
    # a results.json written by a real `cnibench run --repeat 2 --duration 2`
    return read_results(data_dir / "results" / "netns-hostgw-vxlan.json")


def test_rows_from_a_real_run(data_dir):
    results = _real(data_dir)
    table = EGRESS.rows(results.samples)
    assert {(r.cni, r.scenario) for r in table} == {
        (c, s) for c in ("hostgw", "vxlan") for s in ("egress", "egress-baseline")
    }
    for row in table:
        mine = [s.throughput_bps for s in results.samples if (s.cni, s.scenario) == (row.cni, row.scenario)]
        assert row.throughput.median == statistics.median(mine)
        assert row.verified == row.total == row.ok


def test_summary_text(data_dir):
    """Status, settings and the headline first; then the tables; the warnings last, each naming what it concerns."""
    results = _real(data_dir)
    lines = format_summary(results, "results/x").splitlines()
    assert lines[0] == "cnibench run 20261126-051618-local on netns: complete, 8/8 repetitions ok"
    assert lines[1] == "settings: egress: tcp, 1 stream(s), 2 s + 2 s warm-up, 2 repetition(s)"
    # the scoreboard first; one round: one cluster per CNI, nothing testable, and said so
    assert lines[2].startswith("verdicts: each CNI against hostgw; 1 cluster(s) per CNI, the cluster is the unit;")
    table = lines[lines.index(next(x for x in lines if x.strip().startswith("trial"))) :]
    assert re.match(r"  \?  egress-baseline  throughput \(Gbit/s\)  14\.70 +13\.97 +n/a +inconclusive", table[1])
    assert "policy cost per cluster (with / without, change in %):" in lines
    assert all(len(line) <= 100 for line in lines[: lines.index("caveats:") if "caveats:" in lines else 12])
    text = "\n".join(lines)
    assert "2/2 egress IP" in text and "2/2 node IP" in text
    assert "warning: vxlan egress: only 2 successful repetition(s) (fewer than 3)" in lines
    assert lines[-1] == "results: results/x"


def test_a_real_difference_leads_the_summary(data_dir):
    results = read_results(data_dir / "results" / "netns-default.json")
    samples = [
        s.model_copy(update={"throughput_bps": s.throughput_bps * 0.3})
        if (s.cni, s.scenario) == ("vxlan", "egress")
        else s
        for s in results.samples
    ]
    lines = format_summary(results.model_copy(update={"samples": samples}), "r").splitlines()
    row = next(line for line in lines if "  egress           throughput" in line)
    assert re.fullmatch(
        r"  ≠  egress +throughput \(Gbit/s\)  5\.68 +1\.54 +-72\.9 \[-\d+\.\d, -\d+\.\d\] +different +-", row
    ), row


def test_failed_and_unstable_repetitions_are_reported(data_dir):
    results = _real(data_dir)
    samples = list(results.samples)
    first = samples[0]
    samples[0] = first.model_copy(update={"status": "failed", "error": "iperf3: boom", "source_ip_ok": None})
    samples[1] = samples[1].model_copy(update={"throughput_bps": samples[1].throughput_bps * 3})
    samples.append(samples[1].model_copy(update={"repetition": 3, "throughput_bps": samples[1].throughput_bps / 9}))
    text = format_summary(results.model_copy(update={"samples": samples}), "r")
    assert f"failed: {first.cni} {first.scenario} rep 1: iperf3: boom" in text
    assert "1 of 3 repetitions failed" in text
    assert "varies by" in text and " !" in text


def test_repetitions_that_did_not_run_are_counted(data_dir):
    results = _real(data_dir).model_copy(update={"planned_repetitions": 12, "status": "interrupted"})
    assert "interrupted, 8/12 repetitions ok (4 did not run)" in format_summary(results, "r")


def test_ingress_table_from_a_real_run(data_dir):
    results = read_results(data_dir / "results" / "netns-ingress-l7.json")
    text = format_summary(results, "r")
    header = next(line for line in text.splitlines() if line.startswith("cni") and "req/s" in line)
    assert {"p95 ms", "p99 ms", "failed %", "fairness", "backends"} <= set(header.split("  ")) | {
        part.strip() for part in header.split("  ")
    }
    for cni in ("hostgw", "vxlan"):
        rps = sorted(s.requests_per_s for s in results.samples if s.cni == cni)
        row = next(line for line in text.splitlines() if line.startswith(cni))
        assert f"{statistics.median(rps):.0f}" in row and "3/3" in row and "l7" in row


def test_summary_says_how_long_each_cni_took_to_realise_the_egress_policy(data_dir):
    results = _real(data_dir)
    assert "egress policy realised" not in format_summary(results, "results/x")  # netns applies it instantly
    samples = [
        s.model_copy(update={"egress_apply_s": 2.25 if s.cni == "hostgw" else 0.5}) if s.scenario == "egress" else s
        for s in results.samples
    ]
    text = format_summary(results.model_copy(update={"samples": samples}), "results/x")
    assert "egress policy realised (server saw the egress IP) after: hostgw 2.2 s, vxlan 0.5 s" in text


def test_no_summary_line_is_wider_than_the_terminal(data_dir):
    """Every committed real run, at 100 columns (a pipe) and 72: wide tables fold (their first column repeated
    beside the columns that fit), prose wraps."""
    for path in sorted((data_dir / "results").glob("*.json")):
        run = read_results(path)
        for columns in (100, 72):
            text = format_summary(run, "results/x", columns=columns)
            assert max(len(line) for line in text.splitlines()) <= columns, (path.name, columns)


def test_a_wide_table_folds_with_its_first_column_repeated():
    header = ("cni", *(f"column {i}" for i in range(12)))
    body = [("hostgw", *(f"{i}.0" for i in range(12))), ("vxlan", *(f"{i}.5" for i in range(12)))]
    with table_width(60):
        lines = table(header, body)
    assert max(len(line) for line in lines) <= 60
    blocks = "\n".join(lines).split("\n\n")
    assert len(blocks) > 1 and all(block.split("\n")[1].startswith("hostgw") for block in blocks)
    assert all(f"column {i}" in "\n".join(lines) for i in range(12))
    with table_width(400):
        assert len(table(header, body)) == 3  # it fits: unfolded


def test_columns_that_do_not_fit_beside_long_trial_names_go_below_each_row_named_never_cut():
    from cnibench.report.scoreboard import aligned

    header = ("", "trial", "metric", "hostgw-set", "change % [95 % CI]", "outcome")
    body = [("?", "pod-to-pod.cross-node.tcp-single@no-policy", "throughput (Gbit/s)", "8.00", "-8.3 [-41.7, +44.3]",
             "inconclusive")]  # fmt: skip
    lines = aligned(header, body, 80, keys=(0, 1, 2, 3))
    assert all(len(text) <= 80 for text in lines) and not any("…" in text for text in lines)
    assert lines[1].strip() == "change % [95 % CI]: -8.3 [-41.7, +44.3]; outcome: inconclusive"
