from __future__ import annotations

import json
import time

import pytest

from cnibench.errors import ResultsError
from cnibench.results.model import SCHEMA_VERSION, RunResults, read_results, write_results
from cnibench.scenarios.egress import EgressSample


def _results(samples=()) -> RunResults:
    return RunResults(
        run_id="r1",
        name="t",
        platform="netns",
        status="complete",
        started_at=time.time(),
        cnibench_version="0",
        spec={},
        environment={},
        samples=list(samples),
    )


def _sample(**kw) -> EgressSample:
    base = dict(cni="hostgw", scenario="egress", repetition=1, status="ok", protocol="tcp", throughput_bps=1e9)
    base.update(kw)
    return EgressSample(**base)


def test_round_trip(tmp_path):
    path = tmp_path / "results.json"
    original = _results([_sample(), _sample(repetition=2, status="failed", error="boom")])
    write_results(path, original)
    assert read_results(path) == original
    assert read_results(tmp_path) == original  # a run directory works too
    assert json.loads(path.read_text())["schema_version"] == SCHEMA_VERSION


def test_records_are_immutable():
    sample = _sample()
    with pytest.raises(Exception, match="frozen"):
        sample.status = "failed"  # type: ignore[misc]


def test_unknown_version_broken_json_and_missing_file(tmp_path):
    path = tmp_path / "results.json"
    data = json.loads(_results().model_dump_json())
    data["schema_version"] = 99
    path.write_text(json.dumps(data))
    with pytest.raises(ResultsError, match="unknown schema_version 99"):
        read_results(path)
    path.write_text('{"schema_version": 1, "run_id": ')
    with pytest.raises(ResultsError, match="not valid JSON"):
        read_results(path)
    with pytest.raises(ResultsError, match="no such results file"):
        read_results(tmp_path / "none.json")
    data["schema_version"] = 1
    data["samples"] = [{"cni": "x"}]
    path.write_text(json.dumps(data))
    with pytest.raises(ResultsError, match="samples"):
        read_results(path)


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "results.json"
    for n in range(5):
        write_results(path, _results([_sample(repetition=i + 1) for i in range(n)]))
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]
    assert len(read_results(path).samples) == 4


def test_metrics_keys_only_when_metrics_were_enabled():
    plain = json.loads(_sample().model_dump_json())
    assert "node_metrics" not in plain and "metrics_error" not in plain
    missing = json.loads(_sample(metrics_error="metrics missing: x").model_dump_json())
    assert missing["metrics_error"] == "metrics missing: x" and missing["node_metrics"] is None
    there = _sample(node_metrics={"worker": {"cpu_util_avg": 0.5}})
    assert json.loads(there.model_dump_json())["node_metrics"] == {"worker": {"cpu_util_avg": 0.5}}
    assert EgressSample.model_validate_json(there.model_dump_json()) == there


def test_no_value_cnibench_writes_can_make_a_results_file_unreadable(tmp_path):
    """A non-finite figure never reaches a record (pydantic would write it as null, which a float cannot read)."""
    with pytest.raises(ValueError, match="finite number"):
        _sample(throughput_bps=float("inf"))
    kept = _sample(node_metrics={"worker": {"cpu_util_avg": float("inf"), "cpu_util_max": 0.7}})
    assert kept.node_metrics == {"worker": {"cpu_util_max": 0.7}}
    path = tmp_path / "results.json"
    write_results(path, _results([kept]))
    assert read_results(path).samples == [kept]


def test_a_schema_4_file_with_a_null_node_metric_is_readable(tmp_path):
    """cnibench <= schema 4 wrote an infinite average as null: such a run must stay readable (and reanalyzable)."""
    data = json.loads(_results([_sample(node_metrics={"worker": {"cpu_util_avg": 0.7}})]).model_dump_json())
    data["schema_version"] = 4
    data["samples"][0]["node_metrics"]["worker"]["cpu_util_avg"] = None  # what json.dumps made of inf
    del data["samples"][0]["notes"], data["provenance"]  # fields schema 4 did not have
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data))
    results = read_results(path)
    assert results.schema_version == 4
    assert results.samples[0].node_metrics == {"worker": {}}
