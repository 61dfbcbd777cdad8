"""One run: compile the spec, drive the project's playbook through ansible-runner, record every repetition as it
finishes, and always clean up — on success, on failure, on SIGINT/SIGTERM/SIGQUIT and when the terminal goes away
(SIGHUP).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from types import FrameType
from typing import Any

from cnibench import __version__, doctor, runstate
from cnibench import environment as env_info
from cnibench.errors import CnibenchError, Interrupted
from cnibench.metrics.catalogue import KUBE_SCOPE, NETNS_SCOPE, NETNS_UPLINKS, expressions
from cnibench.metrics.prometheus import PrometheusError, node_metrics
from cnibench.plan import Plan
from cnibench.platforms import get_platform
from cnibench.platforms.base import Compiled
from cnibench.proc import become_subreaper, descendants, terminate
from cnibench.progress import PROGRESS_FILE, Progress
from cnibench.results.model import RESULTS_FILE, RunResults, RunStatus, Sample, write_results
from cnibench.scenarios import egress, ingress
from cnibench.scenarios.base import PlannedRun
from cnibench.spec import Spec, spec_to_yaml

#: After the first stop signal the playbook gets this long to stop by itself before it is killed.
STOP_GRACE_S = 10.0

SampleMaker = Callable[..., Sample]
SAMPLE_MAKERS: dict[str, SampleMaker] = {
    egress.NAME: egress.make_sample,
    egress.BASELINE: egress.make_sample,
    ingress.NAME: ingress.make_sample,
}


def ansible_dir() -> Path:
    """The project's Ansible tree (ansible.cfg, collection, playbooks), shipped inside the package."""
    return Path(str(resources.files("cnibench").joinpath("ansible")))


# --------------------------------------------------------------------------------------------- recording


class Recorder:
    """Holds the run's record and rewrites ``results.json`` atomically after every change."""

    def __init__(self, run_dir: Path, base: RunResults) -> None:
        self.path = run_dir / RESULTS_FILE
        self.env_path = run_dir / "environment.json"
        self.results = base
        self._lock = threading.Lock()
        self.save()

    def save(self) -> None:
        write_results(self.path, self.results)

    def add(self, sample: Sample) -> None:
        with self._lock:
            self.results = self.results.model_copy(update={"samples": [*self.results.samples, sample]})
            self.save()

    def cluster_facts(self, cni: str, facts: dict[str, Any]) -> None:
        with self._lock:
            environment = dict(self.results.environment)
            clusters = dict(environment.get("clusters", {}))
            clusters[cni] = {**clusters.get(cni, {}), **facts}
            environment["clusters"] = clusters
            self.results = self.results.model_copy(update={"environment": environment})
            self.env_path.write_text(json.dumps(environment, indent=2) + "\n", encoding="utf-8")
            self.save()

    def finish(self, status: RunStatus, error: str | None) -> RunResults:
        with self._lock:
            self.results = self.results.model_copy(update={"status": status, "error": error, "ended_at": time.time()})
            self.save()
            return self.results


# --------------------------------------------------------------------------------------------- signals


class StopController:
    """SIGINT, SIGTERM, SIGHUP or SIGQUIT during a run: ask ansible-playbook to stop (SIGINT), then force it after a
    grace period.

    ansible-runner's own cancel kills only the ansible-playbook process group and orphans the workers, so the
    first signal goes to ansible-playbook itself; a second signal, or the grace period, makes the runner cancel
    (the orphans are ours to end afterwards: cnibench is their subreaper).

    SIGHUP means the terminal went away (an SSH connection dropped, a tmux server ended): the run stops and cleans
    up like on SIGTERM (unless SIGHUP was ignored when cnibench started, as under nohup: then it is left ignored
    and the run goes on), and what was written to the terminal goes to /dev/null from then on (a write to a hung-up
    terminal fails with EIO, and a cleanup must not die of a message). ansible-playbook runs on its own pty
    (pexpect), its workers and the daemons in sessions of their own, so the hang-up reaches cnibench only.
    """

    #: The signals that stop a run; the exit code is 128 + the signal's number, as a shell reports it.
    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)

    def __init__(self, on_playbook_pid: Callable[[int], None] | None = None, grace: float = STOP_GRACE_S) -> None:
        self.on_playbook_pid = on_playbook_pid
        self.grace = grace
        self.requested_at: float | None = None
        self.signal_name = ""
        self.signal_number: int | None = None
        self.force = False
        self.playbook_pid: int | None = None
        self._forwarded = False
        self._previous: dict[signal.Signals, Any] = {}
        self._terminals: list[int] = []

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopController]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        self._terminals = [fd for fd in (0, 1, 2) if _isatty(fd)]
        for sig in self.SIGNALS:
            if sig == signal.SIGHUP and signal.getsignal(sig) == signal.SIG_IGN:
                continue  # started under nohup (or `trap '' HUP`): the run is meant to outlive its terminal
            self._previous[sig] = signal.signal(sig, self.handle)
        try:
            yield self
        finally:
            for sig, handler in self._previous.items():
                # the terminal is gone: a late SIGHUP (the shell passes its own on to its jobs) must not kill
                # cnibench while it prints the summary and writes the report
                hung_up = sig == signal.SIGHUP and self.signal_number == signal.SIGHUP
                signal.signal(sig, signal.SIG_IGN if hung_up else handler)

    @property
    def stopping(self) -> bool:
        return self.requested_at is not None

    def handle(self, signum: int, _frame: FrameType | None = None) -> None:
        if signum == signal.SIGHUP:
            self.release_terminal()
        if self.requested_at is None:
            self.requested_at = time.monotonic()
            self.signal_name = signal.Signals(signum).name
            self.signal_number = signum
        elif signum != signal.SIGHUP:
            # a second SIGHUP is no request to hurry: the kernel hangs up the terminal's foreground process group
            # and the shell (bash(1), SIGNALS) resends SIGHUP to its jobs, so one lost terminal can send two
            self.force = True
        self.forward()

    def release_terminal(self) -> None:
        """Point standard input, output and error that were a terminal and no longer are (hung up) at /dev/null."""
        dead = [fd for fd in self._terminals if not _isatty(fd)]
        if not dead:
            return
        null = os.open(os.devnull, os.O_RDWR)
        try:
            for fd in dead:
                os.dup2(null, fd)
        finally:
            os.close(null)
        self._terminals = [fd for fd in self._terminals if fd not in dead]

    def saw_pid(self, pid: int | None) -> None:
        if pid and self.playbook_pid is None:
            self.playbook_pid = pid
            if self.on_playbook_pid is not None:
                self.on_playbook_pid(pid)
            if self.stopping:
                self.forward()

    def forward(self) -> None:
        if self.playbook_pid and not self._forwarded:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.playbook_pid, signal.SIGINT)
            self._forwarded = True

    def cancel(self) -> bool:
        """ansible-runner's cancel_callback: True kills the playbook's process group."""
        if self.requested_at is None:
            return False
        return self.force or time.monotonic() - self.requested_at > self.grace

    def check(self) -> None:
        """Between steps outside Ansible: stop now if a signal came."""
        if self.stopping:
            raise Interrupted(f"interrupted by {self.signal_name}")


def _isatty(fd: int) -> bool:
    """A hung-up terminal answers TCGETS with EIO: it is no terminal any more."""
    try:
        return os.isatty(fd)
    except OSError:
        return False


# --------------------------------------------------------------------------------------------- events


class EventHandler:
    """Turns ansible-runner events into samples, cluster facts, progress and the first failure's message.

    A module's result says what it is (``kind``: a measurement, a CNI's cluster facts, Prometheus ready; see
    :mod:`cnibench.orchestration.tasks`); a measurement is matched to its repetition by the artifact it wrote.
    """

    def __init__(
        self,
        *,
        runs: list[PlannedRun],
        run_dir: Path,
        recorder: Recorder,
        progress: Progress,
        stop: StopController,
        facts: dict[str, dict[str, Any]],
    ) -> None:
        self.by_stdout = {r.command["stdout"]: r for r in runs}
        self.run_dir = run_dir
        self.recorder = recorder
        self.progress = progress
        self.stop = stop
        self.facts = facts
        self.recorded: set[str] = set()
        self.failure: str | None = None
        self.current_cni: str | None = None

    def __call__(self, event: dict[str, Any]) -> bool:
        try:
            self.handle(event)
        except CnibenchError as exc:  # a broken artifact must not kill the event stream
            self.failure = self.failure or str(exc)
        return True

    def handle(self, event: dict[str, Any]) -> None:
        self.stop.saw_pid(event.get("pid"))
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        task = str(data.get("task", ""))
        res = data.get("res") or {}
        if kind == "playbook_on_task_start":
            self.progress.set_task(task)
            return
        if kind not in (
            "runner_on_ok",
            "runner_item_on_ok",
            "runner_on_failed",
            "runner_item_on_failed",
            "runner_on_unreachable",
        ):
            return
        failed = kind.endswith(("failed", "unreachable"))
        run = self._planned_run(res)
        if run is not None:
            self._measured(run, res, failed=failed)
        elif failed and not data.get("ignore_errors"):
            self._failed(task, res)
        elif kind == "runner_on_ok" and res.get("kind") == "cluster_facts":
            cni = self.current_cni = str(res["cni"])
            self.recorder.cluster_facts(cni, {**self.facts.get(cni, {}), **res["facts"]})
        elif kind == "runner_on_ok" and res.get("kind") == "metrics_ready":
            self.recorder.cluster_facts(str(res["cni"]), {"metrics_targets_up_s": res["seconds"]})

    def _planned_run(self, res: dict[str, Any]) -> PlannedRun | None:
        item = res.get(res.get("ansible_loop_var", "item")) or {}
        output = res.get("output") or (item.get("stdout") if isinstance(item, dict) else None)
        run = self.by_stdout.get(str(output)) if output else None
        expect = res.get("expect")
        if run is not None and isinstance(expect, dict) and expect:
            # expectations only the cluster knows (the client's node IP, egress_apply_s) come with the result
            run = replace(run, expect={**run.expect, **expect})
        return run

    def _measured(self, run: PlannedRun, res: dict[str, Any], *, failed: bool) -> None:
        if run.artifact in self.recorded:
            return
        failure = None
        if failed:
            failure = f"task failed: {' '.join(str(res.get('msg', 'no message')).split())}"
        elif res.get("timed_out"):
            failure = f"{Path(run.command.get('argv', ['tool'])[0]).name} killed after {run.command.get('timeout')} s"
        elif res.get("exit_code") not in (0, None):
            # tools print their reason first and usage after it
            reason = next((line.strip() for line in str(res.get("stderr_head", "")).splitlines() if line.strip()), "")
            failure = f"exit code {res['exit_code']}" + (f": {reason}" if reason else "")
        sample = SAMPLE_MAKERS[run.scenario](
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
        if run.command.get("metrics") is not None:
            sample = with_node_metrics(
                sample, Path(run.command["metrics"]["out"]), res.get("metrics_error") if not failed else "task failed"
            )
        self.recorded.add(run.artifact)
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


def kube_settings(spec: Spec) -> dict[str, Any]:
    """What the Kubernetes platforms' prerequisite checks need from the spec."""
    if not spec.on_kubernetes:
        return {}
    kube = spec.kube
    return {
        "k6_in_container": kube.k6_in_container,
        "kubeconfig": kube.kubeconfig,
        "context": kube.context,
        "port_mappings": kube.kind_port_mappings,
        "cnis": tuple(spec.cnis),
        "subscription_id": spec.aks_settings.subscription_id if spec.platform == "aks" else None,
    }


def with_node_metrics(sample: Sample, metrics_dir: Path, error: str | None) -> Sample:
    """Attach the repetition's node metrics (parsed from the raw Prometheus answers in ``metrics_dir``), or why they
    are missing; a query without a series in the window is named in ``metrics_error`` beside what was found."""
    if error is None:
        try:
            found = node_metrics(metrics_dir)
        except (PrometheusError, OSError) as exc:
            error = f"cannot read the saved Prometheus answers: {exc}"
        else:
            return sample.model_copy(
                update={
                    "node_metrics": found.per_node,
                    "metrics_error": f"metrics missing: {found.error}" if found.error else None,
                    "notes": [*sample.notes, *found.notes],
                }
            )
    return sample.model_copy(update={"metrics_error": f"metrics missing: {error}"})


# --------------------------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class Outcome:
    run_dir: Path
    results: RunResults
    notes: tuple[str, ...] = ()  # what the user should know after the summary (a cluster kept with --keep)
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


def _inventory() -> dict[str, Any]:
    return {
        "all": {
            "hosts": {
                "localhost": {
                    "ansible_connection": "local",
                    # interpreter discovery can pick a broken python here: use the one cnibench runs in
                    "ansible_python_interpreter": sys.executable,
                }
            }
        }
    }


def ansible_error(run_dir: Path) -> str | None:
    """Ansible's own complaint when no task failed (a broken inventory or vars file): its last [ERROR] line."""
    stdout = run_dir / "ansible" / "artifacts" / "playbook" / "stdout"
    try:
        lines = stdout.read_text(errors="replace").splitlines()
    except OSError:
        return None
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index].strip()
        if line.startswith(("[ERROR]:", "ERROR!")):
            message = line.split(":", 1)[1].strip() if line.startswith("[ERROR]") else line[6:].strip()
            following = [rest.strip() for rest in lines[index + 1 : index + 3] if rest.strip()]
            return "ansible-playbook: " + " ".join([message, *following])[:400]
    return None


def run_playbook(
    compiled: Compiled,
    *,
    run_dir: Path,
    handler: EventHandler,
    stop: StopController,
    prefix: str = "cnib0000",
) -> tuple[str, int | None]:
    """Run the playbook with ansible-runner; its output goes to ``run_dir/ansible``, never to the terminal."""
    vars_path = run_dir / "vars.json"
    vars_path.write_text(json.dumps(compiled.extravars, indent=2) + "\n", encoding="utf-8")
    private = run_dir / "ansible"
    private.mkdir(exist_ok=True)
    # ansible-runner records the whole environment of the playbook (cloud credentials such as ARM_CLIENT_SECRET
    # among it) in its artifacts: they go to a private directory and only the output and events are kept
    scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{prefix}-"))
    try:
        runner = _run_ansible(compiled, private=private, artifacts=scratch, run_dir=run_dir, handler=handler, stop=stop)
    finally:
        keep_artifacts(scratch / "playbook", private / "artifacts" / "playbook")
        shutil.rmtree(scratch, ignore_errors=True)
    return str(runner.status), runner.rc


#: ansible-runner's private artifact directories, named after the run (``clean`` removes those of killed runs).
SCRATCH_PREFIX = "cnibench-ansible-"


def remove_scratch(prefix: str) -> None:
    for path in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}{prefix}-*"):
        shutil.rmtree(path, ignore_errors=True)


#: What ansible-runner writes that is kept in the run directory (not ``command``: it holds the environment).
KEPT_ARTIFACTS = ("stdout", "stderr", "status", "rc", "job_events")


def keep_artifacts(source: Path, dest: Path) -> None:
    """Copy the artifacts worth keeping; the command line goes with only the environment's harmless names.

    Copied without their modes: ansible-runner creates its artifacts 0600, and a run directory's files are
    readable as the umask says, like every other file of the run."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in KEPT_ARTIFACTS:
        path = source / name
        if path.is_dir():
            (dest / name).mkdir(exist_ok=True)
            for item in path.iterdir():
                if item.is_file():
                    shutil.copyfile(item, dest / name / item.name)
        elif path.is_file():
            shutil.copyfile(path, dest / name)
    command = source / "command"
    try:
        data = json.loads(command.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    data["env"] = sorted(data.get("env") or {})  # the names only, never a value
    (dest / "command").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _run_ansible(
    compiled: Compiled, *, private: Path, artifacts: Path, run_dir: Path, handler: EventHandler, stop: StopController
) -> Any:
    import ansible_runner

    vars_path = run_dir / "vars.json"
    project = ansible_dir()
    bindir = str(Path(sys.executable).parent)
    return ansible_runner.run(
        private_data_dir=str(private),
        project_dir=str(project),
        playbook=f"playbooks/{compiled.playbook}",
        inventory=_inventory(),
        cmdline="-e " + shlex.quote(f"@{vars_path}"),
        envvars={
            "PATH": bindir + os.pathsep + os.environ.get("PATH", os.defpath),
            "ANSIBLE_CONFIG": str(project / "ansible.cfg"),
            "ANSIBLE_COLLECTIONS_PATH": str(project / "collections"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_LOG_PATH": str(run_dir / "ansible.log"),
        },
        settings={"pexpect_timeout": 0.2, "suppress_ansible_output": True},
        suppress_env_files=True,
        artifact_dir=str(artifacts),
        ident="playbook",
        quiet=True,
        event_handler=handler,
        cancel_callback=stop.cancel,
    )


def execute(
    spec: Spec,
    plan: Plan,
    *,
    results_dir: Path,
    progress_stream: Any = None,
    progress: bool | None = None,
    keep: bool = False,
) -> Outcome:
    """Run ``plan`` and return its outcome; raises only for problems found before anything was created.

    ``keep`` (Kubernetes platforms) leaves the clusters and what was deployed in place."""
    platform = get_platform(spec.platform, keep=keep)
    doctor.require(
        spec.platform,
        {t.scenario for t in plan.trials},
        spec.metrics.enabled,
        udp=spec.scenarios.egress is not None and spec.scenarios.egress.protocol == "udp",
        **kube_settings(spec),
    )
    shown_dir = results_dir
    results_dir = results_dir.resolve()  # Ansible runs from its project directory: only absolute paths
    become_subreaper()
    stop = StopController()
    with stop.installed():
        run_id, run_dir = new_run_dir(results_dir, spec.name)
        point_latest(results_dir, run_id)
        prefix = platform.reserve(run_dir, os.getpid())
        stop.on_playbook_pid = lambda pid: platform.note_playbook(prefix, pid)
        (run_dir / "spec.yaml").write_text(spec_to_yaml(spec), encoding="utf-8")
        environment = env_info.collect()
        environment["prefix"] = prefix
        if spec.on_kubernetes:
            kube_env = env_info.kube_tools(spec.platform)
            environment["tools"].update(kube_env["tools"])
            environment["images"] = kube_env["images"]
        if spec.metrics.enabled:
            environment["metrics"] = {
                "scrape_interval": spec.metrics.scrape_interval,
                "queries": expressions(
                    spec.metrics.interval_s, spec.kube.node_uplinks if spec.on_kubernetes else NETNS_UPLINKS
                ),
                "scope": KUBE_SCOPE if spec.on_kubernetes else NETNS_SCOPE,
            }
        (run_dir / "environment.json").write_text(json.dumps(environment, indent=2) + "\n", encoding="utf-8")
        recorder = Recorder(
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
        status: RunStatus = "failed"
        error: str | None = None
        bar: Progress | None = None
        try:
            stop.check()
            compiled = platform.compile(plan, run_dir=run_dir, prefix=prefix)
            compiled.write()
            bar = Progress(
                compiled.runs,
                stream=progress_stream,
                enabled=progress,
                priors=plan.priors,
                status_file=run_dir / PROGRESS_FILE,
            )
            bar.start()
            handler = EventHandler(
                runs=compiled.runs,
                run_dir=run_dir,
                recorder=recorder,
                progress=bar,
                stop=stop,
                facts=compiled.facts,
            )
            stop.check()
            runner_status, rc = run_playbook(compiled, run_dir=run_dir, handler=handler, stop=stop, prefix=prefix)
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
            if bar is not None:
                bar.close()
            # whatever Ansible left (workers orphaned by a forced cancel, daemons of killed modules) is ours
            terminate(descendants(os.getpid()))
            try:
                platform.cleanup(prefix)
            except CnibenchError as exc:
                status = "failed" if status == "complete" else status
                error = (error + "; " if error else "") + f"cleanup: {exc} (run `cnibench clean`)"
            results = recorder.finish(status, error)
            stop.release_terminal()  # a terminal lost under nohup sent no SIGHUP: the summary must not die of EIO
    return Outcome(
        run_dir=shown_dir / run_id,
        results=results,
        notes=tuple(getattr(platform, "notes", ())),
        signal=stop.signal_number if status == "interrupted" else None,
    )
