"""Inputs a new user tries that must give one line on stderr, exit 2 and nothing created (issue 25)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cnibench import cli

ROOT = Path(__file__).parent.parent.parent
LOCAL = str(ROOT / "examples" / "local.yaml")
RUN = str(ROOT / "tests" / "data" / "results" / "netns-east-west-rate.json")


def _one_line(capsys, argv: list[str]) -> str:
    """Run the command; it must exit 2 with one line on stderr and nothing on stdout. Returns that line."""
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1, captured.err
    return captured.err.rstrip("\n")


def _tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


@pytest.mark.parametrize(
    ("command", "output", "message"),
    [
        (["render", LOCAL], "afile", "-o {tmp}/afile: is a file, not a directory"),
        (
            ["render", LOCAL],
            "afile/x",
            "-o {tmp}/afile: is a file, not a directory (the output {tmp}/afile/x would go inside it)",
        ),
        (
            ["report", RUN],
            "afile/x",
            "-o {tmp}/afile: is a file, not a directory (the output {tmp}/afile/x would go inside it)",
        ),
        (
            ["export", RUN, "--csv"],
            "afile/x.csv",
            "-o {tmp}/afile: is a file, not a directory (the output {tmp}/afile/x.csv would go inside it)",
        ),
        (
            ["reanalyze", RUN],
            "afile/x",
            "-o {tmp}/afile: is a file, not a directory (the output {tmp}/afile/x would go inside it)",
        ),
        (["report", RUN], "adir", "-o {tmp}/adir: is a directory, not a file"),
    ],
)
def test_an_output_path_that_cannot_be_is_one_line(capsys, tmp_path, monkeypatch, command, output, message):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CNIBENCH_DB", str(tmp_path / "db" / "cnibench.db"))
    (tmp_path / "afile").write_text("mine")
    (tmp_path / "adir").mkdir()
    before = _tree(tmp_path)
    line = _one_line(capsys, [*command, "-o", str(tmp_path / output)])
    assert line == "cnibench: error: " + message.format(tmp=tmp_path)
    assert _tree(tmp_path) == before  # nothing created


def test_render_into_proc_is_one_line(capsys):
    line = _one_line(capsys, ["render", LOCAL, "-o", "/proc/nope"])
    assert line == "cnibench: error: -o /proc/nope: cannot create this directory: No such file or directory"
    assert not Path("/proc/nope").exists()


def test_doctor_refuses_a_platform_the_spec_contradicts(capsys):
    aks = ROOT / "examples" / "aks.yaml"
    line = _one_line(capsys, ["doctor", "--platform", "netns", "--spec", str(aks)])
    assert line == (
        f"cnibench: error: --platform netns, but {aks} is a spec for platform aks: leave --platform out to check "
        "what that spec's run needs"
    )


def test_a_results_file_with_an_unknown_scenario_names_it(capsys, tmp_path):
    data = json.loads((ROOT / "tests" / "data" / "results" / "netns-hostgw-vxlan.json").read_text())
    data["samples"][2]["scenario"] = "egress-gateway-ha"
    bad = tmp_path / "results.json"
    bad.write_text(json.dumps(data))
    line = _one_line(capsys, ["report", str(bad), "-o", str(tmp_path / "r.html")])
    assert line == (
        f"cnibench: error: {bad}: samples.2.scenario: 'egress-gateway-ha': unknown scenario (this cnibench knows "
        "egress-baseline, egress, ingress, east-west's trials (pod-to-pod.same-node.tcp-single, ...), egress-apply, "
        "egress-new-pod, egress-failover, network-policy's trials (pod-to-pod.same-node.tcp-single@no-policy, ...), "
        "each also as <trial>@<rate>; a results file of a newer cnibench?)"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_a_report_naming_one_run_twice_is_refused(capsys, tmp_path):
    line = _one_line(capsys, ["report", RUN, RUN, "-o", str(tmp_path / "r.html")])
    assert line.startswith(f"cnibench: error: {RUN} and {RUN} are the same run (")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("form", [["--threshold", "-5%"], ["--threshold=-5%"], ["--threshold", "-0.05"]])
def test_a_negative_threshold_says_why(capsys, form):
    pool = ROOT / "tests" / "data" / "results"
    line = _one_line(capsys, ["compare", str(pool / "netns-pool-a.json"), str(pool / "netns-pool-b.json"), *form])
    assert "a threshold is the size of a change, never negative; write " in line
    assert line.split("write ")[1].split(" ")[0] in ("5%", "0.05")


@pytest.mark.parametrize("command", [["report", RUN], ["export", RUN, "--csv"]])
def test_an_output_under_proc_is_one_line_exit_2(capsys, command):
    line = _one_line(capsys, [*command, "-o", "/proc/nope/out.x"])
    assert line.startswith("cnibench: error: cannot write /proc/nope/out.x: No such file or directory (")
    assert not Path("/proc/nope").exists()
