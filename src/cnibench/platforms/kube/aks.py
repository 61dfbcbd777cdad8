"""The aks platform: an AKS cluster per CNI by Terraform (``network_plugin = "none"``: bring your own CNI) behind
Azure's standard LoadBalancer, destroyed after its trials. It costs money: ``run`` says what it creates and asks
first."""

from __future__ import annotations

import json
import os
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TextIO

from cnibench.doctor import Check, check_collection, check_tool, check_versioned
from cnibench.errors import PrerequisiteError
from cnibench.platforms import PLATFORMS
from cnibench.platforms.kube.azure import destroy_run
from cnibench.platforms.kube.base import KubePlatform
from cnibench.platforms.kube.cnis.base import AksValues
from cnibench.platforms.kube.settings import (
    AKS_RESERVED,
    AksSettings,
    KubernetesSettings,
    aks_settings,
    vm_generation_note,
)
from cnibench.spec.base import FieldError

if TYPE_CHECKING:
    from cnibench.plan import Plan
    from cnibench.platforms.kube.build import ClusterBuild
    from cnibench.platforms.kube.cnis.base import Cni
    from cnibench.platforms.kube.settings import KubernetesSettingsBase
    from cnibench.spec.model import Spec

#: The Terraform module of the aks platform, shipped in the package (copied into a private working directory).
AKS_MODULE = Path(str(resources.files("cnibench") / "terraform" / "aks"))


def aks_tfvars(spec: Spec, infix: str) -> dict[str, Any]:
    """terraform.tfvars.json for one CNI's cluster: every key is a variable of terraform/aks (a test checks it)."""
    aks = aks_settings(spec)
    return {
        "resource_group_location": aks.location,
        "common_infix": infix,
        "vm_type": aks.vm_type,
        "node_count": aks.node_count,
        "username": aks.username,
    }


# ---- what AKS needs on this machine ------------------------------------------------------------------------------
TERRAFORM_HINT = "install Terraform 1.5 or newer: https://developer.hashicorp.com/terraform/install"
AZ_HINT = "install the Azure CLI (https://learn.microsoft.com/cli/azure/install-azure-cli), then `az login`"


def check_terraform() -> Check:
    """Terraform 1.5 or newer (the AKS module's)."""
    return check_versioned("terraform", ["terraform", "version"], TERRAFORM_HINT, minimum=(1, 5))


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


def aks_checks(subscription_id: str | None) -> list[Check]:
    """aks: Terraform, the Azure CLI (unless the subscription is given), the subscription billed, and the
    community.general collection (its terraform module)."""
    given = bool(os.environ.get("ARM_SUBSCRIPTION_ID")) or subscription_id is not None
    return [
        check_terraform(),
        Check("az (Azure CLI)", True, "not needed: the subscription is given")
        if given
        else check_tool("az", AZ_HINT, what="az (Azure CLI)"),
        check_subscription(subscription_id),
        check_collection("community.general"),
    ]


class AksPlatform(KubePlatform):
    name: ClassVar[str] = "aks"
    description: ClassVar[str] = "an AKS cluster per CNI by Terraform (bring your own CNI); it costs money"
    sections: ClassVar[dict[str, type[Any]]] = {"kubernetes": KubernetesSettings, "aks": AksSettings}
    cluster_s: ClassVar[float] = 1500.0  # create and destroy take minutes each
    teardown_s: ClassVar[float] = 600.0  # terraform destroy
    no_kube_proxy_replacement: ClassVar[str | None] = (
        "the clusters cnibench's Terraform module creates keep AKS's kube-proxy (disabling it is an AKS preview, "
        "KubeProxyConfigurationPreview, that azurerm does not configure)"
    )
    load_balancer_assigns: ClassVar[str | None] = "Azure's LoadBalancer"
    no_external_server: ClassVar[str | None] = (
        "the thesis runs the ingress scenario on AKS, and cnibench has no external iperf3 server there (use kind, "
        "or kubeconfig with a server you can reach)"
    )
    recorded_tools: ClassVar[dict[str, list[str]]] = {"terraform": ["terraform", "version"]}
    measured_notes: ClassVar[tuple[str, ...]] = (
        "the ingress load comes from k6 on this machine over the internet to Azure's LoadBalancer: requests/s and "
        "latency include that path and this machine's uplink (run cnibench on a VM in the cluster's VNet to leave it "
        "out); CPU figures are the nodes' own, without the load generator",
    )
    leftover_what: ClassVar[str] = "its AKS clusters (terraform destroy)"

    # ---- the spec -------------------------------------------------------------------------------------------------
    @classmethod
    def check_platform(cls, spec: Spec) -> None:
        """What cannot run on AKS is refused before anything is created."""
        if "node_image" in spec.section("kubernetes").model_fields_set:
            raise FieldError(("kubernetes", "node_image"), "only on kind")
        for reserved in AKS_RESERVED:
            if spec.network.pod_cidr.overlaps(reserved):
                raise FieldError(
                    ("network", "pod_cidr"),
                    f"{spec.network.pod_cidr} overlaps {reserved}, which AKS uses itself (services 10.0.0.0/16, "
                    "nodes 10.224.0.0/12)",
                )

    @classmethod
    def cni_values(
        cls, cni: Cni, kube: KubernetesSettingsBase, spec: Spec, *, cluster: str, cni_gateway: bool
    ) -> dict[str, Any] | None:
        return cni.with_knobs(cni.aks_values(AksValues(kube.versions.chart(cni.base), str(spec.network.pod_cidr))))

    @classmethod
    def cni_objects(cls, cni: Cni, kube: KubernetesSettingsBase, spec: Spec, *, cluster: str) -> list[dict[str, Any]]:
        return cni.aks_objects(AksValues(kube.versions.chart(cni.base), str(spec.network.pod_cidr)))

    @classmethod
    def machine_checks(cls, spec: Spec | None) -> list[Check]:
        aks = spec.section("aks") if spec is not None else None
        return aks_checks(aks.subscription_id if aks is not None else None)

    # ---- compile hooks --------------------------------------------------------------------------------------------
    def create_cluster(self, build: ClusterBuild, images: list[list[str]]) -> None:
        """A cluster per CNI from the Terraform module, its kubeconfig (credentials) outside the run directory."""
        spec, cni, v, state = build.spec, build.cni, build.vars, build.state
        aks = aks_settings(spec)
        infix = f"{aks.common_infix or build.prefix}{cni.name}"
        tfvars = build.add(
            Path("terraform") / "terraform.tfvars.json", json.dumps(aks_tfvars(spec, infix), indent=2) + "\n"
        )
        v["cluster"] = None
        v["kubeconfig"] = str(state / f"kubeconfig-{cni.name}")
        v["context"] = None
        terraform = {
            "module": str(AKS_MODULE),
            "work_dir": str(state / f"terraform-{cni.name}"),
            "vars_file": str(tfvars),
            "resource_group": f"rg{infix}",
            # one download of the providers for every cluster of every run
            "plugin_cache": str(state.parent / "terraform-plugins"),
            "cluster_name": f"cluster{infix}",
            # the subscription is resolved at run time and pinned there (azure.SUBSCRIPTION_FILE), not in the results
            "state_dir": str(state),
            "subscription_id": aks.subscription_id,
        }
        v["create"] = build.role("aks", terraform=terraform)
        billed = "aks.subscription_id" if aks.subscription_id else "ARM_SUBSCRIPTION_ID, else az account show"
        build.steps.append(
            f"pin the subscription billed for the whole run ({billed}; `cnibench doctor --platform aks` names it) "
            "and pass it to terraform apply and destroy as ARM_SUBSCRIPTION_ID (azurerm 4.x requires one)"
        )
        build.steps.append(
            f"terraform apply (terraform/aks, {terraform['work_dir']}): resource group rg{infix} in {aks.location}, "
            f'AKS cluster cluster{infix} with {aks.node_count} x {aks.vm_type}, network_plugin "none", standard '
            f"LoadBalancer; kubeconfig written to {v['kubeconfig']} (mode 0600)"
            + (f"; note: {note}" if (note := vm_generation_note(aks.vm_type)) else "")
        )

    def cni_install_step(self, build: ClusterBuild, values_file: Path) -> str:
        kube, cni = build.kube, build.cni
        return (
            f"helm install {cni.name} {cni.chart_version(kube.versions.chart(cni.base))} with "
            f"{build.shown(values_file)} (AKS bring-your-own-CNI, pod CIDR {build.spec.network.pod_cidr})"
            + (f"; note: {cni.aks_note}" if cni.aks_note else "")
        )

    def end_cluster(self, build: ClusterBuild, *, keep: bool) -> tuple[dict[str, str], str | None]:
        terraform = build.vars["create"]["terraform"]
        build.vars["teardown"] = build.role("aks", "destroy.yml", terraform=terraform)
        build.steps.append(
            "--keep: leave the AKS cluster running (it costs money: delete it with `cnibench clean`)"
            if keep
            else f"terraform destroy: resource group {terraform['resource_group']} and everything in it, also after a "
            "failure or Ctrl-C"
        )
        note = (
            f"kept AKS cluster {terraform['cluster_name']} (it costs money until deleted): kubectl --kubeconfig "
            f"{build.vars['kubeconfig']} get nodes; delete it with `cnibench clean` (terraform destroy) or az group "
            f"delete --name {terraform['resource_group']} --yes"
        )
        return {"cni": build.cni.name}, note

    # ---- before and after a run -----------------------------------------------------------------------------------
    def confirm(self, spec: Spec, plan: Plan, *, yes: bool, stdin: TextIO, out: TextIO = sys.stdout) -> bool:
        """AKS costs money: say what will be created and ask, unless ``yes``. Without a terminal, ``--yes`` is
        required (a script must say so explicitly); raises PrerequisiteError then."""
        aks = aks_settings(spec)
        cnis = sorted({t.cni for t in plan.trials}, key=spec.cni_names.index)
        print(
            f"cnibench will create billable Azure resources in {aks.location} (one cluster per CNI, one after the "
            "other):",
            file=out,
        )
        for cni in cnis:
            infix = aks_tfvars(spec, f"{aks.common_infix or '<run>'}{cni}")["common_infix"]
            print(
                f"  {cni}: resource group rg{infix}, AKS cluster cluster{infix} with {aks.node_count} x {aks.vm_type} "
                "and a standard LoadBalancer",
                file=out,
            )
        print(
            "  each is destroyed (terraform destroy) when its trials end, also after a failure or Ctrl-C"
            + ("; --keep: the last one stays up and keeps costing" if self.keep else ""),
            file=out,
        )
        if yes:
            return True
        if not stdin.isatty():
            raise PrerequisiteError("aks creates billable Azure resources: confirm with --yes (no terminal to ask)")
        print("create them? type yes: ", end="", flush=True, file=out)
        answer: str = stdin.readline()
        return answer.strip().lower() == "yes"

    @classmethod
    def remove_run(cls, prefix: str, directory: Path, run_dir: str | None, *, kept: dict[str, str] | None) -> list[str]:
        """``terraform destroy`` of the run's clusters (but the kept CNI's: a failure or Ctrl-C may have left earlier
        CNIs' clusters, only one is kept)."""
        return destroy_run(directory / prefix, keep_cni=(kept or {}).get("cni"))


PLATFORMS.register(AksPlatform.name, AksPlatform)
