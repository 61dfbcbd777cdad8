"""The work of each module of the Ansible collection ``cnibench.bench``: ``params`` (the module's parameters) in, the
module's result out.

Every result says what it is (``kind``, one of :data:`KINDS`): the run's event handler recognises a measurement, a
cluster's facts or a ready Prometheus by that field, never by the shape of the result. The modules themselves are
thin (``module_utils/cnibench.py``: ``run_task(<name>, <argument spec>)``); everything here is typed and unit-tested.
Raises :class:`~cnibench.errors.CnibenchError` (the module turns it into ``fail_json``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Literal

from cnibench.errors import PlatformError

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


def netns_bundle(params: Params) -> Result:
    """Apply (``state: present``) or remove a rendered bundle; a cluster's bundle returns its links' MTUs as the
    CNI's cluster facts."""
    from cnibench.platforms.netns import ops

    bundle = Path(params["bundle"])
    present = params["state"] == "present"
    state_file = Path(params["state_file"]) if params["state_file"] else None
    commands = [" ".join(c) for c in ops.apply_bundle(bundle, present=present, state_file=state_file)]
    if present and params.get("cni"):
        return _facts(str(params["cni"]), {"links": ops.link_mtus(bundle)}, changed=True, commands=commands)
    return _done(True, bundle=str(bundle), commands=commands)


def netns_daemon(params: Params) -> Result:
    """Start a long-running server inside a namespace, owned by its PID (it outlives the task)."""
    from cnibench import spawn

    try:
        pid = spawn.start_daemon(
            params["netns"],
            params["argv"],
            log=Path(params["log"]),
            listen_port=params["listen_port"],
            timeout=params["timeout"],
        )
    except PlatformError as exc:
        raise PlatformError(f"{params['name']}: {exc}") from None
    return _done(True, pid=pid)


def netns_exec(params: Params) -> Result:
    """One repetition on the netns platform: the tool in its namespace, stdout to the raw artifact, then the
    metrics window; a tool that fails is a failed repetition cnibench records, not a failed task."""
    from cnibench import spawn
    from cnibench.platforms.netns import metrics as netns_metrics

    result = spawn.exec_to_file(
        params["netns"],
        params["argv"],
        output=Path(params["output"]),
        timeout=params["timeout"],
        unset_env=params["unset_env"],
    )
    out: Result = {"kind": "measurement", "changed": True, **result.as_module_result(params["output"])}
    if params["metrics"]:
        out["metrics_error"] = netns_metrics.fetch_metrics(
            params["metrics"], started_at=result.started_at, ended_at=result.ended_at
        )
    return out


def prometheus_ready(params: Params) -> Result:
    """Wait until Prometheus (in its namespace) scrapes every node's node_exporter; the seconds it took."""
    from cnibench.platforms.netns import metrics as netns_metrics

    answer = netns_metrics.metrics_in_netns(
        params["netns"],
        ["wait", "--url", params["url"], "--targets", str(params["targets"]), "--timeout", str(params["timeout"])],
        timeout=params["timeout"] + 15,
    )
    if "error" in answer:
        raise PlatformError(f"{answer['error']} (Prometheus at {params['url']})")
    return {"kind": "metrics_ready", "changed": False, "cni": params["cni"], "seconds": answer.get("seconds")}


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
