"""``compare`` as a CI gate, on two real runs of one configuration (tests/data/results/netns-pool-{a,b}.json: the
same spec, 12 repetitions per CNI x trial, run one after the other on a 2-core VM) and on copies of them edited to
contain the failures the old gate did not see."""

from __future__ import annotations

import json
import re

import pytest

from cnibench import cli
from cnibench.results.analysis import environment_differences, spec_differences
from cnibench.results.compare import compare, compare_history
from cnibench.results.model import read_results, write_results
from cnibench.scenarios.ingress import failed_requests_error

EGRESS_IP = "203.0.113.254"


def _real(data_dir, name):
    return read_results(data_dir / "results" / f"netns-pool-{name}.json")


def _first(run, repetitions):
    """The run as if it had had ``repetitions`` per CNI x trial: its first ones (real samples, nothing changed)."""
    samples = [s for s in run.samples if s.repetition <= repetitions]
    return run.model_copy(update={"samples": samples, "planned_repetitions": len(samples)})


def _edit(run, cni, trial, repetitions, **update):
    samples = [
        s.model_copy(update=update) if (s.cni, s.scenario) == (cni, trial) and s.repetition in repetitions else s
        for s in run.samples
    ]
    return run.model_copy(update={"samples": samples})


@pytest.fixture
def three(data_dir):
    """Run A and run B with 3 repetitions a side (the old default): nothing can be significant at 3 vs 3, so only
    failures, missing repetitions and checks can fail the gate."""
    return _first(_real(data_dir, "b"), 3), _first(_real(data_dir, "a"), 3)


def test_two_real_runs_of_one_configuration_pass(three):
    a, b = three
    result = compare(a, b)
    assert result.exit_code == 0 and result.regressions == []


def _all_vxlan_egress_failed(run):
    return _edit(run, "vxlan", "egress", {1, 2, 3}, status="failed", error="iperf3: unable to connect to server",
                 throughput_bps=None, rtt_mean_us=None, retransmits=None)  # fmt: skip


def test_every_vxlan_egress_repetition_failed(three):
    """The old gate exited 0: the failed rows had no values and vanished from the comparison."""
    a, b = three
    b = _all_vxlan_egress_failed(b)
    result = compare(a, b)
    assert result.exit_code == 1
    assert [r.line() for r in result.regressions] == [
        "vxlan egress: 0 successful repetition(s) in B, 3 in A; 3 of 3 repetitions failed in B (first: iperf3: unable "
        "to connect to server)"
    ]


def test_two_of_three_with_a_wrong_source_ip(three):
    """The figures are kept (they show what the path did); the repetitions failed. The old gate exited 0."""
    a, b = three
    node_ip = next(s.source_ip_seen for s in b.samples if (s.cni, s.scenario) == ("vxlan", "egress-baseline"))
    b = _edit(
        b,
        "vxlan",
        "egress",
        {1, 3},
        status="failed",
        source_ip_seen=node_ip,
        source_ip_ok=False,
        egress_ip_ok=False,
        error=f"server saw {node_ip}, expected the egress IP {EGRESS_IP}",
    )
    result = compare(a, b)
    assert result.exit_code == 1
    assert [r.line() for r in result.regressions] == [
        f"vxlan egress: 1 successful repetition(s) in B, 3 in A; 2 of 3 repetitions failed in B (first: server saw "
        f"{node_ip}, expected the egress IP {EGRESS_IP})"
    ]


def test_failed_requests_from_none_to_30_percent(three):
    """No relative change exists from 0: the old gate exited 0. The repetitions failed (the spec allows 0 %) and
    the check that A kept is broken."""
    a, b = three
    error = failed_requests_error(0.3, 0.0)
    b = _edit(b, "hostgw", "ingress", {1, 2, 3}, failed_rate=0.3, status="failed", error=error)
    lines = [r.line() for r in compare(a, b).regressions]
    assert lines == [
        f"hostgw ingress: 0 successful repetition(s) in B, 3 in A; 3 of 3 repetitions failed in B (first: {error})",
        "hostgw ingress: failed requests: passed in A (pass (worst 0.00 %, limit 0.00 %)), fails in B: FAIL in 3 of 3 "
        "(worst 30.00 %, limit 0.00 %)",
    ]
    # a spec that allows 50 % failed requests: the repetitions are ok and the check keeps the run's own limit
    lenient = _edit(b, "hostgw", "ingress", {1, 2, 3}, status="ok", error=None, max_failed_rate=0.5)
    assert compare(a, lenient).exit_code == 0


def test_missing_repetitions_and_an_incomplete_run(three):
    a, b = three
    samples = [s for s in b.samples if (s.cni, s.scenario, s.repetition) != ("hostgw", "egress", 2)]
    shorter = b.model_copy(update={"samples": samples, "status": "interrupted", "error": "interrupted by SIGINT"})
    lines = [r.line() for r in compare(a, shorter).regressions]
    assert lines == [
        "run B is interrupted: interrupted by SIGINT",
        "run B: 1 planned repetition(s) did not run",
        "hostgw egress: 2 successful repetition(s) in B, 3 in A; repetition(s) 2 of A missing in B",
    ]
    gone = b.model_copy(update={"samples": [s for s in b.samples if s.cni != "vxlan"], "planned_repetitions": 9})
    assert [r.line() for r in compare(a, gone).regressions] == [
        f"vxlan {trial}: in A (3 of 3 ok), missing from B" for trial in ("egress-baseline", "egress", "ingress")
    ]


def test_a_repetition_missing_in_a_later_round_is_named_by_its_round(three):
    a, b = three

    def in_rounds(run):  # 3 repetitions = 2 in round 1 and 1 in round 2 (schema 7 samples record their round)
        return run.model_copy(
            update={
                "samples": [
                    s.model_copy(update={"round": 1})
                    if s.repetition <= 2
                    else s.model_copy(update={"round": 2, "repetition": 1})
                    for s in run.samples
                ]
            }
        )

    a, b = in_rounds(a), in_rounds(b)
    b = b.model_copy(update={"samples": [s for s in b.samples if not (s.cni == "vxlan" and s.round == 2)]})
    lines = [r.line() for r in compare(a, b).regressions if r.cni == "vxlan"]
    assert lines and all(line.endswith("repetition(s) 1 of round 2 of A missing in B") for line in lines)
    # a run without rounds against one with them: the same number of repetitions is no regression, fewer is
    assert compare(three[0], in_rounds(three[1])).exit_code == 0
    b = in_rounds(three[1])
    b = b.model_copy(
        update={"samples": [s for s in b.samples if not (s.cni == "vxlan" and (s.round, s.repetition) == (1, 2))]}
    )
    lines = [r.line() for r in compare(three[0], b).regressions if r.cni == "vxlan"]
    assert lines and all(line.endswith("2 repetitions in B, 3 in A") for line in lines)


def _spread(run, cni, trial, field, factor):
    """B's samples of (cni, trial) moved by ``factor`` (a real difference, on real samples)."""
    samples = [
        s.model_copy(update={field: getattr(s, field) * factor}) if (s.cni, s.scenario) == (cni, trial) else s
        for s in run.samples
    ]
    return run.model_copy(update={"samples": samples})


def _default(data_dir):
    """The real default run: 6 rounds x 1 repetition (6 clusters per CNI)."""
    return read_results(data_dir / "results" / "netns-default.json")


def test_the_unit_is_the_cluster_and_a_real_slowdown_is_a_regression(data_dir):
    a = _default(data_dir)
    b = _spread(a, "hostgw", "egress", "throughput_bps", 0.5)  # the same repetitions, 50 % slower
    result = compare(a, b)
    (regression,) = result.regressions
    assert regression.line().startswith("hostgw egress: throughput: ")
    pattern = (
        r": different: 50\.0 % slower \(95 % CI \d+\.\d to \d+\.\d % slower; p (< 0\.001|= 0\.0\d\d) adjusted over 8 "
        r"tests; 6 vs 6 clusters, unpaired\)$"
    )
    assert re.search(pattern, regression.line()), regression.line()
    change = next(c for c in result.changes if (c.cni, c.scenario, c.metric.name) == ("hostgw", "egress",
                  "throughput_bps"))  # fmt: skip
    assert change.judgement.estimate.design == "unpaired" and change.judgement.ratio == pytest.approx(0.5)
    assert compare(a, b, threshold=0.6).exit_code == 0  # 50 %: below a 60 % threshold
    assert compare(a, _spread(a, "hostgw", "egress", "throughput_bps", 1.5)).exit_code == 0  # faster: no regression
    same = compare(a, a)
    judged = [c.judgement for c in same.changes if c.gated and c.judgement]
    assert same.exit_code == 0 and judged
    assert all(j.ratio == pytest.approx(1.0) and j.outcome != "different" for j in judged)
    # a secondary metric is reported, never gated, unless asked for
    rtt = _spread(a, "vxlan", "egress", "rtt_mean_us", 3.0)
    assert compare(a, rtt).exit_code == 0
    assert compare(a, rtt, metrics=("rtt_mean_us",)).exit_code == 1


def test_one_cluster_per_cni_cannot_be_judged_and_says_so(three):
    a, b = three
    result = compare(a, b)
    assert result.exit_code == 0
    assert any("cannot be judged: 1 vs 1 cluster(s)" in note and "--history N" in note for note in result.notes)


def test_history_judges_a_run_against_earlier_runs_of_its_spec(data_dir):
    base = _default(data_dir)
    rounds = sorted({s.round for s in base.samples})

    # six real "runs" of one cluster pair each: the default run's rounds, one per run
    def one(r, run_id):
        samples = [s for s in base.samples if s.round == r]
        return base.model_copy(update={"run_id": run_id, "samples": samples, "planned_repetitions": len(samples)})

    history = [one(r, f"r{r}") for r in rounds[:-1]]
    last = one(rounds[-1], "new")
    result = compare_history(history, last)
    assert result.unit == "run" and all(
        c.judgement.estimate.design == "run vs 5 earlier runs" for c in result.changes if c.judgement
    )
    slower = compare_history(history, _spread(last, "vxlan", "egress", "throughput_bps", 0.2))
    assert [(r.cni, r.scenario, r.metric) for r in slower.regressions] == [("vxlan", "egress", "throughput_bps")]


# ---- the command -------------------------------------------------------------------------------------------------


@pytest.fixture
def run_dirs(tmp_path, three):
    """Runs A and B (3 repetitions a side) as run directories, and B with every vxlan egress repetition failed."""
    a, b = three
    failed = _all_vxlan_egress_failed(b).model_copy(
        update={"run_id": "b-failed", "environment": {**b.environment, "kernel": "6.1.0"}}
    )
    paths = {}
    for name, run in (("a", a), ("b", b), ("failed", failed)):
        paths[name] = tmp_path / name
        paths[name].mkdir()
        write_results(paths[name] / "results.json", run)
    paths["db"] = tmp_path / "x.db"
    return paths


def test_compare_command_says_each_regression_in_one_line_and_exits_1(run_dirs, capsys):
    db = ["--db", str(run_dirs["db"])]
    assert cli.main(["compare", str(run_dirs["a"]), str(run_dirs["b"]), *db]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == "no regression"
    assert cli.main(["compare", str(run_dirs["a"]), str(run_dirs["failed"]), *db]) == 1
    out = capsys.readouterr().out.replace("\n  ", " ").splitlines()  # wrapped at 100 columns
    assert [line for line in out if line.startswith("REGRESSION: ")] == [
        "REGRESSION: vxlan egress: 0 successful repetition(s) in B, 3 in A; 3 of 3 repetitions failed in B (first: "
        "iperf3: unable to connect to server)"
    ]
    assert "note: environments differ: kernel: 6.18.44-fc-v1252 vs 6.1.0" in out
    assert out[-1] == "1 regression(s)"


def test_compare_json_for_machines(run_dirs, capsys):
    assert (
        cli.main(["compare", str(run_dirs["a"]), str(run_dirs["failed"]), "--json", "--db", str(run_dirs["db"])]) == 1
    )
    data = json.loads(capsys.readouterr().out)
    assert data["exit_code"] == 1 and data["correction"] == "bonferroni" and data["threshold"] == 0.05
    assert data["gated_metrics"] == ["throughput_bps", "requests_per_s", "latency_p95_ms"]
    assert [(r["cni"], r["scenario"]) for r in data["regressions"]] == [("vxlan", "egress")]
    changes = {(c["cni"], c["scenario"], c["metric"]): c for c in data["verdicts"]}
    change = changes[("hostgw", "egress", "throughput_bps")]
    assert change["clusters"] == {"a": 1, "b": 1} and change["outcome"] == "inconclusive" and change["gated"]


@pytest.mark.parametrize(
    ("threshold", "fraction"), [("5%", 0.05), ("0.05", 0.05), ("12.5%", 0.125), ("0.2", 0.2), ("150%", 1.5)]
)
def test_threshold_is_a_percentage_or_a_fraction(threshold, fraction):
    from cnibench.commands.results import parse_threshold

    assert parse_threshold(threshold) == pytest.approx(fraction)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--threshold", "5"], "--threshold 5: ambiguous; write 5% for a percentage or a fraction below 1 (0.05 = 5%)"),
        (["--threshold", "five"], "--threshold 'five': not a number"),
        (["--threshold", "0%"], "--threshold 0%: must be more than 0"),
        (["--metric", "speed"], "--metric speed: no such metric; valid: throughput_bps, rtt_mean_us,"),
        (["--metric", "retransmits", "--all-metrics"], "--metric and --all-metrics exclude each other"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(run_dirs, capsys, argv, message):
    assert cli.main(["compare", str(run_dirs["a"]), str(run_dirs["b"]), *argv, "--db", str(run_dirs["db"])]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and message in err


def test_differences_in_environment_and_settings(data_dir):
    run = _real(data_dir, "a")
    environment = {**run.environment, "kernel": "6.1.0", "tools": {**run.environment["tools"], "iperf3": "3.16"}}
    scenarios = {**run.spec["scenarios"], "egress": {**run.spec["scenarios"]["egress"], "parallel": 4}}
    other = run.model_copy(update={"environment": environment, "spec": {**run.spec, "scenarios": scenarios}})
    diffs = environment_differences(run, other)
    assert any(d.startswith("kernel:") for d in diffs) and any(d.startswith("iperf3:") for d in diffs)
    assert spec_differences(run, other) == ["egress.parallel: 1 vs 4"]
    assert environment_differences(run, run) == [] and spec_differences(run, run) == []


def test_compare_history_command_finds_earlier_runs_of_the_spec_in_the_store(data_dir, tmp_path, capsys):
    from cnibench.results.store import Store

    base = _default(data_dir)
    store = Store(tmp_path / "x.db")
    for r in sorted({s.round for s in base.samples}):
        samples = [s for s in base.samples if s.round == r]
        run = base.model_copy(update={"run_id": f"run-{r}", "samples": samples, "planned_repetitions": len(samples),
                                      "started_at": base.started_at + r})  # fmt: skip
        store.add(run)
    db = ["--db", str(tmp_path / "x.db")]
    assert cli.main(["compare", "run-6", "--history", "4", *db]) == 0
    out = capsys.readouterr().out
    flat = " ".join(line.strip() for line in out.splitlines())
    assert "the unit: earlier runs' prediction interval" in flat
    assert "note: judged against 4 earlier run(s) of local on netns: run-2, run-3, run-4, run-5" in flat
    assert re.search(r"\nhostgw +egress +throughput \(Gbit/s\) .* inconclusive\n", out), out
    assert re.search(r"\nhostgw +egress +throughput \(Gbit/s\) +ok\n", out), out  # the folded gate
    assert out.splitlines()[-1] == "no regression" and all(len(line) <= 100 for line in out.splitlines())
    assert cli.main(["compare", "run-6", "--history", "4", "--json", *db]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["unit"] == "run" and data["verdicts"]
    for argv, message in (
        (["compare", "run-6", "run-5", "--history", "3"], "--history judges one run: give RUN alone"),
        (["compare", "run-6"], "compare needs two runs (compare A B), or one with --history N"),
        (["compare", "run-6", "--history", "1"], "--history 1: must be 2 to 1000 earlier runs"),
        (["compare", "run-2", "--history", "5"], "has 1 earlier complete run(s) of local on netns; at least 2"),
    ):
        assert cli.main([*argv, *db]) == 2
        out, err = capsys.readouterr()
        assert message in err and len(err.splitlines()) == 1, err


def test_compare_prints_a_table_and_only_changed_keeps_what_changed(data_dir, tmp_path, capsys):
    a = _default(data_dir)
    b = _spread(a, "vxlan", "egress", "throughput_bps", 0.4).model_copy(update={"run_id": "slower"})
    for name, run in (("a", a), ("b", b)):
        (tmp_path / name).mkdir()
        write_results(tmp_path / name / "results.json", run)
    argv = ["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--db", str(tmp_path / "x.db")]
    assert cli.main(argv) == 1
    out = capsys.readouterr().out.splitlines()
    headers = [line.split() for line in out if line.startswith("cni ")]  # a table wider than 100 folds in blocks
    assert [word for h in headers for word in h if word not in ("cni", "trial", "metric")] == [
        "A", "B", "change", "%", "[95", "%", "CI]", "outcome", "gate"]  # fmt: skip
    header = next(i for i, line in enumerate(out) if line.startswith("cni "))
    rows = [line for line in out[header + 1 :] if line and not line.startswith(("REGRESSION", "1 regression", "  "))]
    assert len(rows) > 10 and all(len(line) <= 100 for line in out)
    assert cli.main([*argv, "--only-changed"]) == 1
    out = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(out) if line.startswith("cni "))
    changed = [line for line in out[header + 1 :] if not line.startswith(("REGRESSION", "1 regression", "  "))]
    assert len(changed) == 1 and re.match(r"vxlan +egress +throughput \(Gbit/s\) .* different +REGRESSION$", changed[0])
    assert out[-1] == "1 regression(s)"


def test_compare_flags_a_variants_encryption_read_back_that_differs(data_dir):
    """Two runs of a variant whose agents reported different encryption (one run's WireGuard was not active) differ
    in their recorded datapath configuration (environment.json effective_config), which compare says."""
    run = _real(data_dir, "a")

    def with_encryption(effective: str):
        clusters = {"cilium-wg": {"cni": "cilium-wg", "effective_config": {"encryption": effective}}}
        return run.model_copy(update={"environment": {**run.environment, "clusters": clusters}})

    a, b = with_encryption("wireguard"), with_encryption("wireguard on 2 of 3 nodes, none on 1 of 3 nodes")
    assert environment_differences(a, b) == [
        "cilium-wg datapath encryption: wireguard vs wireguard on 2 of 3 nodes, none on 1 of 3 nodes"
    ]
    assert environment_differences(a, a) == []
