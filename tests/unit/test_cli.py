from __future__ import annotations

import pytest

from cnibench import cli, doctor
from cnibench.errors import PrerequisiteError


def test_help_of_every_subcommand(capsys):
    for command in ("run", "plan", "render", "doctor", "clean", "schema", "status"):
        with pytest.raises(SystemExit) as info:
            cli.main([command, "--help"])
        assert info.value.code == 0
        assert capsys.readouterr().out.startswith(f"usage: cnibench {command}")


def test_plan_prints_matrix_and_steps_and_creates_nothing(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["plan", "--repeat", "2", "--duration", "5"]) == 0
    out = capsys.readouterr().out
    assert "12 repetitions" in out
    assert "hostgw  egress-baseline  2" in out and "vxlan   ingress          2" in out
    assert "apply the egress policy: worker owns 203.0.113.254" in out
    assert "nothing was created" in out
    assert list(tmp_path.iterdir()) == []


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
        doctor.require("netns")
    assert info.value.exit_code == 2
    assert "apt-get install -y iproute2" in str(info.value)
    assert cli.main(["doctor"]) == 2
    out = capsys.readouterr().out
    assert "MISSING iperf3" in out and "apt-get install -y iperf3" in out
