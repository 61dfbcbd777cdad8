from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cnibench.scenarios import _ingress_settings
from cnibench.scenarios.ingress import INGRESS
from cnibench.spec import default_spec_data, parse_spec


def _spec(**settings):
    data = default_spec_data()
    data["scenarios"]["ingress"] = settings
    return INGRESS.settings_of(parse_spec(data))


def _runs(tmp_path: Path, **settings):
    spec = _spec(**settings)
    scripts, runs = INGRESS.repetitions(
        spec, cni="hostgw", numbers={"ingress": range(1, 3)}, run_dir=tmp_path,
        backends=_ingress_settings.backend_names(spec.backends), netns="cnib0000-client",
    )  # fmt: skip
    return scripts["load.js"], runs


def test_placement_spreads_backends_over_workers():
    assert _ingress_settings.placement(5, ["worker", "worker2"]) == [
        ("echo-1", "worker"),
        ("echo-2", "worker2"),
        ("echo-3", "worker"),
        ("echo-4", "worker2"),
        ("echo-5", "worker"),
    ]


def test_target_url():
    assert _spec().target_url == "http://172.18.0.254/echo"
    assert _spec(port=8000, path="/x/y", lb_ip="172.18.0.100").target_url == "http://172.18.0.100:8000/x/y"


def test_plan_runs(tmp_path):
    script, runs = _runs(tmp_path, vus=7, duration=5)
    assert 'const TARGET = __ENV.CNIBENCH_TARGET || "http://172.18.0.254/echo";' in script
    assert [r.repetition for r in runs] == [1, 2]
    assert str(runs[0].artifact).endswith("raw/hostgw/ingress/rep-01.k6-summary.json")
    assert runs[0].command.argv[-1].endswith("rendered/hostgw/ingress/load.js")
    assert str(runs[0].command.stdout).endswith("rep-01.k6.log")
    assert runs[0].command.timeout_s == 5 + _ingress_settings.TIMEOUT_MARGIN


def _place(data_dir, run, name):
    Path(run.artifact).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(data_dir / "k6" / name, run.artifact)


def test_sample_from_a_real_summary(tmp_path, data_dir):
    _, runs = _runs(tmp_path)
    _place(data_dir, runs[0], "l4-hostgw-reuse.json")
    sample = INGRESS.make_sample(runs[0], run_dir=tmp_path, started_at=1.0, ended_at=5.0)
    assert sample.status == "ok" and sample.backends_seen == 3 and sample.backends_expected == 3
    hits = list(sample.backend_hits.values())
    assert sample.max_min_ratio == pytest.approx(max(hits) / min(hits))
    assert 0.9 < sample.jain_fairness < 1.0
    assert sample.artifact == "raw/hostgw/ingress/rep-01.k6-summary.json"


def test_failed_requests_fail_the_repetition(tmp_path, data_dir):
    _, runs = _runs(tmp_path)
    _place(data_dir, runs[0], "refused-thresholds-crossed.json")
    sample = INGRESS.make_sample(
        runs[0], run_dir=tmp_path, started_at=1.0, ended_at=5.0, failure="exit code 99: thresholds crossed"
    )
    assert sample.status == "failed"
    assert sample.error == "100.00% of requests failed, above max_failed_rate 0.00%"
    assert sample.max_failed_rate == 0.0
    assert sample.backends_seen == 0 and sample.jain_fairness is None and sample.max_min_ratio is None
    missing = INGRESS.make_sample(
        runs[1], run_dir=tmp_path, started_at=1.0, ended_at=5.0, failure="exit code 107: script error"
    )
    assert missing.status == "failed" and missing.error == "exit code 107: script error"


def test_failed_requests_are_judged_without_k6s_thresholds(tmp_path, data_dir):
    """K6_NO_THRESHOLDS=true in the user's environment: no threshold exported, k6 exits 0, all requests failed."""
    _, runs = _runs(tmp_path)
    Path(runs[0].artifact).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(data_dir / "cases" / "parsers" / "k6-no-thresholds-all-failed.json", runs[0].artifact)
    sample = INGRESS.make_sample(runs[0], run_dir=tmp_path, started_at=1.0, ended_at=5.0)
    assert sample.status == "failed" and sample.failed_rate == 1.0
    assert sample.error == "100.00% of requests failed, above max_failed_rate 0.00%"


def test_a_failed_rate_within_the_threshold_is_ok(tmp_path, data_dir):
    _, runs = _runs(tmp_path, max_failed_rate=1.0)
    _place(data_dir, runs[0], "refused-thresholds-crossed.json")
    assert INGRESS.make_sample(runs[0], run_dir=tmp_path, started_at=1.0, ended_at=5.0).status == "ok"


def test_k6_runs_in_a_controlled_environment(tmp_path):
    _, runs = _runs(tmp_path)
    assert runs[0].command.unset_env == ("K6_",)
