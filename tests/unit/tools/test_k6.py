from __future__ import annotations

import json
import subprocess

import pytest

from cnibench.errors import MeasurementError
from cnibench.proc import tool_path
from cnibench.tools import k6

BACKENDS = ["echo-1", "echo-2", "echo-3"]


def _load(data_dir, name: str) -> str:
    return (data_dir / "k6" / name).read_text()


def test_l7_summary(data_dir):
    text = _load(data_dir, "l7-hostgw-3-backends.json")
    metrics = json.loads(text)["metrics"]
    result = k6.parse_summary(text, BACKENDS)
    assert result.requests == metrics["http_reqs"]["count"]
    assert result.requests_per_s == metrics["http_reqs"]["rate"]
    duration = metrics["http_req_duration"]
    assert (result.latency_p50_ms, result.latency_p95_ms, result.latency_p99_ms) == (
        duration["med"],
        duration["p(95)"],
        duration["p(99)"],
    )
    assert result.latency_avg_ms == duration["avg"] and result.latency_max_ms == duration["max"]
    assert result.failed_rate == 0
    assert result.data_received_bps == metrics["data_received"]["rate"] * 8
    assert sum(result.backend_hits.values()) == result.requests
    assert set(result.backend_hits) == set(BACKENDS)
    assert result.unmatched == 0 and result.thresholds_failed == ()


def test_a_backend_that_never_answered_counts_as_zero(data_dir):
    result = k6.parse_summary(_load(data_dir, "l7-hostgw-3-backends.json"), [*BACKENDS, "echo-9"])
    assert result.backend_hits["echo-9"] == 0


def test_l4_reuse_is_uneven_and_no_reuse_even(data_dir):
    reuse = k6.parse_summary(_load(data_dir, "l4-hostgw-reuse.json"), BACKENDS).backend_hits
    fresh = k6.parse_summary(_load(data_dir, "l4-hostgw-no-reuse.json"), BACKENDS).backend_hits
    assert max(reuse.values()) - min(reuse.values()) > 100
    assert max(fresh.values()) - min(fresh.values()) <= 1


def test_crossed_thresholds_are_reported(data_dir):
    result = k6.parse_summary(_load(data_dir, "refused-thresholds-crossed.json"), BACKENDS)
    assert result.failed_rate == 1.0
    assert result.thresholds_failed == ("http_req_failed: rate<=0",)
    assert set(result.backend_hits.values()) == {0}
    assert result.unmatched == result.requests > 0


def test_broken_summaries(data_dir):
    with pytest.raises(MeasurementError, match="no summary"):
        k6.parse_summary("", BACKENDS)
    text = _load(data_dir, "l7-hostgw-3-backends.json")
    with pytest.raises(MeasurementError, match="not JSON"):
        k6.parse_summary(text[:100], BACKENDS)
    doc = json.loads(text)
    del doc["metrics"]["http_req_duration"]
    with pytest.raises(MeasurementError, match="http_req_duration"):
        k6.parse_summary(json.dumps(doc), BACKENDS)


def test_rendered_script_is_what_k6_reads(tmp_path):
    """`k6 inspect` (the real binary) parses the rendered script and reports its options."""
    script = tmp_path / "load.js"
    script.write_text(
        k6.render_script(
            target='http://172.18.0.254/echo?"x"',
            backends=["echo-1", "a'b"],
            vus=7,
            duration=4,
            reuse_connections=False,
            max_failed_rate=0.05,
        )
    )
    proc = subprocess.run([tool_path("k6") or "k6", "inspect", str(script)], capture_output=True, text=True, check=True)
    options = json.loads(proc.stdout)
    assert options["vus"] == 7 and options["duration"] == "4s" and options["noConnectionReuse"] is True
    assert set(options["thresholds"]) == {
        "http_req_failed",
        "backend_hits{pod:echo-1}",
        "backend_hits{pod:a'b}",
        "backend_hits{pod:none}",
    }
    assert options["thresholds"]["http_req_failed"] == ["rate<=0.05"]
    assert "p(99)" in options["summaryTrendStats"]


def test_run_argv():
    argv = k6.run_argv(tmp := __import__("pathlib").Path("/s.js"), tmp.with_suffix(".json"))
    assert argv[:2] == ["k6", "run"] and "--no-usage-report" in argv and argv[-1] == "/s.js"
    assert argv[argv.index("--summary-export") + 1] == "/s.json"
    # the statistics the parser reads, on the command line: it overrides K6_SUMMARY_TREND_STATS and the script
    assert argv[argv.index("--summary-trend-stats") + 1] == k6.SUMMARY_TREND_STATS
    assert k6.version_of("k6 v1.1.0 (commit/abc, go1.24.4, linux/amd64)") == "1.1.0"


def test_a_summary_without_thresholds_still_shows_every_failure(data_dir):
    """K6_NO_THRESHOLDS=true: k6 exports no thresholds and exits 0 while every request failed; the rate is there."""
    result = k6.parse_summary(
        (data_dir / "cases" / "parsers" / "k6-no-thresholds-all-failed.json").read_text(), BACKENDS
    )
    assert result.thresholds_failed == ()
    assert result.failed_rate == 1.0 and result.requests > 0


def test_the_machine_readable_summary_is_named_with_its_variable():
    """k6 >= 1.5 writes grafana/k6-summary's shape with K6_NEW_MACHINE_READABLE_SUMMARY (its example document)."""
    doc = {
        "version": "1.0.0",
        "metadata": {"generatedAt": "2025-01-15T10:30:45.123Z", "k6Version": "1.5.0"},
        "config": {"execution": "local", "script": "load.js", "duration": 10.0},
        "results": {"passed": True, "metrics": [{"name": "http_reqs", "type": "counter", "values": {"count": 1}}]},
    }
    with pytest.raises(MeasurementError, match=r"machine-readable summary format \(version 1\.0\.0, k6 1\.5\.0\)"):
        k6.parse_summary(json.dumps(doc), BACKENDS)
    with pytest.raises(MeasurementError, match="unset K6_NEW_MACHINE_READABLE_SUMMARY"):
        k6.parse_summary(json.dumps(doc), BACKENDS)


def test_other_trend_statistics_are_named(data_dir):
    doc = json.loads(_load(data_dir, "l7-hostgw-3-backends.json"))
    del doc["metrics"]["http_req_duration"]["p(99)"]
    with pytest.raises(MeasurementError, match=r"p\(99\) is missing.*K6_SUMMARY_TREND_STATS"):
        k6.parse_summary(json.dumps(doc), BACKENDS)


def test_k6_runs_without_the_users_k6_variables(tmp_path, monkeypatch):
    """The real k6 with K6_NO_THRESHOLDS and K6_SUMMARY_TREND_STATS in our environment: removed, the summary has
    every statistic and the threshold is evaluated (k6 exits 99 against a port where nothing listens)."""
    from cnibench.spawn import exec_to_file

    script = tmp_path / "load.js"
    script.write_text(
        k6.render_script(
            target="http://127.0.0.1:9/echo", backends=BACKENDS, vus=1, duration=1, reuse_connections=True,
            max_failed_rate=0.0,
        )
    )  # fmt: skip
    summary = tmp_path / "summary.json"
    monkeypatch.setenv("K6_NO_THRESHOLDS", "true")
    monkeypatch.setenv("K6_SUMMARY_TREND_STATS", "avg,max")
    argv = [tool_path("k6") or "k6", *k6.run_argv(script, summary)[1:]]
    result = exec_to_file("", argv, output=tmp_path / "k6.log", timeout=60, unset_env=[k6.CONTROLLED_ENV_PREFIX])
    assert result.env_removed == ("K6_NO_THRESHOLDS", "K6_SUMMARY_TREND_STATS")
    assert result.returncode == 99
    parsed = k6.parse_summary(summary.read_text(), BACKENDS)
    assert parsed.failed_rate == 1.0 and parsed.thresholds_failed == ("http_req_failed: rate<=0",)


def test_the_handle_summary_data_format_is_named(data_dir):
    """handleSummary(data)'s object keeps each figure under metrics.<name>.values (k6 docs, "Custom summary")."""
    with pytest.raises(MeasurementError, match=r"data object of a handleSummary\(\) function .*--summary-export"):
        k6.parse_summary(_load(data_dir, "handle-summary-data.json"), BACKENDS)


@pytest.mark.parametrize(
    ("metric", "key", "value", "message"),
    [
        ("data_received", "rate", "fast", "data_received.rate is missing or not a number"),
        ("data_received", "rate", None, "data_received.rate is missing or not a number"),
        ("http_reqs", "rate", None, "http_reqs.rate is missing or not a number"),
        ("backend_hits{pod:echo-1}", "count", "12", r"backend_hits\{pod:echo-1\}.count is missing or not a number"),
    ],
)
def test_a_figure_of_the_wrong_type_is_a_measurement_error(data_dir, metric, key, value, message):
    doc = json.loads(_load(data_dir, "l7-hostgw-3-backends.json"))
    doc["metrics"][metric][key] = value
    with pytest.raises(MeasurementError, match=message):
        k6.parse_summary(json.dumps(doc), BACKENDS)


def test_a_metric_that_is_not_an_object_is_a_measurement_error(data_dir):
    doc = json.loads(_load(data_dir, "l7-hostgw-3-backends.json"))
    doc["metrics"]["backend_hits{pod:echo-2}"] = [3]
    with pytest.raises(MeasurementError, match=r"backend_hits\{pod:echo-2\} is not a metric"):
        k6.parse_summary(json.dumps(doc), BACKENDS)


def test_a_nan_token_is_a_measurement_error(data_dir):
    text = _load(data_dir, "l7-hostgw-3-backends.json")
    doc = json.loads(text)
    doc["metrics"]["http_req_failed"]["value"] = 12345.678
    broken = json.dumps(doc).replace("12345.678", "NaN")
    with pytest.raises(MeasurementError, match="holds NaN where a number belongs"):
        k6.parse_summary(broken, BACKENDS)
