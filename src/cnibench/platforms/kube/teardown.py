"""Removing what a Kubernetes run created: the playbook's teardown (its ``always`` block), and the parts the
platforms' cleanup after a run or a crash (``cnibench clean``) use. Only what carries the run's prefix or cnibench's
label is touched."""

from __future__ import annotations

from pathlib import Path

from cnibench.errors import PlatformError
from cnibench.platforms.kube.cnis import CNIS
from cnibench.platforms.kube.kubectl import Kubectl, existing, managed_by_cnibench
from cnibench.platforms.kube.render import GATEWAY_NODE_LABEL, MANAGED_BY
from cnibench.proc import CommandError, run, tool_path


def cluster_kinds() -> tuple[str, ...]:
    """Cluster-wide kinds cnibench may create (the namespace holds the rest): GatewayClasses and what each CNI's
    descriptor declares (its egress policy objects)."""
    kinds = ["gatewayclasses.gateway.networking.k8s.io"]
    for cni in CNIS.values():
        kinds += [kind for kind in cni.cluster_kinds if kind not in kinds]
    return tuple(kinds)


def kind_clusters(prefix: str) -> list[str]:
    """kind clusters named after the run's prefix."""
    kind = tool_path("kind")
    if kind is None:
        return []
    out = run([kind, "get", "clusters"], timeout=60).stdout
    return [name for name in out.split() if name.startswith(f"{prefix}-")]


def containers(prefix: str) -> list[str]:
    """The run's containers (kind's nodes and the external servers are named after its prefix)."""
    return [name for name in all_containers() if name.startswith(f"{prefix}-")]


def all_containers() -> list[str]:
    docker = tool_path("docker")
    if docker is None:
        return []
    try:
        out = run([docker, "ps", "--all", "--format", "{{.Names}}"], timeout=60).stdout
    except CommandError as exc:
        if "Cannot connect to the Docker daemon" in exc.stderr:
            return []  # no daemon: nothing can have been created
        raise
    return out.split()


def remove_kind(prefix: str, *, keep_cluster: str | None = None) -> list[str]:
    """Delete the run's kind clusters (kind removes their node containers and volumes), then the external
    containers; ``keep_cluster`` and its server container stay. Returns what was removed."""
    removed: list[str] = []
    for name in kind_clusters(prefix):
        if name == keep_cluster:
            continue
        run([tool_path("kind") or "kind", "delete", "cluster", "--name", name], timeout=600)
        removed.append(f"kind cluster {name}")
    for name in containers(prefix):
        if keep_cluster is not None and name.startswith(f"{keep_cluster}-"):
            continue
        run([tool_path("docker") or "docker", "rm", "--force", "--volumes", name], timeout=120)
        removed.append(f"container {name}")
    return removed


def remove_from_cluster(kubectl: Kubectl) -> list[str]:
    """kubeconfig platform: the namespace (first: its Gateway must go while its controller still runs, or the
    GatewayClass's finalizer never clears), then cnibench's cluster-wide objects and the gateway label; nothing
    else."""
    label = ",".join(f"{k}={v}" for k, v in MANAGED_BY.items())
    removed: list[str] = []
    namespace = existing(kubectl, "namespace", kubectl.namespace)
    if namespace is not None and managed_by_cnibench(namespace):  # never a namespace cnibench did not create
        out = run(kubectl.argv("delete", "namespace", kubectl.namespace, "--wait=true", namespaced=False), timeout=600)
        removed += [line for line in out.stdout.splitlines() if line.strip()]
    for kind in cluster_kinds():
        try:
            out = run(kubectl.argv("delete", kind, "-l", label, "--ignore-not-found", namespaced=False), timeout=120)
        except CommandError as exc:
            if "the server doesn't have a resource type" in exc.stderr:
                continue  # that CRD is not installed: nothing of ours can exist
            raise
        removed += [line for line in out.stdout.splitlines() if line.strip()]
    run(kubectl.argv("label", "nodes", "--all", f"{GATEWAY_NODE_LABEL}-", namespaced=False), timeout=120)
    return removed


def teardown(
    kubectl: Kubectl,
    *,
    kind_cluster: str | None,
    containers: list[str],
    pids: list[int],
    helm_releases: list[dict[str, str]] | None = None,
) -> list[str]:
    """The playbook's teardown: every step is tried, the first failure is raised after the others ran."""
    from cnibench.proc import terminate

    removed: list[str] = []
    errors: list[str] = []
    if pids:
        terminate(pids)
        removed += [f"process {pid}" for pid in pids]
    docker = tool_path("docker") or "docker"
    try:
        present = set(all_containers()) & set(containers)
    except CommandError as exc:
        errors.append(str(exc))
        present = set()
    for name in sorted(present):
        try:
            run([docker, "rm", "--force", "--volumes", name], timeout=120)
            removed.append(f"container {name}")
        except CommandError as exc:
            errors.append(str(exc))
    try:
        if kind_cluster is not None:
            if kind_cluster in kind_clusters(kind_cluster.split("-", 1)[0]):
                run([tool_path("kind") or "kind", "delete", "cluster", "--name", kind_cluster], timeout=600)
                removed.append(f"kind cluster {kind_cluster}")
        else:
            removed += remove_from_cluster(kubectl)
    except CommandError as exc:
        errors.append(str(exc))
    # what cnibench installed on an existing cluster goes last: its controller finalizes the Gateway objects
    for release in helm_releases or []:
        argv = ["helm", "uninstall", release["name"], "--namespace", release["namespace"], "--wait"]
        argv += ["--kubeconfig", kubectl.kubeconfig] if kubectl.kubeconfig else []
        argv += ["--kube-context", kubectl.context] if kubectl.context else []
        try:
            run([tool_path("helm") or "helm", *argv], timeout=600)
            removed.append(f"helm release {release['namespace']}/{release['name']}")
        except CommandError as exc:
            errors.append(str(exc))
    if errors:
        raise PlatformError("; ".join(errors))
    return removed


def kubectl_of_run(run_dir: str | None) -> Kubectl:
    """kubectl for the cluster of a kubeconfig run, from the spec stored in its run directory."""
    from cnibench.platforms.kube.settings import kube_settings
    from cnibench.spec.load import load_spec

    if not run_dir or not (Path(run_dir) / "spec.yaml").exists():
        raise PlatformError("its run directory (with spec.yaml) is gone: delete namespace cnibench by hand")
    spec, _ = load_spec(Path(run_dir) / "spec.yaml")
    kube = kube_settings(spec)
    return Kubectl(str(Path(kube.kubeconfig).expanduser()) if kube.kubeconfig else None, kube.context, kube.namespace)
