"""The kind platform: a fresh kind cluster per CNI (control plane + workers, default CNI disabled, the thesis's
config), the CNI by Helm, MetalLB for the LoadBalancer IP, the external server as a container on kind's network."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any, ClassVar

from cnibench.platforms import PLATFORMS
from cnibench.platforms.kube.base import KubePlatform
from cnibench.scenarios.egress import EGRESS
from cnibench.scenarios.ingress import INGRESS
from cnibench.spec.base import FieldError, Loc

if TYPE_CHECKING:
    from cnibench.spec import Spec

#: kind's docker network as kind creates it by default (checked against ``docker network inspect kind``).
KIND_NETWORK = "172.18.0.0/16"
#: Addresses of kind's network the nodes get: docker hands them out from the bottom.
KIND_DOCKER_HOSTS = 16


class KindPlatform(KubePlatform):
    name: ClassVar[str] = "kind"
    description: ClassVar[str] = "a kind cluster per CNI on this machine's Docker (the thesis's local setup)"

    @classmethod
    def resolve(cls, spec: Spec) -> Spec:
        """kind's network as the node network, and free addresses at its top for the LoadBalancer IP (.254), the
        egress IP (.253) and the external server (.252)."""
        spec = super().resolve(spec)
        network = spec.network
        if "node_cidr" not in network.model_fields_set:
            network = network.model_copy(update={"node_cidr": ipaddress.IPv4Network(KIND_NETWORK)})
        top = network.node_cidr.broadcast_address
        scenarios = spec.scenarios
        updates: dict[str, Any] = {}
        ingress = INGRESS.settings_of(spec)
        if ingress is not None and ingress.lb_ip is None:
            updates["ingress"] = ingress.model_copy(update={"lb_ip": top - 1})
        egress = EGRESS.settings_of(spec)
        if egress is not None:
            filled = {}
            if egress.egress_ip is None:
                filled["egress_ip"] = top - 2
            if egress.server_ip is None:
                filled["server_ip"] = top - 3
            updates["egress"] = egress.model_copy(update=filled)
        return spec.model_copy(update={"network": network, "scenarios": scenarios.model_copy(update=updates)})

    @classmethod
    def check(cls, spec: Spec) -> None:
        """Addresses on kind's docker network: inside it, above the nodes' (docker hands those out from the
        bottom), and each used once."""
        super().check(spec)
        node_cidr = spec.network.node_cidr
        if node_cidr.overlaps(spec.network.pod_cidr):
            raise FieldError(("network", "pod_cidr"), f"{spec.network.pod_cidr} overlaps node_cidr {node_cidr}")
        if node_cidr.num_addresses < 2 * KIND_DOCKER_HOSTS:
            raise FieldError(("network", "node_cidr"), "kind's network must be /27 or larger")
        top = node_cidr.broadcast_address
        docker_hosts = (node_cidr.network_address + 1, node_cidr.network_address + KIND_DOCKER_HOSTS)
        taken: dict[ipaddress.IPv4Address, str] = {}

        def claim(loc: Loc, ip: ipaddress.IPv4Address) -> None:
            where = f"kind's network (network.node_cidr {node_cidr})"
            if ip not in node_cidr:
                raise FieldError(loc, f"{ip} is outside {where}")
            if ip in (node_cidr.network_address, top) or docker_hosts[0] <= ip <= docker_hosts[1]:
                raise FieldError(
                    loc, f"{ip} is reserved in {where}: docker gives {docker_hosts[0]}-{docker_hosts[1]} to the nodes"
                )
            if ip in taken:
                raise FieldError(loc, f"{ip} is already the {taken[ip]}")
            taken[ip] = ".".join(str(p) for p in loc[-1:])

        ingress = INGRESS.settings_of(spec)
        if ingress is not None and ingress.lb_ip is not None:
            claim(("scenarios", "ingress", "lb_ip"), ingress.lb_ip)
        egress = EGRESS.settings_of(spec)
        if egress is not None:
            where = ("scenarios", "egress")
            if "external_cidr" in egress.model_fields_set:
                raise FieldError((*where, "external_cidr"), "only on netns: on kind the server is on kind's network")
            assert egress.egress_ip is not None and egress.server_ip is not None  # resolved
            claim((*where, "egress_ip"), egress.egress_ip)
            claim((*where, "server_ip"), egress.server_ip)


PLATFORMS.register(KindPlatform.name, KindPlatform)
