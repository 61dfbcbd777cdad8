from __future__ import annotations

import shlex

import pytest

from cnibench import cli, lifecycle
from cnibench.errors import PrerequisiteError, ResultsError
from cnibench.platforms.netns.platform import NetnsPlatform
from cnibench.spec import default_spec_data, parse_spec


def test_help_of_every_subcommand(capsys):
    for command in ("run", "plan", "render", "doctor", "clean", "schema", "status"):
        with pytest.raises(SystemExit) as info:
            cli.main([command, "--help"])
        assert info.value.code == 0
        assert capsys.readouterr().out.startswith(f"usage: cnibench {command}")


def test_plan_prints_matrix_and_steps_and_creates_nothing(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["plan", "--repeat", "2", "--duration", "5", "--rounds", "3"]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "36 repetitions" in out  # 2 CNIs x 3 trials x 2 per round x 3 rounds
    assert "hostgw  egress-baseline  6" in out and "vxlan   ingress          6" in out
    assert (
        "3 round(s), each CNI on a fresh cluster once per round (round 1: hostgw, vxlan; round 2: vxlan, hostgw" in out
    )
    assert "apply and remove the egress policy: worker owns 203.0.113.254" in out
    assert "what it can show (the unit is the cluster: 3 per CNI; each CNI against hostgw; unpaired, df 4" in out
    assert "    egress throughput_bps: detects about " in out
    assert "nothing was created" in out
    assert "\nwarning: 3 clusters per CNI cannot show a 10 % difference with 80 % power" in out
    assert list(tmp_path.iterdir()) == []


def test_plan_warns_before_a_run_that_cannot_show_a_difference(capsys):
    assert cli.main(["plan", "--repeat", "3", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert (
        "\nwarning: 1 round: one cluster per CNI, no variance between clusters: every comparison will be inconclusive"
    ) in out


def test_bad_spec_is_one_line_and_exit_2(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: ok\ncnis: [hostgw, flannel]\nscenarios: {egress: {duration: 0}}\n")
    for command in ("run", "plan"):
        code = cli.main([command, str(spec)])
        err = capsys.readouterr().err
        assert code == 2
        assert err.count("\n") == 1
        assert err.startswith(f"cnibench: error: {spec}: ")
        assert "cnis[1]: unknown CNI 'flannel'" in err or "scenarios.egress.duration" in err
    assert [p.name for p in tmp_path.iterdir()] == ["bad.yaml"]  # no results directory


def test_bad_override_is_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["run", "--repeat", "0"])
    assert info.value.code == 2
    assert "--repeat: must be greater than 0" in capsys.readouterr().err


def test_schema_is_json(capsys):
    assert cli.main(["schema"]) == 0
    assert '"properties"' in capsys.readouterr().out


def test_missing_tool_names_it_and_how_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH; cnibench's venv bin is still searched
    with pytest.raises(PrerequisiteError) as info:
        lifecycle.require(NetnsPlatform, parse_spec(default_spec_data()))
    assert info.value.exit_code == 2
    assert "apt-get install -y iproute2" in str(info.value)
    assert cli.main(["doctor"]) == 2
    out = capsys.readouterr().out
    assert "MISSING iperf3" in out and "apt-get install -y iperf3" in out


@pytest.mark.parametrize("where", ["before", "after"])
def test_global_options_work_before_or_after_the_command(where, tmp_path, monkeypatch, capsys):
    """`cnibench compare A B --debug` used to be "unrecognized arguments"."""
    monkeypatch.chdir(tmp_path)
    args = ["compare", "nope-a", "nope-b"]
    args = ["--debug", *args] if where == "before" else [*args, "--debug"]
    with pytest.raises(ResultsError, match="nope-a: no such run directory"):  # --debug: the exception itself
        cli.main(args)
    assert cli.main(["compare", "nope-a", "nope-b"]) == 2  # without it: one line
    assert capsys.readouterr().err.count("\n") == 1
    parser = cli.build_parser()
    for command in (["run"], ["plan"], ["doctor"], ["clean"], ["schema"], ["runs"], ["report"], ["import", "x"]):
        assert parser.parse_args([*command, "--debug"]).debug is True
        assert parser.parse_args(["--debug", *command]).debug is True
        assert parser.parse_args(command).debug is False
    with pytest.raises(SystemExit) as info:
        cli.main(["runs", "--version"])
    assert info.value.code == 0 and capsys.readouterr().out.startswith("cnibench ")


def test_help_says_what_the_default_run_does_and_where_results_are(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "egress and ingress" in out
    assert "--db PATH > $CNIBENCH_DB > the database recorded in a run directory" in out
    for command in ("runs", "report", "compare", "export", "import"):
        with pytest.raises(SystemExit):
            cli.main([command, "--help"])
        assert "CNIBENCH_DB" in capsys.readouterr().out, command


def test_plans_k6_command_is_exact_down_to_the_empty_argument(capsys, tmp_path, monkeypatch):
    """`--address ''` (k6's REST API off) used to be shown as `--address ` with the empty argument gone."""
    monkeypatch.chdir(tmp_path)
    assert cli.main(["plan", "--only", "ingress"]) == 0
    step = next(line for line in capsys.readouterr().out.splitlines() if "k6 run" in line)
    shown = step.split("`")[1]
    assert " --address '' " in shown
    argv = shlex.split(shown)
    assert argv[argv.index("--address") + 1] == ""
