"""``runs`` (a table and ``--json``) and ``import`` of a run's results.json, on the real default run."""

from __future__ import annotations

import json
import shutil

from cnibench import cli


def test_runs_lists_scenarios_duration_and_outcomes_and_import_takes_a_results_file(data_dir, tmp_path, capsys):
    run_dir = tmp_path / "20261207-111625-local"
    run_dir.mkdir()
    shutil.copy(data_dir / "results" / "netns-default.json", run_dir / "results.json")
    db = ["--db", str(tmp_path / "x.db")]
    assert cli.main(["import", str(run_dir / "results.json"), *db]) == 0  # the file, as the other commands take it
    assert "added: 20261207-111625-local" in capsys.readouterr().out
    assert cli.main(["runs", *db]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["run", "name", "platform", "scenarios", "cnis", "status", "started", "took", "ok",
                                "outcomes"]  # fmt: skip
    assert table[1].split()[:6] == ["20261207-111625-local", "local", "netns", "egress,ingress", "hostgw,vxlan",
                                    "complete"]  # fmt: skip
    assert table[1].endswith("5m36s  36/36  4?")
    assert cli.main(["runs", "--json", *db]) == 0
    [facts] = json.loads(capsys.readouterr().out)
    assert facts["started"] == "2026-12-07T11:16:25Z" and round(facts["duration_s"]) == 336
    assert facts["outcomes"] == {"different": 0, "equivalent": 0, "inconclusive": 4} and facts["stored"] is True
