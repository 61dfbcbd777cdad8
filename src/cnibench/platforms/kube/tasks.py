"""The Kubernetes platforms' Ansible tasks (:mod:`cnibench.orchestration.tasks`), registered in
:data:`cnibench.platforms.TASKS` under their modules' names: ``kube_*`` for every Kubernetes platform, ``kind_*`` and
``aks_*`` for one. Each imports what it needs when it runs: a module call imports no more of cnibench than its own
work."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from cnibench.orchestration.tasks import Params, Result, cluster_facts, done
from cnibench.platforms import TASKS


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
    return cluster_facts(params["expected_cni"], facts, **info)


def kube_encryption(params: Params) -> Result:
    """The encryption variant ``variant`` of CNI ``cni`` asked for (``requested``), read back from its agents until
    it is active or ``timeout`` seconds passed: its cluster facts (what is wrong is recorded and warned about, not a
    failure)."""
    from cnibench.platforms.kube.cluster import cni_namespace
    from cnibench.platforms.kube.cnis import CNIS
    from cnibench.platforms.kube.encryption import read_encryption
    from cnibench.platforms.kube.kubectl import Kubectl

    kubectl = Kubectl.from_params(params)
    cni = CNIS.get(params["cni"])
    namespace = cni_namespace(kubectl.json("get", "daemonsets", "--all-namespaces", namespaced=False), cni.name)
    nodes = len(kubectl.json("get", "nodes", namespaced=False).get("items", []))
    facts = read_encryption(
        lambda: cni.encryption_seen(kubectl, namespace) or [], params["requested"], nodes, timeout=params["timeout"]
    )
    return cluster_facts(params["variant"], facts)


def kube_key_secret(params: Params) -> Result:
    """A Secret with a key generated now (``secret``: :meth:`~cnibench.platforms.kube.encryption.KeySecret.to_vars`),
    applied through kubectl's standard input; the result names it, never the key."""
    from cnibench.platforms.kube.encryption import KeySecret, apply_key_secret
    from cnibench.platforms.kube.kubectl import Kubectl

    secret = KeySecret(**{**params["secret"], "random_bytes": int(params["secret"]["random_bytes"])}, source="")
    apply_key_secret(Kubectl.from_params(params), secret)
    return done(True, name=secret.name, namespace=secret.namespace)


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
    return done(params["mode"] == "policy", expect=expect)


def kube_egress_change(params: Params) -> Result:
    """The egress-change role's steps around its trials (the events themselves are the repetitions' driver):
    ``prepare`` labels the two gateway nodes (returns them, and as ``gateway_nodes_arg`` the driver's argument);
    ``clear`` undoes a trial (a failure the driver could not undo, the new pod, the policy); ``restore`` clears and
    removes the gateway labels."""
    import json

    from cnibench.platforms.kube.scenarios import _egress_change_run as driver

    config = json.loads(Path(params["config"]).read_text(encoding="utf-8"))
    if params["action"] == "prepare":
        gateways = driver.prepare(config)
        return done(True, gateway_nodes=gateways, gateway_nodes_arg=",".join(gateways))
    restore = params["action"] == "restore"
    cleared = driver.clear(config, params["gateway_nodes"] if restore else None)
    return done(bool(cleared), cleared=cleared)


def kube_policy(params: Params) -> Result:
    """Network-policy trials on Kubernetes: a policy size's NetworkPolicy objects applied (server-side) or deleted,
    and the probes until the datapath says so; ``apply`` returns the repetitions' run-time expectations
    (``policy_enforced_s``)."""
    from cnibench.platforms.kube.kubectl import Kubectl
    from cnibench.platforms.kube.policy_probe import Probe, apply_policy, delete_policy

    kubectl = Kubectl.from_params(params)
    probes = [Probe(p["pod"], int(p["port"]), bool(p["allowed"])) for p in params["probes"]]
    common = {"server": params["server"], "probes": probes, "timeout": params["timeout"], "rules": params["rules"]}
    if params["action"] == "apply":
        expect = apply_policy(kubectl, manifest=params["manifest"], **common)
        return done(params["manifest"] is not None, expect=expect)
    seconds = delete_policy(kubectl, manifest=params["manifest"], **common)
    return done(True, seconds=round(seconds, 3))


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
        return done(False, address=address, seconds=time.monotonic() - start)
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
    return done(bool(removed), removed=removed)


def kind_network(params: Params) -> Result:
    """kind's docker network must be the spec's node network (checked right after the cluster is created)."""
    from cnibench.platforms.kube.cluster import kind_network_check

    return done(False, subnets=kind_network_check(params["cidr"]))


def kind_images(params: Params) -> Result:
    """Pull each pinned image once on this machine (build cnibench's own) and load it into the cluster's nodes; the
    digests and the built images' IDs are facts."""
    from cnibench.platforms.kube import images

    loaded = images.preload(params["cluster"], params["images"], Path(params["archive_dir"]))
    facts: dict[str, Any] = {"image_digests": loaded.digests}
    if loaded.built:
        facts["built_image_ids"] = loaded.built
    return cluster_facts(params["cni"], facts, changed=bool(loaded.digests))


def aks_subscription(params: Params) -> Result:
    """The subscription the run bills, pinned once (its name only is returned, never its id)."""
    from cnibench.platforms.kube import azure

    subscription = azure.pin_subscription(Path(params["state_dir"]), params["subscription_id"])
    return done(False, name=subscription.name, source=subscription.source)


def aks_kubeconfig(params: Params) -> Result:
    """The AKS cluster's kubeconfig out of Terraform's state into a private file (never returned)."""
    from cnibench.platforms.kube import azure

    azure.write_kubeconfig(params["project_path"], params["dest"])
    return done(True, dest=params["dest"])


for _task in (
    kube_measure, kube_cluster_info, kube_encryption, kube_key_secret, kube_egress_ready, kube_egress_change,
    kube_policy, kube_wait, kube_teardown,
    kind_network, kind_images, aks_subscription, aks_kubeconfig,
):  # fmt: skip
    TASKS.register(_task.__name__, _task)
