"""The netns platform's tasks: one module call runs every cluster of a run, built, measured and destroyed, each step
and each repetition streamed the moment it ends, in order; a repetition that cannot run is a failed record; a
stopping run stops it."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from cnibench.errors import PlatformError
from cnibench.orchestration.stream import appending, stop_path, stream_path
from cnibench.platforms.netns import tasks
from cnibench.platforms.netns.render import Bundle, Step


def _run(tmp_path: Path, label: str, argv: list[str], timeout: float = 10.0, bundles: list[str] | None = None):
    return {
        "label": label,
        "netns": "",  # on this machine: the commands are real, the namespaces are the integration tests' part
        "argv": argv,
        "stdout": str(tmp_path / "raw" / f"{label}.out"),
        "timeout": timeout,
        "unset_env": [],
        "bundles": bundles or [],
    }


def _params(tmp_path: Path, *loops: tuple[str, list[dict]]) -> dict:
    return {
        "loops": [{"cni": "hostgw", "round": 1, "scenario": name, "runs": runs} for name, runs in loops],
        "stream": str(stream_path(tmp_path)),
        "stop_file": str(stop_path(tmp_path)),
    }


def _records(tmp_path: Path) -> list[dict]:
    return [json.loads(line) for line in stream_path(tmp_path).read_text().splitlines()]


def _measure(params: dict) -> tuple[int, str | None, float | None]:
    with appending(Path(params["stream"])) as emit:
        return tasks.measure_loops(params["loops"], emit, Path(params["stop_file"]))


def test_each_repetition_is_streamed_as_it_ends_with_its_loops_start(tmp_path):
    params = _params(
        tmp_path,
        ("egress", [_run(tmp_path, "a", ["echo", "one"]), _run(tmp_path, "b", ["sh", "-c", "echo why >&2; exit 3"])]),
        ("ingress", [_run(tmp_path, "c", ["echo", "three"])]),
    )
    measured, first_error, last_ended = _measure(params)
    assert measured == 3 and first_error is None
    records = _records(tmp_path)
    assert [r["event"] for r in records] == ["loop_started", "measured", "measured", "loop_started", "measured"]
    assert [r["scenario"] for r in records if r["event"] == "loop_started"] == ["egress", "ingress"]
    measured = [r["res"] for r in records if r["event"] == "measured"]
    assert [Path(m["output"]).name for m in measured] == ["a.out", "b.out", "c.out"]
    assert [m["exit_code"] for m in measured] == [0, 3, 0]  # a failing tool is a failed repetition, not a task
    assert measured[1]["stderr_head"].startswith("why")
    assert all(m["kind"] == "measurement" and m["started_at"] <= m["ended_at"] for m in measured)
    assert measured[0]["ended_at"] <= measured[1]["started_at"]
    assert last_ended == measured[2]["ended_at"]
    assert (tmp_path / "raw" / "c.out").read_text() == "three\n"


def test_a_repetition_that_cannot_run_is_a_failed_record_and_the_task_fails_after_the_others(tmp_path):
    # a real bundle whose one step fails (the link does not exist): the first repetition cannot run
    step = Step(kind="ip", netns=None, file="01-link.ip", content="link del cnibtest-no-such-link\n")
    broken = Bundle("broken", "cnibtest", (), (step,), ()).write(tmp_path / "broken")
    params = _params(
        tmp_path, ("egress", [_run(tmp_path, "a", ["true"], bundles=[str(broken)]), _run(tmp_path, "b", ["true"])])
    )
    measured, first_error, _ = _measure(params)
    assert measured == 1 and first_error is not None and first_error.startswith("a: 01-link.ip: ip failed")
    records = [r for r in _records(tmp_path) if r["event"] == "measured"]
    assert [(Path(r["res"]["output"]).name, r["failed"]) for r in records] == [("a.out", True), ("b.out", False)]
    assert records[0]["res"]["msg"].startswith("01-link.ip: ip failed")
    assert not (tmp_path / "raw" / "a.out").exists()  # the tool never ran


def test_a_stopping_run_kills_the_running_tool_and_runs_nothing_more(tmp_path):
    params = _params(
        tmp_path,
        (
            "egress",
            [_run(tmp_path, "a", ["true"]), _run(tmp_path, "b", ["sleep", "30"]), _run(tmp_path, "c", ["true"])],
        ),
    )
    threading.Timer(0.5, stop_path(tmp_path).touch).start()
    start = time.monotonic()
    measured, _, _ = _measure(params)
    assert time.monotonic() - start < 5
    assert measured == 1
    measured = [r for r in _records(tmp_path) if r["event"] == "measured"]
    assert [Path(r["res"]["output"]).name for r in measured] == ["a.out"]  # the interrupted one is not reported


def _clusters(tmp_path: Path, monkeypatch, *, fail_build: str | None = None) -> tuple[dict, list[tuple[str, str]]]:
    """Two clusters of one repetition each; their setup (netns_setup, the integration tests' part) recorded."""
    calls: list[tuple[str, str]] = []

    def setup(params: dict) -> dict:
        calls.append((params["cni"], params["state"]))
        if params["state"] == "present" and params["cni"] == fail_build:
            raise PlatformError("01-links.ip in cnibtest-worker: ip failed: Error: File exists")
        if params["state"] == "present":
            return {"kind": "cluster_facts", "changed": True, "cni": params["cni"], "facts": {"links": {}}}
        return {"kind": "done", "changed": True}

    monkeypatch.setattr(tasks, "netns_setup", setup)
    clusters = [
        {
            "cni": cni,
            "round": 1,
            "bundles": [],
            "daemons": [],
            "metrics": None,
            "scenarios": _params(tmp_path, ("egress", [_run(tmp_path, cni, ["sleep", "0.2"])]))["loops"],
        }
        for cni in ("hostgw", "vxlan")
    ]
    params = {
        "clusters": clusters,
        "state_file": str(tmp_path / "state.json"),
        "stream": str(stream_path(tmp_path)),
        "stop_file": str(stop_path(tmp_path)),
    }
    return params, calls


def test_every_cluster_is_built_measured_and_destroyed_in_one_call_each_step_streamed(tmp_path, monkeypatch):
    params, calls = _clusters(tmp_path, monkeypatch)
    result = tasks.netns_clusters(params)
    assert result["kind"] == "done" and result["clusters"] == 2 and result["measured"] == 2
    assert calls == [("hostgw", "present"), ("hostgw", "absent"), ("vxlan", "present"), ("vxlan", "absent")]
    steps = [(r["event"], r.get("task") or r.get("scenario") or "") for r in _records(tmp_path)]
    one = [
        ("task_started", tasks.BUILD_STEP),
        ("task_result", tasks.BUILD_STEP),
        ("loop_started", "egress"),
        ("measured", ""),
        ("task_started", tasks.DESTROY_STEP),
        ("task_result", tasks.DESTROY_STEP),
    ]
    assert steps == one + one
    built = [r for r in _records(tmp_path) if r["event"] == "task_result" and r["task"] == tasks.BUILD_STEP]
    assert [r["res"]["cni"] for r in built] == ["hostgw", "vxlan"] and all(r["duration"] >= 0 for r in built)


def test_a_build_that_fails_destroys_its_cluster_and_builds_no_other(tmp_path, monkeypatch):
    params, calls = _clusters(tmp_path, monkeypatch, fail_build="hostgw")
    with pytest.raises(PlatformError, match="File exists"):
        tasks.netns_clusters(params)
    assert calls == [("hostgw", "present"), ("hostgw", "absent")]
    [failed] = [r for r in _records(tmp_path) if r["event"] == "task_result" and r["failed"]]
    assert failed["task"] == tasks.BUILD_STEP and failed["res"]["msg"].startswith("01-links.ip in cnibtest-worker")
    assert not [r for r in _records(tmp_path) if r["event"] == "measured"]


def test_a_stopping_run_destroys_the_cluster_it_is_on_and_builds_no_other(tmp_path, monkeypatch):
    params, calls = _clusters(tmp_path, monkeypatch)
    params["clusters"][0]["scenarios"][0]["runs"] = [_run(tmp_path, "long", ["sleep", "30"])]
    threading.Timer(0.5, stop_path(tmp_path).touch).start()
    start = time.monotonic()
    result = tasks.netns_clusters(params)
    assert time.monotonic() - start < 5
    assert result["stopped"] and result["clusters"] == 1 and result["measured"] == 0
    assert calls == [("hostgw", "present"), ("hostgw", "absent")]


def test_a_cluster_whose_last_repetition_needs_a_scrape_after_it_waits_for_one_before_it_goes(tmp_path, monkeypatch):
    from cnibench.platforms.netns import metrics

    params, calls = _clusters(tmp_path, monkeypatch)
    access = {"netns": "cnibtest-client", "url": "http://172.18.0.1:9090", "targets": 3, "timeout": 5.0}
    params["clusters"][0]["metrics"] = {**access, "scrape_after_last": True}
    params["clusters"][1]["metrics"] = {**access, "scrape_after_last": False}
    waited: list[tuple[float, float]] = []

    def wait_targets(netns, url, targets, *, since, timeout):
        waited.append((since, time.time()))
        calls.append(("scraped", netns))
        return 0.5

    monkeypatch.setattr(metrics, "wait_targets", wait_targets)
    tasks.netns_clusters(params)
    [ended] = [r["res"]["ended_at"] for r in _records(tmp_path) if r["event"] == "measured"][:1]
    assert waited and waited[0][0] == ended  # since the first cluster's last repetition ended
    assert calls == [
        ("hostgw", "present"), ("scraped", "cnibtest-client"), ("hostgw", "absent"),
        ("vxlan", "present"), ("vxlan", "absent"),
    ]  # fmt: skip
