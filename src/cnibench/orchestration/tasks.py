"""The work of each module of the Ansible collection ``cnibench.bench``: ``params`` (the module's parameters) in, the
module's result out.

Every result says what it is (``kind``, one of :data:`KINDS`): the run's event handler recognises a measurement, a
cluster's facts or a ready Prometheus by that field, never by the shape of the result. The modules themselves are
thin (``module_utils/cnibench.py``: ``run_task(<name>, <argument spec>)``); everything here is typed and unit-tested.
Raises :class:`~cnibench.errors.CnibenchError` (the module turns it into ``fail_json``).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from cnibench.errors import CnibenchError, PlatformError

Params = dict[str, Any]
Result = dict[str, Any]
#: What a module's result is: a repetition's measurement, facts about a CNI's cluster, Prometheus scraping every
#: node, or something that was done (applied, started, removed, waited for).
Kind = Literal["measurement", "cluster_facts", "metrics_ready", "done"]
KINDS: tuple[Kind, ...] = ("measurement", "cluster_facts", "metrics_ready", "done")


def _done(changed: bool, **fields: Any) -> Result:
    return {"kind": "done", "changed": changed, **fields}


def _facts(cni: str, facts: dict[str, Any], *, changed: bool = False, **fields: Any) -> Result:
    return {"kind": "cluster_facts", "changed": changed, "cni": cni, "facts": facts, **fields}


# --------------------------------------------------------------------------------------------- netns


def netns_setup(params: Params) -> Result:
    """Set up (``state: present``) or remove part of a netns run in one step: apply its rendered ``bundles`` in
    order, start its ``daemons`` side by side, and with ``metrics`` wait until Prometheus has scraped every node
    since this step began. With ``cni`` (a cluster) the result is the CNI's cluster facts: its links' MTUs and how
    long Prometheus took to see the nodes. Removing takes the bundles in reverse order (daemons die with their
    namespaces)."""
    from cnibench import spawn
    from cnibench.metrics.prometheus import PrometheusUnreachable
    from cnibench.platforms.netns import ops
    from cnibench.platforms.netns.metrics import wait_targets

    began = time.time()
    state_file = Path(params["state_file"]) if params["state_file"] else None
    bundles = [Path(b) for b in params["bundles"]]
    present = params["state"] == "present"
    commands: list[str] = []
    for bundle in bundles if present else list(reversed(bundles)):
        commands += [" ".join(c) for c in ops.apply_bundle(bundle, present=present, state_file=state_file)]
    if not present:
        return _done(bool(commands), commands=commands)
    pids = spawn.start_daemons([spawn.Daemon(**{**d, "log": Path(d["log"])}) for d in params["daemons"]])
    facts: dict[str, Any] = {}
    if params["cni"]:
        # read while Prometheus's next scrape of the nodes is still to come: it does not wait for us
        facts["links"] = {k: v for b in bundles for k, v in ops.link_mtus(b).items()}
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
        return _facts(str(params["cni"]), facts, changed=True, commands=commands, pids=pids)
    return _done(True, commands=commands, pids=pids, **facts)


def netns_daemon(params: Params) -> Result:
    """Start one long-running server inside a namespace, owned by its PID (it outlives the task)."""
    from cnibench import spawn

    daemon = spawn.Daemon(
        params["name"], params["netns"], params["argv"], Path(params["log"]), params["listen_port"], params["timeout"]
    )
    return _done(True, pid=spawn.start_daemons([daemon])[0])


def netns_measure(params: Params) -> Result:
    """Every repetition of one netns cluster, loop after loop (``loops``: the cluster's scenarios, each with its
    ``runs`` in the plan's order), in one module call.

    One call per cluster rather than an Ansible loop item per repetition: an item costs Ansible about 0.3-0.65 s on
    a 2-core machine (a worker fork, the module shipped and started), which was a tenth of a default run's wall time.
    So that cnibench still records each repetition as it ends (progress, its metrics queried while the next one
    runs, finished repetitions kept when the run is stopped), every event is appended at once to ``stream``, a JSON
    lines file cnibench's event handler tails (:class:`cnibench.orchestration.stream.MeasurementStream`):
    ``{"event": "loop_started", "scenario": ...}`` before a loop's first repetition, ``{"event": "measured",
    "failed": bool, "res": <the repetition's measurement>}`` after each one.

    Each repetition: its ``bundles`` applied (an egress policy for this repetition only), the tool in its namespace
    with stdout to the raw artifact, the bundles removed again (always). A tool that fails is a failed repetition
    cnibench records, not a failed task. When ``stop_file`` exists (the run is stopping) the running tool is killed
    and nothing more runs; the repetition it interrupted is not reported.

    Raises :class:`~cnibench.errors.PlatformError` after the last repetition when a repetition could not be run
    at all (a bundle that did not apply): the playbook fails, as it should, with every other repetition recorded.
    """
    stop_file = Path(params["stop_file"])
    with _stream(Path(params["stream"])) as emit:
        measured, first_error, _ = _measure_loops(params["loops"], emit, stop_file)
    if first_error is not None:
        raise PlatformError(first_error)
    return _done(measured > 0, measured=measured, stopped=stop_file.exists())


#: The steps of a cluster in :func:`netns_clusters`, named as the playbook's tasks were when each was a task of its
#: own: cnibench's progress (:data:`cnibench.progress.CLUSTER_TASKS`) and failures ("<step>: <why>") use the names.
BUILD_STEP = "Build the netns cluster and start its servers"
DESTROY_STEP = "Destroy the netns cluster"


def netns_clusters(params: Params) -> Result:
    """Every cluster of a netns run (``clusters``, in the plan's order) in one module call: build it and start its
    servers, waiting until Prometheus has scraped every node (:func:`netns_setup`), run its repetitions
    (:func:`netns_measure`), wait for a scrape of every node after the last one ended if it needs one
    (``metrics.scrape_after_last``: a fixed load's CPU cost), destroy it (always).

    One call for the run rather than three tasks per cluster: each task cost Ansible 0.3-0.5 s and its module about
    0.6 s importing cnibench on a 2-core machine, most of the 3.7-4.6 s from the last measurement on one cluster to
    the first on the next. The steps still reach cnibench as the tasks did, on the measurement stream:
    ``{"event": "task_started", "task": <step>}`` and ``{"event": "task_result", "task": <step>, "failed": bool,
    "res": <its result, or {"msg": why}>, "duration": <s>}``; the event handler takes them for Ansible's events of a
    task of that name (the cluster's facts, the progress, the first failure's message).

    A cluster whose build fails is destroyed and the call fails with the build's reason; a repetition that could not
    be run fails it after the cluster's last repetition (:func:`netns_measure`). When ``stop_file`` exists (the run
    is stopping) the running tool is killed, the cluster destroyed and nothing more built.
    """
    stop_file = Path(params["stop_file"])
    built = measured = 0
    with _stream(Path(params["stream"])) as emit:
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
                _step(emit, BUILD_STEP, "netns_setup", functools.partial(netns_setup, {**setup, "state": "present"}))
                built += 1
                count, first_error, last_ended = _measure_loops(cluster["scenarios"], emit, stop_file)
                measured += count
                if last_ended is not None and not stop_file.exists():
                    _scraped_after(cluster["metrics"], last_ended)
            finally:
                _step(emit, DESTROY_STEP, "netns_setup", functools.partial(netns_setup, {**setup, "state": "absent"}))
            if first_error is not None:
                raise PlatformError(first_error)
    return _done(built > 0, clusters=built, measured=measured, stopped=stop_file.exists())


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


@contextlib.contextmanager
def _stream(path: Path) -> Iterator[Callable[[dict[str, Any]], None]]:
    """``emit(record)``: one JSON line appended to the measurement stream ``path`` and flushed at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:

        def emit(record: dict[str, Any]) -> None:
            out.write(json.dumps(record) + "\n")
            out.flush()

        yield emit


def _step(emit: Callable[[dict[str, Any]], None], name: str, function: str, work: Callable[[], Result]) -> Result:
    """Run one step of a cluster as if it were a playbook task called ``name`` (``function``: whose work it is,
    named in a failure's message as a module's would be): reported on the stream when it starts and when it ends,
    with its result or why it failed."""
    emit({"event": "task_started", "task": name, "at": time.time()})
    start = time.monotonic()
    try:
        result = work()
    except (CnibenchError, OSError) as exc:
        msg = str(exc) if isinstance(exc, CnibenchError) else f"{function}: {exc}"
        emit({"event": "task_result", "task": name, "failed": True, "res": {"msg": msg},
              "duration": time.monotonic() - start})  # fmt: skip
        raise
    emit({"event": "task_result", "task": name, "failed": False, "res": result, "duration": time.monotonic() - start})
    return result


def _measure_loops(
    loops: list[Params], emit: Callable[[dict[str, Any]], None], stop_file: Path
) -> tuple[int, str | None, float | None]:
    """A cluster's loops of repetitions, each repetition streamed as it ends (:func:`netns_measure`); how many ran
    to their end, the first repetition that could not be run at all (None: none), and when the last one that ran
    ended (Unix time; None: none ran)."""
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


# --------------------------------------------------------------------------------------------- Kubernetes


def kube_measure(params: Params) -> Result:
    """One repetition on a Kubernetes platform, run on this machine (kubectl exec into the client pod, or k6);
    ``@name@`` placeholders are filled with what only the run knows (the Gateway's address)."""
    from cnibench import direct, spawn
    from cnibench.platforms.kube import monitoring
    from cnibench.platforms.kube.kubectl import Kubectl, substitute

    argv = substitute(params["argv"], params["substitutions"])
    env = direct.no_proxy_env(substitute(params["no_proxy"], params["substitutions"]), dict(os.environ))
    result = spawn.exec_to_file(
        "", argv, output=Path(params["output"]), timeout=params["timeout"], env=env, unset_env=params["unset_env"]
    )
    out: Result = {
        "kind": "measurement",
        "changed": True,
        **result.as_module_result(params["output"]),
        "expect": params["expect"] or {},
    }
    if params["metrics"]:
        out["metrics_error"] = monitoring.fetch_metrics(
            Kubectl.from_params(params), params["metrics"], started_at=result.started_at, ended_at=result.ended_at
        )
    return out


def kube_cluster_info(params: Params) -> Result:
    """What the cluster is: its nodes, the CNI found (it must be the expected one), its version."""
    from cnibench.platforms.kube.cluster import cluster_info
    from cnibench.platforms.kube.kubectl import Kubectl

    info = cluster_info(
        Kubectl.from_params(params),
        expected_cni=params["expected_cni"],
        pick_gateway=params["pick_gateway_node"],
        preferred_gateway=params["preferred_gateway"],
        cni_gateway=params["cni_gateway"],
        cni_egress=params["cni_egress"],
        envoy_gateway=params["envoy_gateway"],
    )
    facts = info.pop("cluster_facts")
    return _facts(params["expected_cni"], facts, **info)


def kube_egress_ready(params: Params) -> Result:
    """Egress trials on Kubernetes: the baseline's or the policy's path, probed until the server sees the expected
    address; returns the run-time expectations (the source IP, egress_apply_s) for the trial's repetitions."""
    from cnibench.platforms.kube.kubectl import Kubectl
    from cnibench.platforms.kube.waits import egress_ready

    expect = egress_ready(
        Kubectl.from_params(params),
        mode=params["mode"],
        manifest=params["manifest"],
        pod=params["pod"],
        server_ip=params["server_ip"],
        port=params["port"],
        egress_ip=params["egress_ip"],
        gateway_node=params["gateway_node"],
        timeout=params["timeout"],
        stated_source=params["expected_source"],
    )
    return _done(params["mode"] == "policy", expect=expect)


def kube_wait(params: Params) -> Result:
    """Wait, with a deadline, for a Gateway's or Service's address, or for Prometheus to scrape every node."""
    from cnibench.platforms.kube import monitoring
    from cnibench.platforms.kube.kubectl import Kubectl
    from cnibench.platforms.kube.waits import wait_address

    kubectl = Kubectl.from_params(params)
    start = time.monotonic()
    if params["what"] == "address":
        address = wait_address(
            kubectl,
            params["kind"],
            params["name"],
            expected=params["expected"],
            timeout=params["timeout"],
            probe=params["probe"],
        )
        return _done(False, address=address, seconds=time.monotonic() - start)
    seconds = monitoring.wait_metrics(kubectl, params["metrics"])
    return {"kind": "metrics_ready", "changed": False, "cni": params["cni"], "seconds": seconds}


def kube_teardown(params: Params) -> Result:
    """Remove what a Kubernetes run created (cluster, containers, processes, releases, cnibench's objects)."""
    from cnibench.platforms.kube import teardown
    from cnibench.platforms.kube.kubectl import Kubectl

    removed = teardown.teardown(
        Kubectl.from_params(params),
        kind_cluster=params["kind_cluster"],
        containers=params["containers"],
        pids=params["pids"],
        helm_releases=params["helm_releases"],
    )
    return _done(bool(removed), removed=removed)


def kind_network(params: Params) -> Result:
    """kind's docker network must be the spec's node network (checked right after the cluster is created)."""
    from cnibench.platforms.kube.cluster import kind_network_check

    return _done(False, subnets=kind_network_check(params["cidr"]))


def kind_images(params: Params) -> Result:
    """Pull each pinned image once on this machine and load it into the cluster's nodes; the digests are facts."""
    from cnibench.platforms.kube import images

    digests = images.preload(params["cluster"], params["images"], Path(params["archive_dir"]))
    return _facts(params["cni"], {"image_digests": digests}, changed=bool(digests))


def aks_subscription(params: Params) -> Result:
    """The subscription the run bills, pinned once (its name only is returned, never its id)."""
    from cnibench.platforms.kube import azure

    subscription = azure.pin_subscription(Path(params["state_dir"]), params["subscription_id"])
    return _done(False, name=subscription.name, source=subscription.source)


def aks_kubeconfig(params: Params) -> Result:
    """The AKS cluster's kubeconfig out of Terraform's state into a private file (never returned)."""
    from cnibench.platforms.kube import azure

    azure.write_kubeconfig(params["project_path"], params["dest"])
    return _done(True, dest=params["dest"])
