from __future__ import annotations

import json
import subprocess

import pytest

from cnibench.doctor import tool_path
from cnibench.errors import MeasurementError
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
    assert k6.version_of("k6 v1.1.0 (commit/abc, go1.24.4, linux/amd64)") == "1.1.0"
