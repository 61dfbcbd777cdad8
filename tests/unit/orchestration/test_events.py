"""The event handler, fed events shaped like ansible-runner's: measurements become samples, results that say they
are cluster facts become facts, failures one line."""

from __future__ import annotations

import io
import json
import shutil
import time
from pathlib import Path

import pytest

from cnibench.orchestration.events import EventHandler
from cnibench.orchestration.signals import StopController
from cnibench.plan import make_plan
from cnibench.platforms.netns.platform import NetnsPlatform
from cnibench.progress import Progress
from cnibench.results.model import RunResults, read_results
from cnibench.results.recorder import Recorder
from cnibench.spec import default_spec_data, parse_spec


def _recorder(tmp_path: Path, platform: str, planned: int) -> Recorder:
    results = RunResults(
        run_id="r",
        name="t",
        platform=platform,
        status="running",
        started_at=time.time(),
        cnibench_version="0",
        spec={},
        environment={},
        planned_repetitions=planned,
    )
    return Recorder(tmp_path, results)


@pytest.fixture
def setup(tmp_path):
    spec = parse_spec(default_spec_data())
    plan = make_plan(spec)
    compiled = NetnsPlatform().compile(plan, run_dir=tmp_path, prefix="cnib0000")
    recorder = _recorder(tmp_path, "netns", plan.repetitions)
    stop = StopController()
    handler = EventHandler(
        repetitions=compiled.repetitions,
        run_dir=tmp_path,
        recorder=recorder,
        progress=Progress(compiled.repetitions, stream=io.StringIO()),
        stop=stop,
        facts=compiled.facts,
    )
    return compiled, recorder, handler, stop


def _item(kind: str, task: str, run_vars: dict, **res) -> dict:
    """An event of a measurement task's loop item; a module's result says it is a measurement."""
    if "output" in res:
        res = {"kind": "measurement", **res, "output": str(res["output"])}
    return {
        "event": kind,
        "pid": 4242,
        "event_data": {"task": task, "res": {"ansible_loop_var": "run", "run": run_vars, **res}},
    }


def _run_vars(compiled, repetition) -> dict:
    """The playbook's loop item of ``repetition``."""
    [found] = [
        run
        for cluster in compiled.extravars["cnibench_clusters"]
        for scenario in cluster["scenarios"]
        for run in scenario["runs"]
        if run["stdout"] == str(repetition.command.stdout)
    ]
    return found


def test_a_measurement_item_becomes_a_sample(setup, data_dir):
    compiled, recorder, handler, stop = setup
    [run] = [r for r in compiled.repetitions if r.key == ("hostgw", "egress", 1)]
    Path(run.artifact).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(data_dir / "iperf3" / "tcp-hostgw-egress.json", run.artifact)
    run_vars = _run_vars(compiled, run)
    handler(
        _item(
            "runner_item_on_ok",
            "any task name",
            run_vars,
            output=run.artifact,
            exit_code=0,
            timed_out=False,
            started_at=1.0,
            ended_at=13.0,
            stderr_head="",
        )
    )
    handler(_item("runner_item_on_ok", "any task name", run_vars, output=run.artifact))  # a duplicate event
    samples = read_results(recorder.path).samples
    assert len(samples) == 1
    assert (samples[0].cni, samples[0].scenario, samples[0].repetition, samples[0].status) == (
        "hostgw",
        "egress",
        1,
        "ok",
    )
    assert stop.playbook_pid == 4242


def test_a_failed_or_killed_measurement_is_a_failed_sample_with_its_reason(setup):
    compiled, recorder, handler, _ = setup
    first, second = compiled.repetitions[0], compiled.repetitions[1]
    # a failed task carries no module result: the repetition is found through its loop item
    handler(_item("runner_item_on_failed", "Measure", {"stdout": str(first.command.stdout)}, msg="cannot run iperf3"))
    handler(
        _item(
            "runner_item_on_ok",
            "Measure",
            {"output": str(second.artifact)},
            output=second.artifact,
            exit_code=None,
            timed_out=True,
            started_at=1.0,
            ended_at=33.0,
        )
    )
    samples = read_results(recorder.path).samples
    assert [s.status for s in samples] == ["failed", "failed"]
    assert samples[0].error == "task failed: cannot run iperf3"
    assert samples[1].error == f"iperf3 killed after {second.command.timeout_s} s"
    assert handler.failure is None  # a failed repetition is not a failed run


def test_a_non_zero_exit_code_gives_the_first_line_of_stderr(setup):
    compiled, recorder, handler, _ = setup
    run = compiled.repetitions[0]
    handler(
        _item(
            "runner_item_on_ok",
            "Measure",
            {"output": str(run.artifact)},
            output=run.artifact,
            exit_code=1,
            timed_out=False,
            started_at=1.0,
            ended_at=1.1,
            stderr_head="iperf3: unrecognized option '--x'\nUsage: iperf3 [-s|-c host] [options]\n",
        )
    )
    sample = read_results(recorder.path).samples[0]
    assert sample.status == "failed"
    assert sample.error == "exit code 1: iperf3: unrecognized option '--x'"


def test_other_failures_give_the_runs_one_line(setup):
    _, _, handler, _ = setup
    handler(
        {
            "event": "runner_on_failed",
            "event_data": {"task": "Build the netns cluster", "res": {"msg": "01-x.ip in ns: ip failed:\n Error"}},
        }
    )
    handler({"event": "runner_on_failed", "event_data": {"task": "later", "res": {"msg": "second"}}})
    assert handler.failure == "Build the netns cluster: 01-x.ip in ns: ip failed: Error"


def test_a_cluster_facts_result_records_the_clusters_links(setup, tmp_path):
    _compiled, _recorder, handler, _ = setup
    links = {"cnib0000-pod-iperf3-client": {"cnib0000-eth": 1450}}
    res = {"kind": "cluster_facts", "cni": "vxlan", "facts": {"links": links}}
    handler({"event": "runner_on_ok", "event_data": {"task": "x", "res": res}})
    handler(
        {
            "event": "runner_on_ok",
            "event_data": {"task": "y", "res": {"kind": "metrics_ready", "cni": "vxlan", "seconds": 1.5}},
        }
    )
    # a result of another kind with the same fields is not taken for facts
    handler(
        {
            "event": "runner_on_ok",
            "event_data": {"task": "z", "res": {"kind": "done", "cni": "vxlan", "facts": {"x": 1}}},
        }
    )
    env = json.loads((tmp_path / "environment.json").read_text())
    assert env["clusters"]["vxlan"]["links"] == links and env["clusters"]["vxlan"]["pod_mtu"] == 1450
    assert env["clusters"]["vxlan"]["metrics_targets_up_s"] == 1.5 and "x" not in env["clusters"]["vxlan"]


def test_node_metrics_attach_or_say_why_missing(tmp_path, data_dir):
    from cnibench.orchestration.events import with_node_metrics
    from cnibench.scenarios.egress import EgressSample

    out = tmp_path / "rep-01.metrics"
    out.mkdir()
    for name in ("cpu_util", "mem_used_bytes", "net_tx_bps", "net_rx_bps"):
        shutil.copy(data_dir / "prometheus" / f"{name}.json", out)
    sample = EgressSample(cni="hostgw", scenario="egress", repetition=1, status="ok", protocol="tcp")
    attached = with_node_metrics(sample, out, None)
    assert attached.node_metrics["worker"]["net_tx_bps_avg"] > 1e9 and attached.metrics_error is None
    missing = with_node_metrics(sample, out, "Prometheus at http://x unreachable: refused")
    assert missing.node_metrics is None and missing.status == "ok"
    assert missing.metrics_error == "metrics missing: Prometheus at http://x unreachable: refused"
    (out / "mem_used_bytes.json").write_text("{broken")
    broken = with_node_metrics(sample, out, None)
    assert broken.metrics_error.startswith("metrics missing: cannot read the saved Prometheus answers")


def test_a_query_without_series_is_a_metrics_error_beside_what_was_found(data_dir):
    from cnibench.orchestration.events import with_node_metrics
    from cnibench.scenarios.egress import EgressSample

    sample = EgressSample(cni="hostgw", scenario="egress", repetition=1, status="ok", protocol="tcp")
    found = with_node_metrics(sample, data_dir / "cases" / "parsers" / "prometheus-window-no-net-series", None)
    assert found.metrics_error.startswith("metrics missing: net_tx_bps: no series in the window")
    assert "net_rx_bps: no series" in found.metrics_error
    assert found.node_metrics["worker"]["cpu_util_avg"] > 0


# ---- Kubernetes platforms: what only the cluster knows comes with the module results -------------------------


def test_kube_results_carry_runtime_expectations_and_cluster_facts(tmp_path, data_dir):
    from cnibench.platforms import get_platform
    from cnibench.spec import load_spec_data

    data = load_spec_data(Path(__file__).resolve().parents[3] / "examples" / "kind-antrea-vs-cilium.yaml")
    # the captured iperf3 output's server saw 203.0.113.254: put kind's network around it
    data["network"]["node_cidr"] = "203.0.113.0/24"
    data["scenarios"]["egress"]["egress_ip"] = "203.0.113.254"
    data["scenarios"]["ingress"]["lb_ip"] = "203.0.113.250"
    spec = parse_spec(data)
    compiled = get_platform("kind").compile(make_plan(spec, ["egress"]), run_dir=tmp_path, prefix="cnib0000")
    recorder = _recorder(tmp_path, "kind", len(compiled.repetitions))
    handler = EventHandler(
        repetitions=compiled.repetitions,
        run_dir=tmp_path,
        recorder=recorder,
        progress=Progress(compiled.repetitions, stream=io.StringIO()),
        stop=StopController(),
        facts=compiled.facts,
    )
    facts = {"detected_cni": "antrea", "detected_cni_version": "2.7.0", "nodes": 3}
    handler(
        {
            "event": "runner_on_ok",
            "event_data": {"task": "Read", "res": {"kind": "cluster_facts", "cni": "antrea", "facts": facts}},
        }
    )
    baseline, egress = compiled.repetitions[0], compiled.repetitions[3]
    assert (baseline.cni, baseline.scenario, egress.scenario) == ("antrea", "egress-baseline", "egress")
    for run, golden, expect in (
        (baseline, "tcp-hostgw-baseline.json", {"expected_source_ip": "172.18.0.4"}),
        (egress, "tcp-hostgw-egress.json", {"expected_source_ip": "203.0.113.254", "egress_apply_s": 2.5}),
    ):
        Path(run.artifact).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(data_dir / "iperf3" / golden, run.artifact)
        res = {"output": run.artifact, "exit_code": 0, "started_at": 1.0, "ended_at": 13.0, "expect": expect}
        handler(_item("runner_item_on_ok", "Measure", {"stdout": str(run.command.stdout)}, **res))
    results = read_results(recorder.path)
    first, second = results.samples
    assert first.status == "ok" and first.expected_source_ip == "172.18.0.4" and first.egress_apply_s is None
    assert second.status == "ok" and second.egress_ip_ok is True and second.egress_apply_s == 2.5
    cluster = results.environment["clusters"]["antrea"]
    assert cluster["detected_cni_version"] == "2.7.0" and cluster["platform"] == "kind"
    assert cluster["kind_node_image"].startswith("kindest/node:")


def test_streamed_repetitions_are_handled_before_ansibles_next_event(setup, data_dir):
    """netns_clusters reports repetitions through the stream while it runs; the handler reads the stream before
    every Ansible event, so a repetition that ended is recorded before the cluster's teardown task begins."""
    from cnibench.orchestration.stream import stream_path

    compiled, recorder, handler, _ = setup
    [run] = [r for r in compiled.repetitions if r.key == ("hostgw", "egress", 1)]
    Path(run.artifact).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(data_dir / "iperf3" / "tcp-hostgw-egress.json", run.artifact)
    res = {"kind": "measurement", "output": str(run.artifact), "exit_code": 0, "timed_out": False,
           "started_at": 1.0, "ended_at": 13.0, "stderr_head": ""}  # fmt: skip
    [failed] = [r for r in compiled.repetitions if r.key == ("hostgw", "egress-baseline", 1)]
    path = stream_path(handler.run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    records = [
        {"event": "loop_started", "scenario": "egress", "cni": "hostgw"},
        {"event": "measured", "failed": False, "res": res},
        {
            "event": "measured",
            "failed": True,
            "res": {"kind": "measurement", "output": str(failed.artifact), "msg": "01-policy.nft: nft failed"},
        },
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert read_results(recorder.path).samples == []
    handler({"event": "playbook_on_task_start", "event_data": {"task": "Destroy the netns cluster"}})
    samples = {s.scenario: s for s in read_results(recorder.path).samples}
    assert samples["egress"].status == "ok" and samples["egress"].repetition == 1
    assert samples["egress-baseline"].status == "failed"
    assert samples["egress-baseline"].error == "task failed: 01-policy.nft: nft failed"
    assert handler.progress.task == "Destroy the netns cluster"


def test_a_clusters_steps_on_the_stream_are_handled_as_tasks_of_their_names(setup, tmp_path):
    """netns_clusters runs every cluster in one module call and reports each step as the task it used to be: its
    start moves the progress on, the build's result is the cluster's facts, a failed build is the run's failure
    under the step's name (not the name of the task that ran every cluster)."""
    from cnibench.orchestration.stream import stream_path
    from cnibench.platforms.netns.tasks import BUILD_STEP, DESTROY_STEP

    _compiled, _recorder, handler, _ = setup
    links = {"cnib0000-pod-iperf3-client": {"cnib0000-eth": 1450}}
    facts = {"kind": "cluster_facts", "cni": "vxlan", "facts": {"links": links, "metrics_targets_up_s": 0.4}}
    records = [
        {"event": "task_started", "task": BUILD_STEP},
        {"event": "task_result", "task": BUILD_STEP, "failed": False, "res": facts, "duration": 0.9},
        {"event": "task_started", "task": DESTROY_STEP},
    ]
    path = stream_path(handler.run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    handler.stream.poll()
    env = json.loads((tmp_path / "environment.json").read_text())
    assert env["clusters"]["vxlan"]["links"] == links and env["clusters"]["vxlan"]["metrics_targets_up_s"] == 0.4
    assert handler.progress.task == DESTROY_STEP and handler.failure is None
    failed = {"event": "task_result", "task": BUILD_STEP, "failed": True, "res": {"msg": "01-x.ip in ns: ip failed"}}
    with path.open("a") as out:
        out.write(json.dumps({"event": "task_started", "task": BUILD_STEP}) + "\n" + json.dumps(failed) + "\n")
    assert handler.progress.task == DESTROY_STEP  # not read yet: the next Ansible event reads it first
    handler({"event": "runner_on_failed", "event_data": {"task": "Benchmark each CNI", "res": {"msg": "same"}}})
    assert handler.failure == f"{BUILD_STEP}: 01-x.ip in ns: ip failed"
    assert handler.progress.task == BUILD_STEP


def test_what_is_wrong_with_a_datapath_read_back_is_said_at_once_and_kept_across_rounds(setup):
    """A cluster's read-back problems (a variant's encryption not active) are warned about when they arrive, before
    the measurement, even without a terminal; a later round's clean cluster of the same CNI keeps the first's."""
    _compiled, recorder, handler, _ = setup
    problem = "encryption wireguard requested but not active on 1 of 3 nodes (w2: Encryption: Disabled)"
    facts = {"effective_config": {"encryption": "wireguard on 2 of 3 nodes"}, "effective_warnings": [problem]}
    for round_facts in (facts, facts, {"effective_config": {"encryption": "wireguard"}, "effective_warnings": []}):
        res = {"kind": "cluster_facts", "cni": "vxlan", "facts": round_facts}
        handler({"event": "runner_on_ok", "event_data": {"task": "Read back", "res": res}})
    assert handler.progress.stream.getvalue() == f"warning: vxlan: {problem}\n"  # once, not once per round
    recorded = recorder.results.environment["clusters"]["vxlan"]
    assert recorded["effective_warnings"] == [problem]
    assert recorded["effective_config"] == {"encryption": "wireguard"}  # the last round's
