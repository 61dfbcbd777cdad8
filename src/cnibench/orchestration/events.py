"""ansible-runner's events -> samples, cluster facts, progress and the first failure's message."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnibench.datapath_config import EFFECTIVE_WARNINGS_KEY
from cnibench.errors import CnibenchError
from cnibench.metrics.prometheus import PrometheusError, node_metrics
from cnibench.orchestration.signals import StopController
from cnibench.orchestration.stream import MeasurementStream, stream_path
from cnibench.progress import MEASURE_TASK, Progress
from cnibench.repetition import Repetition
from cnibench.results.model import Sample
from cnibench.results.recorder import Recorder
from cnibench.scenarios import scenario_of

if TYPE_CHECKING:
    from cnibench.orchestration.collector import MetricsCollector

#: The events that carry a task's result.
RESULT_EVENTS = (
    "runner_on_ok",
    "runner_item_on_ok",
    "runner_on_failed",
    "runner_item_on_failed",
    "runner_on_unreachable",
)


class EventHandler:
    """Turns ansible-runner events into samples, cluster facts, progress and the first failure's message.

    A module's result says what it is (``kind``: a measurement, a CNI's cluster facts, Prometheus ready; see
    :mod:`cnibench.orchestration.tasks`); a measurement is matched to its repetition by the artifact it wrote.

    Repetitions and cluster steps a module reports while it runs (``netns_clusters``) come from
    the run's measurement stream
    (:attr:`stream`, tailed by a thread: :func:`cnibench.orchestration.stream.tailed`); :attr:`lock` makes the
    stream's records and Ansible's events one ordered sequence, the stream read first before each event.
    """

    def __init__(
        self,
        *,
        repetitions: list[Repetition],
        run_dir: Path,
        recorder: Recorder,
        progress: Progress,
        stop: StopController,
        facts: dict[str, dict[str, Any]],
        collector: MetricsCollector | None = None,
    ) -> None:
        self.by_stdout = {str(r.command.stdout): r for r in repetitions}
        self.run_dir = run_dir
        self.recorder = recorder
        self.progress = progress
        self.stop = stop
        self.facts = facts
        self.collector = collector
        self.recorded: set[tuple[str, str, int]] = set()
        self.failure: str | None = None
        self.current_cni: str | None = None
        self.lock = threading.RLock()
        self.stream = MeasurementStream(stream_path(run_dir), self.record)

    def __call__(self, event: dict[str, Any]) -> bool:
        with self.lock:
            self.stream.poll()  # what a module reported before this event comes first
            self._guarded(self.handle, event)
        return True

    def record(self, record: dict[str, Any]) -> None:
        """One record of the measurement stream: a loop's repetitions begin, or one of them ended (handled as the
        loop item's result Ansible would have reported); or a step of a cluster (``netns_clusters``) began or ended
        (handled as Ansible's events of a task of that name)."""
        event = record.get("event")
        if event == "loop_started":
            self.progress.set_task(MEASURE_TASK)
        elif event == "measured":
            kind = "runner_item_on_failed" if record.get("failed") else "runner_item_on_ok"
            self._guarded(
                self.handle, {"event": kind, "event_data": {"task": MEASURE_TASK, "res": record.get("res") or {}}}
            )
        elif event == "task_started":
            self._guarded(
                self.handle, {"event": "playbook_on_task_start", "event_data": {"task": record.get("task", "")}}
            )
        elif event == "task_result":
            kind = "runner_on_failed" if record.get("failed") else "runner_on_ok"
            data = {"task": record.get("task", ""), "res": record.get("res") or {}, "duration": record.get("duration")}
            self._guarded(self.handle, {"event": kind, "event_data": data})

    def _guarded(self, handle: Any, event: dict[str, Any]) -> None:
        try:
            handle(event)
        except CnibenchError as exc:  # a broken artifact must not kill the event stream
            self.failure = self.failure or str(exc)

    def handle(self, event: dict[str, Any]) -> None:
        self.stop.saw_pid(event.get("pid"))
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        task = str(data.get("task", ""))
        res = data.get("res") or {}
        if kind == "playbook_on_task_start":
            self.progress.set_task(task)
            return
        if kind not in RESULT_EVENTS:
            return
        failed = kind.endswith(("failed", "unreachable"))
        repetition = self._repetition(res)
        if repetition is not None:
            self._measured(repetition, res, failed=failed)
        elif failed and not data.get("ignore_errors"):
            self._failed(task, res)
        elif kind == "runner_on_ok" and res.get("kind") == "cluster_facts":
            cni = self.current_cni = str(res["cni"])
            self.recorder.cluster_facts(cni, {**self.facts.get(cni, {}), **self._read_back(cni, res["facts"])})
        elif kind == "runner_on_ok" and res.get("kind") == "metrics_ready":
            self.recorder.cluster_facts(str(res["cni"]), {"metrics_targets_up_s": res["seconds"]})

    def _read_back(self, cni: str, facts: dict[str, Any]) -> dict[str, Any]:
        """``facts`` of ``cni``'s cluster as recorded: what is wrong with the configuration read back from it
        (:data:`~cnibench.datapath_config.EFFECTIVE_WARNINGS_KEY`, found before its first measurement) is said now,
        on the terminal, and kept beside what an earlier round's cluster of the same CNI had (a later round's clean
        cluster does not erase it)."""
        found = facts.get(EFFECTIVE_WARNINGS_KEY)
        if not isinstance(found, list):
            return facts
        known = self.recorder.results.environment.get("clusters", {}).get(cni, {}).get(EFFECTIVE_WARNINGS_KEY) or []
        for text in found:
            if text not in known:
                self.progress.warning(f"{cni}: {text}")
        return {**facts, EFFECTIVE_WARNINGS_KEY: [*known, *(t for t in found if t not in known)]}

    def _repetition(self, res: dict[str, Any]) -> Repetition | None:
        """The repetition a measurement's result is of (a failed task: the loop item's), with the expectations only
        the cluster knows (a node's IP, the seconds a policy took) that come with the result."""
        item = res.get(res.get("ansible_loop_var", "item")) or {}
        if res.get("kind") == "measurement":
            output = res.get("output")
        else:  # a measurement task that failed before its module could say what it is
            output = item.get("stdout") if isinstance(item, dict) and "stdout" in item else None
        repetition = self.by_stdout.get(str(output)) if output else None
        expect = res.get("expect")
        if repetition is not None and isinstance(expect, dict) and expect:
            repetition = dataclasses.replace(repetition, expect=repetition.expect.merged(expect))
        return repetition

    def _measured(self, run: Repetition, res: dict[str, Any], *, failed: bool) -> None:
        if run.key in self.recorded:
            return
        failure = None
        if failed:
            failure = f"task failed: {' '.join(str(res.get('msg', 'no message')).split())}"
        elif res.get("timed_out"):
            failure = f"{run.command.tool} killed after {run.command.timeout_s} s"
        elif res.get("exit_code") not in (0, None):
            # tools print their reason first and usage after it
            reason = next((line.strip() for line in str(res.get("stderr_head", "")).splitlines() if line.strip()), "")
            failure = f"exit code {res['exit_code']}" + (f": {reason}" if reason else "")
        sample = scenario_of(run.scenario).make_sample(
            run,
            run_dir=self.run_dir,
            started_at=res.get("started_at"),
            ended_at=res.get("ended_at"),
            failure=failure,
        )
        if res.get("env_removed"):
            removed = ", ".join(map(str, res["env_removed"]))
            note = f"ran without {removed} from cnibench's environment (a controlled run)"
            sample = sample.model_copy(update={"notes": [*sample.notes, note]})
        self.recorded.add(run.key)
        window = run.command.metrics
        if window is not None and window.deferred and self.collector is not None and not failed:
            # queried while the next repetition runs; recorded once its metrics are in
            self.collector.submit(sample, window, started_at=res["started_at"], ended_at=res["ended_at"])
        else:
            if window is not None:
                sample = with_node_metrics(sample, window.out, "task failed" if failed else res.get("metrics_error"))
            self.recorder.add(sample)
        self.progress.finished(run)
        if sample.status == "failed":
            self.progress.note(f"repetition failed: {run.cni} {run.scenario} {run.repetition}: {sample.error}")

    def _failed(self, task: str, res: dict[str, Any]) -> None:
        if self.failure is not None:
            return
        msg = str(res.get("msg") or res.get("stderr") or res.get("reason") or "failed").strip()
        msg = " ".join(msg.split())
        if res.get("cmd") and not res.get("stderr"):  # "Error executing command." alone does not say which
            cmd = res["cmd"] if isinstance(res["cmd"], str) else " ".join(map(str, res["cmd"]))
            msg += f" (`{cmd}`, rc {res.get('rc')})"
        self.failure = f"{task}: {msg}" if task else msg


def with_node_metrics(sample: Sample, metrics_dir: Path, error: str | None) -> Sample:
    """Attach the repetition's node metrics (parsed from the raw Prometheus answers in ``metrics_dir``), or why they
    are missing; a query without a series in the window is named in ``metrics_error`` beside what was found."""
    if error is None:
        try:
            found = node_metrics(metrics_dir)
        except (PrometheusError, OSError) as exc:
            error = f"cannot read the saved Prometheus answers: {exc}"
        else:
            sample = sample.model_copy(
                update={
                    "node_metrics": found.per_node,
                    "metrics_error": f"metrics missing: {found.error}" if found.error else None,
                    "notes": [*sample.notes, *found.notes],
                }
            )
            return scenario_of(sample.scenario).with_cost(sample, metrics_dir)
    return sample.model_copy(update={"metrics_error": f"metrics missing: {error}"})
