"""The kubeconfig platform: an existing cluster with its CNI installed. cnibench detects the CNI (it must be the
one the spec names), works in its own namespace, installs only what is missing and deletes only what it created; the
external iperf3 server runs on this machine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from cnibench.doctor import Check, tool_output
from cnibench.platforms import PLATFORMS
from cnibench.platforms.kube.base import KubePlatform
from cnibench.platforms.kube.build import ClusterBuild, ExternalServer
from cnibench.platforms.kube.prerequisites import HINTS
from cnibench.platforms.kube.settings import kube_settings
from cnibench.platforms.kube.teardown import kubectl_of_run, remove_from_cluster
from cnibench.proc import tool_path
from cnibench.spec.base import FieldError

if TYPE_CHECKING:
    from cnibench.spec.model import Spec


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


class KubeconfigPlatform(KubePlatform):
    name: ClassVar[str] = "kubeconfig"
    description: ClassVar[str] = "an existing cluster your kubeconfig points at, with its CNI installed"
    cluster_s: ClassVar[float] = 150.0  # only cnibench's own objects
    teardown_s: ClassVar[float] = 30.0  # delete cnibench's objects
    existing_cluster: ClassVar[bool] = True
    load_balancer_assigns: ClassVar[str | None] = "the cluster's load balancer"
    external_server_where: ClassVar[str] = "on this machine"
    external_server_here: ClassVar[bool] = True
    leftover_what: ClassVar[str] = "its namespace and cluster-wide objects"
    measured_notes: ClassVar[tuple[str, ...]] = (
        "k6 and the external iperf3 server run on this machine: the path between it and the cluster (its network, "
        "a NAT, a VPN) is part of every ingress and egress figure; CPU figures are the nodes' own",
    )

    @classmethod
    def check_platform(cls, spec: Spec) -> None:
        if len(spec.cni_names) != 1:
            raise FieldError(
                ("cnis",), "kubeconfig runs on one existing cluster: name the one CNI it has (cnibench verifies it)"
            )

    @classmethod
    def cluster_checks(cls, spec: Spec | None) -> list[Check]:
        kube = kube_settings(spec) if spec is not None else None
        return [check_cluster(kube.kubeconfig if kube else None, kube.context if kube else None)]

    def create_cluster(self, build: ClusterBuild, images: list[list[str]]) -> None:
        kube, v = build.kube, build.vars
        v["cluster"] = None
        v["kubeconfig"] = str(Path(kube.kubeconfig).expanduser()) if kube.kubeconfig else None
        v["context"] = kube.context
        v["create"] = None
        where = f"kubeconfig {kube.kubeconfig or '$KUBECONFIG or ~/.kube/config'}" + (
            f", context {kube.context}" if kube.context else ", current context"
        )
        variant = (
            f" (variant {build.cni.name}: an existing cluster's CNI is not reconfigured, its settings are not applied; "
            "what can be read back, such as its encryption, is checked)"
            if build.cni.name != build.cni.base
            else ""
        )
        build.steps.append(
            f"use the existing cluster ({where}); detect its CNI and version and require {build.cni.base}{variant}; "
            "nothing is installed or deleted outside what cnibench creates"
        )

    def end_cluster(self, build: ClusterBuild, *, keep: bool) -> tuple[dict[str, str], str | None]:
        build.vars["teardown"] = build.role("teardown", kind_cluster=None)
        # and what the scenarios leave outside the namespace, which their roles' teardown removes
        outside = "".join(f", {words}" for words in build.outside_namespace)
        build.steps.append(
            f"delete namespace {build.kube.namespace} and the cluster-wide objects cnibench created{outside}"
            + (" (unless --keep)" if not self.keep else "; --keep: leave them")
        )
        return {"cni": build.cni.name}, None

    def external_server(self, build: ClusterBuild, server: ExternalServer) -> tuple[dict[str, Any], str]:
        """A process on this machine, bound to the server's address (one of this machine's that the nodes can
        reach), owned by its PID."""
        name = f"{server.tool}-server"
        variables = {
            "kind": "process",
            "name": name,
            "argv": server.argv(server.ip),
            "log": str(build.run_dir / "logs" / build.cni.name / f"{name}.log"),
            "port": server.port,
        }
        return variables, f"this machine at {server.ip} ({server.shown})"

    @classmethod
    def remove_run(cls, prefix: str, directory: Path, run_dir: str | None, *, kept: dict[str, str] | None) -> list[str]:
        """A gateway node egress-change failed and could not bring back (the run was killed: the undo it noted in
        the run's state directory), then cnibench's namespace, its cluster-wide objects and its node label (nothing
        with ``--keep``)."""
        if kept is not None:
            return []
        from cnibench.platforms.kube.scenarios._egress_change_run import undo_noted

        undone = [f"undid {path.name}" for path in sorted((directory / prefix).glob("egress-change-*.json"))
                  if undo_noted(path)]  # fmt: skip
        return undone + remove_from_cluster(kubectl_of_run(run_dir))


PLATFORMS.register(KubeconfigPlatform.name, KubeconfigPlatform)
