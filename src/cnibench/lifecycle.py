"""One run's life: reserve -> compile -> play -> record -> clean up, also after a failure or a signal.

:func:`execute` is that sequence; the parts are the platform (compile, cleanup), the orchestration (the playbook,
its events, the signals) and the results recorder.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnibench import __version__, machine, runstate
from cnibench import environment as env_info
from cnibench.errors import CnibenchError, Interrupted, PrerequisiteError
from cnibench.orchestration.ansible import ansible_error, run_playbook
from cnibench.orchestration.collector import MetricsCollector
from cnibench.orchestration.events import EventHandler
from cnibench.orchestration.signals import StopController
from cnibench.orchestration.stream import stop_path, tailed
from cnibench.platforms import get_platform
from cnibench.platforms.base import Compiled, Platform
from cnibench.proc import become_subreaper, descendants, terminate
from cnibench.progress import PROGRESS_FILE, Progress
from cnibench.results.model import RunResults, RunStatus
from cnibench.results.recorder import Recorder
from cnibench.spec import spec_to_yaml

if TYPE_CHECKING:
    from cnibench.plan import Plan
    from cnibench.spec.model import Spec

#: How long a run waits, after its playbook, for the node metrics still being queried (s); a third of it after a
#: signal.
METRICS_DRAIN_S = 15.0


@dataclass(frozen=True)
class Outcome:
    run_dir: Path
    results: RunResults
    notes: tuple[str, ...] = ()  # what the user should know after the summary (a cluster kept with --keep)
    after: tuple[str, ...] = ()  # what ``execute``'s ``after`` said (the store, the report)
    signal: int | None = None  # the signal that stopped the run

    @property
    def exit_code(self) -> int:
        """0 every repetition ok; 1 a repetition or step failed or did not run; 128 + the signal's number when a
        signal stopped the run (130 SIGINT, 143 SIGTERM, 129 SIGHUP, 131 SIGQUIT), as a shell reports it."""
        if self.results.status == "interrupted":
            return 128 + self.signal if self.signal else Interrupted.exit_code
        if self.results.status != "complete" or any(s.status != "ok" for s in self.results.samples):
            return 1
        if len(self.results.samples) < self.results.planned_repetitions:
            return 1
        return 0


def new_run_dir(results_dir: Path, name: str) -> tuple[str, Path]:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{name}"
    for n in range(1, 1000):
        run_id = base if n == 1 else f"{base}-{n}"
        path = results_dir / run_id
        try:
            path.mkdir(parents=True)
        except FileExistsError:
            continue
        return run_id, path
    raise CnibenchError(f"{results_dir}: cannot create a run directory for {base}")


def point_latest(results_dir: Path, run_id: str) -> None:
    link = results_dir / "latest"
    tmp = results_dir / f".latest-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(run_id)
    tmp.replace(link)


def require(platform: type[Platform], spec: Spec) -> None:
    """Raise :class:`PrerequisiteError` (exit 2) naming the first missing prerequisite and how to get it."""
    for check in platform.prerequisites(spec):
        if not check.ok:
            hint = f"; fix: {check.hint}" if check.hint else ""
            raise PrerequisiteError(f"{check.name}: {check.detail}{hint} (see `cnibench doctor`)")


def record_start(
    spec: Spec, plan: Plan, platform: Platform, *, run_id: str, run_dir: Path, prefix: str, load: dict[str, Any]
) -> Recorder:
    """The run's record before anything runs: spec.yaml, environment.json (with ``load``, the machine's
    background load, :func:`machine.background_load`) and results.json (status running)."""
    (run_dir / "spec.yaml").write_text(spec_to_yaml(spec), encoding="utf-8")
    environment: dict[str, Any] = env_info.collect()
    environment["prefix"] = prefix
    environment["background_load"] = load
    extra = platform.environment(spec)
    environment["tools"].update(extra.pop("tools", {}))
    environment.update(extra)
    environment["measured"] = platform.what_is_measured(spec)  # what the numbers mean here (report, plan)
    (run_dir / "environment.json").write_text(json.dumps(environment, indent=2) + "\n", encoding="utf-8")
    return Recorder(
        run_dir,
        RunResults(
            run_id=run_id,
            name=spec.name,
            platform=spec.platform,
            status="running",
            started_at=time.time(),
            cnibench_version=__version__,
            planned_repetitions=plan.repetitions,
            owner=runstate.this_process(),
            spec=spec.model_dump(mode="json"),
            environment=environment,
        ),
    )


def execute(
    spec: Spec,
    plan: Plan,
    *,
    results_dir: Path,
    progress_stream: Any = None,
    progress: bool | None = None,
    keep: bool = False,
    wait: bool = False,
    on_wait: Callable[[str], None] | None = None,
    after: Callable[[Path, RunResults], list[str]] | None = None,
) -> Outcome:
    """Run ``plan`` and return its outcome; raises only for problems found before anything was created
    (:class:`~cnibench.machine.MachineBusy` when another run measures on this machine and ``wait`` is false;
    ``on_wait`` hears who it waits for).

    ``after(run_dir, results)`` (storing the run, writing its report) runs once everything is cleaned up but while
    this run still holds the machine's run lock: a run waiting for the lock would otherwise measure while this one
    draws its plots (a waiting run measured 50 % background load). Its lines are :attr:`Outcome.after`.

    ``keep`` (Kubernetes platforms) leaves the clusters and what was deployed in place."""
    platform = get_platform(spec.platform, keep=keep)
    require(type(platform), spec)
    shown_dir, results_dir = results_dir, results_dir.resolve()  # Ansible runs from its project directory
    become_subreaper()
    stop = StopController()
    with stop.installed(), machine.exclusive(wait=wait, on_wait=on_wait or _ignore, check=stop.check) as lock:
        load = machine.background_load()  # before this run adds any of its own
        run_id, run_dir = new_run_dir(results_dir, spec.name)
        lock.describe(run_id=run_id, run_dir=str(shown_dir / run_id))
        point_latest(results_dir, run_id)
        prefix = platform.reserve(run_dir, os.getpid())
        stop.on_playbook_pid = lambda pid: platform.note_playbook(prefix, pid)
        recorder = record_start(spec, plan, platform, run_id=run_id, run_dir=run_dir, prefix=prefix, load=load)
        status: RunStatus = "failed"
        error: str | None = None
        compiled: Compiled | None = None
        bar: Progress | None = None
        collector: MetricsCollector | None = None
        try:
            stop.check()
            compiled = platform.compile(plan, run_dir=run_dir, prefix=prefix)
            compiled.write()
            bar = Progress(compiled.repetitions, stream=progress_stream, enabled=progress, priors=plan.priors,
                           status_file=run_dir / PROGRESS_FILE)  # fmt: skip
            bar.start()
            collector = platform.metrics_collector(recorder.add)
            handler = EventHandler(repetitions=compiled.repetitions, run_dir=run_dir, recorder=recorder,
                                   progress=bar, stop=stop, facts=compiled.facts, collector=collector)  # fmt: skip
            stop.check()
            # repetitions and cluster steps a module reports while it runs (netns_clusters) reach the handler
            with tailed(handler.stream, lock=handler.lock, stopping=lambda: stop.stopping,
                        stop_file=stop_path(run_dir)):  # fmt: skip
                runner_status, rc = run_playbook(
                    compiled.playbook, compiled.extravars, run_dir=run_dir, handler=handler, stop=stop, prefix=prefix
                )
            if stop.stopping:
                status, error = "interrupted", f"interrupted by {stop.signal_name}"
            elif runner_status != "successful":
                error = handler.failure or ansible_error(run_dir) or f"ansible-playbook {runner_status} (rc {rc})"
                error += f" (Ansible log: {shown_dir / run_id / 'ansible.log'})"
            else:
                status = "complete"
        except Interrupted as exc:
            status, error = "interrupted", str(exc)
        except CnibenchError as exc:
            error = str(exc)
        except BaseException as exc:  # a bug: record it, clean up, and let it surface with its traceback
            error = f"internal error: {type(exc).__name__}: {exc}"
            raise
        finally:
            if collector is not None:  # the last windows, before cleanup stops Prometheus
                collector.drain(METRICS_DRAIN_S if not stop.stopping else METRICS_DRAIN_S / 3)
            if bar is not None:
                bar.close()
            terminate(descendants(os.getpid()))  # what Ansible left (forced cancel, killed modules) is ours
            try:
                platform.cleanup(prefix, compiled)
            except CnibenchError as exc:
                status = "failed" if status == "complete" else status
                error = (error + "; " if error else "") + f"cleanup: {exc} (run `cnibench clean`)"
            results = recorder.finish(status, error)
            stop.release_terminal()  # a terminal lost under nohup sent no SIGHUP: the summary must not die of EIO
        said = tuple(after(shown_dir / run_id, results)) if after is not None else ()
    notes = compiled.notes if compiled is not None else ()
    signal = stop.signal_number if status == "interrupted" else None
    return Outcome(run_dir=shown_dir / run_id, results=results, notes=notes, signal=signal, after=said)


def _ignore(_holder: str) -> None:
    pass
