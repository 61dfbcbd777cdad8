"""The aks platform: an AKS cluster per CNI by Terraform (``network_plugin = "none"``: bring your own CNI) behind
Azure's standard LoadBalancer. It costs money: ``run`` says what it creates and asks first."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, ClassVar, TextIO

from cnibench.errors import PrerequisiteError
from cnibench.platforms import PLATFORMS
from cnibench.platforms.kube.base import KubePlatform, aks_tfvars
from cnibench.platforms.kube.settings import AKS_RESERVED, AksSettings, KubernetesSettings, aks_settings, kube_settings
from cnibench.scenarios.egress import EGRESS
from cnibench.scenarios.ingress import INGRESS
from cnibench.spec.base import FieldError

if TYPE_CHECKING:
    from cnibench.plan import Plan
    from cnibench.spec import Spec


class AksPlatform(KubePlatform):
    name: ClassVar[str] = "aks"
    description: ClassVar[str] = "an AKS cluster per CNI by Terraform (bring your own CNI); it costs money"
    sections: ClassVar[dict[str, type[Any]]] = {"kubernetes": KubernetesSettings, "aks": AksSettings}

    @classmethod
    def check(cls, spec: Spec) -> None:
        """What cannot run on AKS is refused before anything is created."""
        super().check(spec)
        if EGRESS.settings_of(spec) is not None:
            raise FieldError(
                ("scenarios", "egress"),
                "not on aks: the thesis runs the ingress scenario on AKS, and cnibench has no external iperf3 server "
                "there (use kind, or kubeconfig with a server you can reach)",
            )
        ingress = INGRESS.settings_of(spec)
        if ingress is not None and ingress.lb_ip is not None:
            raise FieldError(("scenarios", "ingress", "lb_ip"), "on aks Azure's LoadBalancer assigns the address")
        kube = kube_settings(spec)
        if kube.gateway_implementation == "cilium":
            raise FieldError(
                ("kubernetes", "gateway_implementation"),
                "unsupported on aks: Cilium's Gateway API needs its kube-proxy replacement, and the clusters "
                "cnibench's Terraform module creates keep AKS's kube-proxy (disabling it is an AKS preview, "
                "KubeProxyConfigurationPreview, that azurerm does not configure); use envoy-gateway",
            )
        if "node_image" in kube.model_fields_set:
            raise FieldError(("kubernetes", "node_image"), "only on kind")
        for reserved in AKS_RESERVED:
            if spec.network.pod_cidr.overlaps(reserved):
                raise FieldError(
                    ("network", "pod_cidr"),
                    f"{spec.network.pod_cidr} overlaps {reserved}, which AKS uses itself (services 10.0.0.0/16, "
                    "nodes 10.224.0.0/12)",
                )

    def confirm(self, spec: Spec, plan: Plan, *, yes: bool, stdin: TextIO, out: TextIO = sys.stdout) -> bool:
        """AKS costs money: say what will be created and ask, unless ``yes``. Without a terminal, ``--yes`` is
        required (a script must say so explicitly); raises PrerequisiteError then."""
        aks = aks_settings(spec)
        cnis = sorted({t.cni for t in plan.trials}, key=spec.cnis.index)
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


PLATFORMS.register(AksPlatform.name, AksPlatform)
