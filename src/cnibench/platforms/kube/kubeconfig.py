"""The kubeconfig platform: an existing cluster with its CNI installed. cnibench detects the CNI (it must be the
one the spec names), works in its own namespace and deletes only what it created."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from cnibench.platforms import PLATFORMS
from cnibench.platforms.kube.base import KubePlatform
from cnibench.scenarios.egress import EGRESS
from cnibench.scenarios.ingress import INGRESS
from cnibench.spec.base import FieldError

if TYPE_CHECKING:
    from cnibench.spec import Spec


class KubeconfigPlatform(KubePlatform):
    name: ClassVar[str] = "kubeconfig"
    description: ClassVar[str] = "an existing cluster your kubeconfig points at, with its CNI installed"

    @classmethod
    def check(cls, spec: Spec) -> None:
        super().check(spec)
        if len(spec.cnis) != 1:
            raise FieldError(
                ("cnis",), "kubeconfig runs on one existing cluster: name the one CNI it has (cnibench verifies it)"
            )
        egress = EGRESS.settings_of(spec)
        if egress is not None:
            where = ("scenarios", "egress")
            if "external_cidr" in egress.model_fields_set:
                raise FieldError((*where, "external_cidr"), "only on netns")
            # Cilium without an egress IP uses the gateway node's own address; Antrea needs one for its pool
            required = ("server_ip",) if spec.cnis == ["cilium"] else ("egress_ip", "server_ip")
            for name in required:
                if getattr(egress, name) is None:
                    raise FieldError(
                        (*where, name),
                        "required on kubeconfig: "
                        + (
                            "a free address on the nodes' network for Antrea's egress IP pool"
                            if name == "egress_ip"
                            else "an address of this machine the nodes can reach (cnibench runs iperf3 -s there)"
                        ),
                    )
            if egress.egress_ip == egress.server_ip:
                raise FieldError((*where, "egress_ip"), "must differ from server_ip")
        ingress = INGRESS.settings_of(spec)
        if ingress is not None and ingress.lb_ip is not None:
            raise FieldError(
                ("scenarios", "ingress", "lb_ip"), "on kubeconfig the cluster's load balancer assigns the address"
            )


PLATFORMS.register(KubeconfigPlatform.name, KubeconfigPlatform)
