"""The netns platform's Ansible tasks (:mod:`cnibench.orchestration.tasks`), registered in
:data:`cnibench.platforms.TASKS` under their modules' names: ``netns_setup``, ``netns_daemon``, ``netns_clusters``.
Each imports what it needs when it runs: a module call imports no more of cnibench than its own work."""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cnibench.errors import PlatformError
from cnibench.orchestration.stream import Emit, appending, step
from cnibench.orchestration.tasks import Params, Result, cluster_facts, done
from cnibench.platforms import TASKS

#: The steps of a cluster in :func:`netns_clusters`, named as the playbook's tasks were when each was a task of its
#: own: cnibench's progress (:data:`cnibench.progress.CLUSTER_TASKS`) and failures ("<step>: <why>") use the names.
BUILD_STEP = "Build the netns cluster and start its servers"
DESTROY_STEP = "Destroy the netns cluster"


def netns_setup(params: Params) -> Result:
    """Set up (``state: present``) or remove part of a netns run in one step: apply its rendered ``bundles`` in
    order, start its ``daemons`` side by side, and with ``metrics`` wait until Prometheus has scraped every node
    since this step began. With ``cni`` (a cluster) the result is the CNI's cluster facts: its links' MTUs and how
    long Prometheus took to see the nodes. Removing takes the bundles in reverse order (daemons die with their
    namespaces)."""
    from cnibench import spawn
    from cnibench.metrics.prometheus import PrometheusUnreachable
    from cnibench.platforms.netns import effective, ops
    from cnibench.platforms.netns.metrics import wait_targets

    began = time.time()
    state_file = Path(params["state_file"]) if params["state_file"] else None
    bundles = [Path(b) for b in params["bundles"]]
    present = params["state"] == "present"
    commands: list[str] = []
    for bundle in bundles if present else list(reversed(bundles)):
        commands += [" ".join(c) for c in ops.apply_bundle(bundle, present=present, state_file=state_file)]
    if not present:
        return done(bool(commands), commands=commands)
    pids = spawn.start_daemons([spawn.Daemon(**{**d, "log": Path(d["log"])}) for d in params["daemons"]])
    facts: dict[str, Any] = {}
    if params["cni"]:
        # read while Prometheus's next scrape of the nodes is still to come: it does not wait for us
        facts["links"] = {k: v for b in bundles for k, v in ops.link_mtus(b).items()}
        # the effective configuration (offloads) and what is wrong with it, before the first measurement
        facts.update(effective.read_back(bundles[0], facts["links"]))
    metrics = params["metrics"]
    if metrics:
        try:
            facts["metrics_targets_up_s"] = wait_targets(
                metrics["netns"], metrics["url"], int(metrics["targets"]), since=began,
                timeout=float(metrics["timeout"]),
            )  # fmt: skip
        except PrometheusUnreachable as exc:
            # the run's one Prometheus died in an earlier cluster: the run goes on, its samples say metrics missing
            facts["metrics_error"] = str(exc)
    if params["cni"]:
        return cluster_facts(str(params["cni"]), facts, changed=True, commands=commands, pids=pids)
    return done(True, commands=commands, pids=pids, **facts)


def netns_daemon(params: Params) -> Result:
    """Start one long-running server inside a namespace, owned by its PID (it outlives the task)."""
    from cnibench import spawn

    daemon = spawn.Daemon(
        params["name"], params["netns"], params["argv"], Path(params["log"]), params["listen_port"], params["timeout"]
    )
    return done(True, pid=spawn.start_daemons([daemon])[0])


def netns_clusters(params: Params) -> Result:
    """Every cluster of a netns run (``clusters``, in the plan's order) in one module call: build it and start its
    servers, waiting until Prometheus has scraped every node (:func:`netns_setup`), run its repetitions
    (:func:`measure_loops`), wait for a scrape of every node after the last one ended if it needs one
    (``metrics.scrape_after_last``: a fixed load's CPU cost), destroy it (always).

    One call for the run rather than three tasks per cluster: each task cost Ansible 0.3-0.5 s and its module about
    0.6 s importing cnibench on a 2-core machine, most of the 3.7-4.6 s from the last measurement on one cluster to
    the first on the next. The steps still reach cnibench as the tasks did, on the measurement stream
    (:mod:`cnibench.orchestration.stream`: ``task_started`` and ``task_result`` of :data:`BUILD_STEP` and
    :data:`DESTROY_STEP`, ``loop_started`` and ``measured`` for the repetitions); the event handler takes them for
    Ansible's events of a task of that name (the cluster's facts, the progress, the first failure's message).

    A cluster whose build fails is destroyed and the call fails with the build's reason; a repetition that could not
    be run fails it (PlatformError) after the cluster's last repetition. When ``stop_file`` exists (the run is
    stopping) the running tool is killed, the cluster destroyed and nothing more built.
    """
    stop_file = Path(params["stop_file"])
    built = measured = 0
    with appending(Path(params["stream"])) as emit:
        for cluster in params["clusters"]:
            if stop_file.exists():
                break
            setup: Params = {
                "bundles": cluster["bundles"],
                "daemons": cluster["daemons"],
                "metrics": cluster["metrics"],
                "state_file": params["state_file"],
                "cni": cluster["cni"],
            }
            first_error: str | None = None
            try:
                step(emit, BUILD_STEP, "netns_setup", functools.partial(netns_setup, {**setup, "state": "present"}))
                built += 1
                count, first_error, last_ended = measure_loops(cluster["scenarios"], emit, stop_file)
                measured += count
                if last_ended is not None and not stop_file.exists():
                    _scraped_after(cluster["metrics"], last_ended)
            finally:
                step(emit, DESTROY_STEP, "netns_setup", functools.partial(netns_setup, {**setup, "state": "absent"}))
            if first_error is not None:
                raise PlatformError(first_error)
    return done(built > 0, clusters=built, measured=measured, stopped=stop_file.exists())


def _scraped_after(metrics: Params | None, ended: float) -> None:
    """Before a cluster goes: wait until Prometheus has scraped every node after its last repetition ``ended`` (Unix
    time), when that repetition needs it (``scrape_after_last``: a fixed load's CPU cost brackets its window with
    counters; the other repetitions get their scrape while the next one runs). With one module call running every
    cluster, the teardown now follows the last measurement at once, where Ansible's next task used to take a second.
    A Prometheus that does not answer, or nodes not scraped in time, leave the repetition's metrics to say so."""
    from cnibench.metrics.prometheus import PrometheusError
    from cnibench.platforms.netns.metrics import wait_targets

    if not metrics or not metrics.get("scrape_after_last"):
        return
    with contextlib.suppress(PrometheusError):
        wait_targets(
            metrics["netns"], metrics["url"], int(metrics["targets"]), since=ended, timeout=float(metrics["timeout"])
        )


def measure_loops(loops: list[Params], emit: Emit, stop_file: Path) -> tuple[int, str | None, float | None]:
    """A cluster's repetitions, loop after loop (``loops``: the cluster's scenarios, each with its ``runs`` in the
    plan's order), each streamed as it ends so that cnibench records it at once (progress, its metrics queried while
    the next one runs, finished repetitions kept when the run is stopped): ``loop_started`` before a loop's first
    repetition, ``measured`` after each one.

    Each repetition: its ``bundles`` applied (an egress policy for this repetition only), the tool in its namespace
    with stdout to the raw artifact, the bundles removed again (always). A tool that fails is a failed repetition
    cnibench records, not a failed task; a repetition that cannot be run at all (a bundle that does not apply) is a
    failed record too, and the first one is returned ("<label>: <why>") for the caller to fail with after the last
    repetition. When ``stop_file`` exists (the run is stopping) the running tool is killed and nothing more runs;
    the repetition it interrupted is not reported.

    Returns how many repetitions ran to their end, the first that could not be run (None: none), and when the last
    one that ran ended (Unix time; None: none ran).
    """
    first_error: str | None = None
    measured = 0
    last_ended: float | None = None
    for loop in loops:
        if stop_file.exists():
            break
        emit({"event": "loop_started", "scenario": loop["scenario"], "cni": loop["cni"], "at": time.time()})
        for run in loop["runs"]:
            if stop_file.exists():
                break
            try:
                res = _measure_one(run, cancel=stop_file.exists)
            except (PlatformError, OSError) as exc:  # a bundle that does not apply, a tool that cannot start
                first_error = first_error or f"{run['label']}: {exc}"
                failed = {"kind": "measurement", "output": run["stdout"], "msg": str(exc)}
                emit({"event": "measured", "failed": True, "res": failed})
                continue
            if res is None:  # cancelled: the run is stopping
                break
            measured += 1
            last_ended = res["ended_at"]
            emit({"event": "measured", "failed": False, "res": res})
    return measured, first_error, last_ended


def _measure_one(run: Params, *, cancel: Callable[[], bool]) -> Result | None:
    """One repetition (an item of a loop's ``runs``); None when ``cancel`` stopped it."""
    from cnibench import spawn
    from cnibench.platforms.netns import ops

    bundles = [Path(b) for b in run["bundles"]]
    for index, bundle in enumerate(bundles):
        try:
            ops.apply_bundle(bundle, present=True)
        except PlatformError:
            for applied in reversed(bundles[:index]):
                ops.apply_bundle(applied, present=False)
            raise
    try:
        result = spawn.exec_to_file(
            run["netns"],
            run["argv"],
            output=Path(run["stdout"]),
            timeout=float(run["timeout"]),
            unset_env=run["unset_env"],
            cancel=cancel,
        )
    finally:
        for bundle in reversed(bundles):
            ops.apply_bundle(bundle, present=False)
    if result.cancelled:
        return None
    return {"kind": "measurement", "changed": True, **result.as_module_result(run["stdout"])}


for _task in (netns_setup, netns_daemon, netns_clusters):
    TASKS.register(_task.__name__, _task)
