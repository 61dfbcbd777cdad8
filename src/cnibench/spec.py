"""The experiment spec: the only input of a run, validated completely before anything is created."""

from __future__ import annotations

import difflib
import ipaddress
import re
import typing
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from cnibench import pins
from cnibench.errors import SpecError

SPEC_VERSION = 1
DEFAULT_EXTERNAL_CIDR = "203.0.113.0/24"  # TEST-NET-3: never a real network

#: CNIs (datapaths) each platform can compare. An unknown name fails with this list.
PLATFORM_CNIS: dict[str, tuple[str, ...]] = {
    "netns": ("hostgw", "vxlan"),
    "kind": ("antrea", "cilium"),
    "kubeconfig": ("antrea", "cilium"),
    "aks": ("antrea", "cilium"),
}
#: Platforms that run real Kubernetes (the ``kubernetes`` section applies to them).
KUBE_PLATFORMS = ("kind", "kubeconfig", "aks")
#: kind's docker network as kind creates it by default (checked against ``docker network inspect kind``).
KIND_NETWORK = "172.18.0.0/16"
#: Addresses of kind's network the nodes get: docker hands them out from the bottom.
KIND_DOCKER_HOSTS = 16

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_VERSION = re.compile(r"^v?[0-9]+\.[0-9]+\.[0-9]+$")
#: name[:tag]@sha256:<64 hex>: images are pinned by digest
_PINNED_IMAGE = re.compile(r"^[a-z0-9]([a-z0-9._/-]*[a-z0-9])?(:[A-Za-z0-9._-]+)?@sha256:[0-9a-f]{64}$")
_BITRATE = re.compile(r"^[0-9]+(\.[0-9]+)?[KMG]?$")

LaxIPv4Address = Annotated[ipaddress.IPv4Address, Field(strict=False)]
LaxIPv4Network = Annotated[ipaddress.IPv4Network, Field(strict=False)]


class _FieldError(ValueError):
    """A cross-field check that names the field it is about (pydantic only knows the model's location)."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


class _Model(BaseModel):
    # strict: YAML gives real ints, bools and strings; "10" for a number is a mistake worth reporting.
    model_config = ConfigDict(extra="forbid", strict=True, validate_default=True)


class NodesSpec(_Model):
    """The local cluster's shape: a control plane plus ``workers`` worker nodes (like the thesis's kind config)."""

    workers: int = Field(2, ge=2, le=16, description="Worker nodes; the first one is the egress gateway node.")


class NetworkSpec(_Model):
    """Address plan of the cluster (defaults follow kind: a docker-like node network and 10.244.0.0/16 pods)."""

    node_cidr: LaxIPv4Network = Field(
        ipaddress.IPv4Network("172.18.0.0/24"), description="Node network (the shared bridge the nodes sit on)."
    )
    pod_cidr: LaxIPv4Network = Field(
        ipaddress.IPv4Network("10.244.0.0/16"), description="Cluster pod CIDR; every node gets one /24 of it."
    )

    @field_validator("pod_cidr")
    @classmethod
    def _pod_cidr_room(cls, value: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
        if value.prefixlen > 20:
            raise ValueError("must be /20 or larger: every node gets a /24 out of it")
        return value

    @model_validator(mode="after")
    def _disjoint(self) -> NetworkSpec:
        if self.node_cidr.overlaps(self.pod_cidr):
            raise _FieldError(("pod_cidr",), f"{self.pod_cidr} overlaps node_cidr {self.node_cidr}")
        if self.node_cidr.num_addresses < 32:
            raise _FieldError(("node_cidr",), "must be /27 or larger")
        return self


class EgressSpec(_Model):
    """The thesis's egress scenario: iperf3 from a pod, out through the egress gateway node, SNAT to the egress IP."""

    protocol: Literal["tcp", "udp"] = "tcp"
    parallel: int = Field(1, ge=1, le=64, description="Parallel iperf3 streams (-P).")
    duration: int = Field(10, gt=0, le=3600, description="Measured seconds per repetition (-t).")
    omit: int = Field(2, ge=0, le=600, description="Warm-up seconds left out of the result (-O).")
    repetitions: int = Field(3, ge=1, le=1000)
    bitrate: str = Field("1G", description="UDP target bitrate (-b), e.g. 500M or 1G; 0 = unlimited. UDP only.")
    external_cidr: LaxIPv4Network = Field(
        ipaddress.IPv4Network(DEFAULT_EXTERNAL_CIDR),
        description="Network of the external iperf3 server, reachable only through the gateway node.",
    )
    egress_ip: LaxIPv4Address | None = Field(
        None,
        description="IP the gateway SNATs the selected pods' traffic to; default on netns: the last host of "
        "external_cidr; on kind: a free address at the top of kind's network; required on kubeconfig.",
    )
    server_ip: LaxIPv4Address | None = Field(
        None,
        description="Address of the external iperf3 server. netns places it itself; on kind it is a container on "
        "kind's network (default: a free address at its top); on kubeconfig an address of this machine the "
        "nodes can reach, where cnibench starts `iperf3 -s` (required).",
    )
    apply_timeout: int = Field(
        120, ge=1, le=3600, description="Kubernetes: seconds to wait until the egress policy is realised."
    )

    @field_validator("bitrate")
    @classmethod
    def _bitrate(cls, value: str) -> str:
        if not _BITRATE.match(value):
            raise ValueError("must be a number with an optional K, M or G suffix, e.g. 500M")
        return value

    @field_validator("external_cidr")
    @classmethod
    def _external_room(cls, value: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
        if value.prefixlen > 29:
            raise ValueError("must be /29 or larger (gateway, server and egress IP need room)")
        return value

    @model_validator(mode="after")
    def _check_egress_ip(self) -> EgressSpec:
        ip = self.egress_ip
        if ip is None:
            return self  # the platform's default is filled in by Spec
        if ip.is_multicast or ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_reserved:
            raise _FieldError(("egress_ip",), f"{ip} is not a unicast address")
        if ip in self.external_cidr and ip in (
            self.external_cidr.network_address,
            self.external_cidr.broadcast_address,
            *external_reserved_hosts(self.external_cidr),
        ):
            raise _FieldError(
                ("egress_ip",), f"{ip} is the network, broadcast, gateway or server address of external_cidr"
            )
        return self


#: Pods that fit on a node: kubelet's default --max-pods.
MAX_PODS_PER_NODE = 110
_PATH = re.compile(r"^/[A-Za-z0-9._~/-]*$")


class IngressSpec(_Model):
    """The thesis's ingress scenario: k6 outside the cluster -> LoadBalancer IP -> gateway -> echo backends."""

    gateway: Literal["l7", "l4"] = Field(
        "l7",
        description="l7: an HTTP proxy (nginx) routing the path to the backends, per request, like a Gateway API "
        "gateway; l4: nftables DNAT to the backends, per connection, like a LoadBalancer service.",
    )
    backends: int = Field(3, ge=1, description="Echo backend pods, spread over the worker nodes.")
    vus: int = Field(20, gt=0, le=5000, description="k6 virtual users.")
    duration: int = Field(10, gt=0, le=3600, description="Seconds of load per repetition.")
    repetitions: int = Field(3, ge=1, le=1000)
    reuse_connections: bool = Field(
        True, description="k6 keeps connections open (false: noConnectionReuse, a new connection per request)."
    )
    max_failed_rate: float = Field(
        0.0, ge=0.0, le=1.0, strict=False, description="A repetition fails when more requests than this fail."
    )
    port: int = Field(80, ge=1, le=65535, description="Listener port of the gateway.")
    path: str = Field("/echo", description="Path prefix routed to the backends (an HTTPRoute PathPrefix).")
    lb_ip: LaxIPv4Address | None = Field(
        None, description="LoadBalancer IP on the node network; default: its last host (like a MetalLB pool)."
    )

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not _PATH.match(value) or "//" in value:
            raise ValueError("must be an absolute URL path such as /echo (letters, digits, . _ ~ - /)")
        return value


def external_reserved_hosts(cidr: ipaddress.IPv4Network) -> tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]:
    """The gateway node's and the external server's addresses on the external network: its first two hosts."""
    return cidr.network_address + 1, cidr.network_address + 2


_PROM_DURATION = re.compile(r"^([0-9]+)(ms|s)$")


class MetricsSpec(_Model):
    """Node metrics: node_exporter on every node and one Prometheus, queried over every measurement window."""

    enabled: bool = True
    scrape_interval: str = Field("1s", description="Prometheus scrape interval, e.g. 1s or 500ms (0.1 s to 60 s).")

    @field_validator("scrape_interval")
    @classmethod
    def _interval(cls, value: str) -> str:
        seconds = prometheus_duration_s(value)
        if seconds is None:
            raise ValueError("must be a duration such as 1s or 500ms")
        if not 0.1 <= seconds <= 60:
            raise ValueError("must be between 100ms and 60s")
        return value

    @property
    def interval_s(self) -> float:
        seconds = prometheus_duration_s(self.scrape_interval)
        assert seconds is not None  # validated
        return seconds


def prometheus_duration_s(text: str) -> float | None:
    """``1s`` -> 1.0, ``500ms`` -> 0.5; None if it is not such a duration."""
    match = _PROM_DURATION.match(text)
    if not match:
        return None
    return int(match.group(1)) / (1000 if match.group(2) == "ms" else 1)


class VersionsSpec(_Model):
    """Chart and CRD versions installed on Kubernetes (defaults: the versions cnibench's manifests are checked
    against)."""

    cilium: str = Field(pins.CILIUM, description="Cilium Helm chart (https://helm.cilium.io).")
    antrea: str = Field(pins.ANTREA, description="Antrea Helm chart (https://charts.antrea.io).")
    gateway_api: str = Field(pins.GATEWAY_API, description="Gateway API standard-channel CRDs.")
    metallb: str = Field(pins.METALLB, description="MetalLB Helm chart (kind only).")
    envoy_gateway: str = Field(pins.ENVOY_GATEWAY, description="Envoy Gateway Helm chart.")

    @field_validator("*")
    @classmethod
    def _is_version(cls, value: str) -> str:
        if not _VERSION.match(value):
            raise ValueError(f"{value!r} is not a version such as 1.19.4")
        return value.removeprefix("v")


GATEWAY_IMPLEMENTATIONS = ("envoy-gateway", "cilium")
_AZURE_LOCATION = re.compile(r"^[a-z][a-z0-9]{1,39}$")
_AZURE_VM_SIZE = re.compile(r"^(standard|basic)_[a-z0-9]+(?:[-_][a-z0-9]+)*$", re.IGNORECASE)
_LINUX_USER = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")  # azurerm: ^[A-Za-z][-A-Za-z0-9_]*$, lower case for Linux
#: AKS's own default ranges with a bring-your-own CNI: services 10.0.0.0/16 and the node subnet 10.224.0.0/12.
AKS_RESERVED = (ipaddress.IPv4Network("10.0.0.0/16"), ipaddress.IPv4Network("10.224.0.0/12"))
_INFIX = re.compile(r"^[a-z0-9]{1,16}$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class AksSpec(_Model):
    """The AKS platform: a cluster per CNI provisioned by Terraform (terraform/aks in the package) with the default
    CNI removed (network_plugin "none"), behind Azure's standard LoadBalancer. Credentials come from the
    environment (ARM_*) or `az login`, never from the spec."""

    location: str = Field("westeurope", description="Azure location name, e.g. westeurope or eastus2.")
    vm_type: str = Field("Standard_A2_v2", description="VM size of the node pool (the thesis: Standard_A2_v2).")
    node_count: int = Field(2, ge=1, le=1000, description="Nodes in the node pool.")
    username: str = Field("azureuser", description="Admin user of the nodes.")
    common_infix: str | None = Field(
        None,
        description="Start of every resource name (rg<infix><cni>, cluster<infix><cni>); default: the run's "
        "prefix. 1-16 lower-case letters or digits.",
    )
    subscription_id: str | None = Field(
        None,
        description="The Azure subscription billed (its id); default: ARM_SUBSCRIPTION_ID, else the Azure CLI's "
        "selected subscription (az account show). cnibench pins it for the run: apply, destroy and `clean` use it.",
    )

    @field_validator("location")
    @classmethod
    def _location(cls, value: str) -> str:
        if not _AZURE_LOCATION.match(value):
            raise ValueError(f"{value!r} is not an Azure location name such as westeurope or eastus2")
        return value

    @field_validator("vm_type")
    @classmethod
    def _vm_size(cls, value: str) -> str:
        if not _AZURE_VM_SIZE.match(value):
            raise ValueError(f"{value!r} is not an Azure VM size such as Standard_A2_v2")
        return value

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        if not _LINUX_USER.match(value):
            raise ValueError(
                "must be a Linux user name: a lower-case letter, then letters, digits, - or _ (32 at most)"
            )
        return value

    @field_validator("subscription_id")
    @classmethod
    def _subscription(cls, value: str | None) -> str | None:
        if value is not None and not _GUID.match(value):
            raise ValueError("must be a subscription id (a GUID such as 00000000-0000-0000-0000-000000000000)")
        return value

    @field_validator("common_infix")
    @classmethod
    def _infix(cls, value: str | None) -> str | None:
        if value is not None and not _INFIX.match(value):
            raise ValueError("must be 1-16 lower-case letters or digits")
        return value


#: cnibench's own node_exporter port on Kubernetes nodes: node_exporter's default 9100 is taken on most real clusters
#: by kube-prometheus-stack's node-exporter (a host port too); below the ephemeral port range (32768+).
KUBE_NODE_EXPORTER_PORT = 19100


class KubernetesSpec(_Model):
    """Settings of the Kubernetes platforms (kind, kubeconfig)."""

    gateway_implementation: Literal["envoy-gateway", "cilium"] = Field(
        "envoy-gateway",
        description="Who implements the Gateway API in the ingress scenario: envoy-gateway works with every CNI "
        "(a like-for-like comparison); cilium is Cilium's own and needs the Cilium CNI.",
    )
    versions: VersionsSpec = Field(default_factory=VersionsSpec)
    node_image: str = Field(pins.KIND_NODE_IMAGE, description="kind node image, pinned by digest (kind only).")
    namespace: str = Field("cnibench", description="Namespace cnibench creates and works in.")
    kubeconfig: str | None = Field(
        None, description="kubeconfig platform: the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)."
    )
    context: str | None = Field(None, description="kubeconfig platform: the context (default: the current one).")
    node_uplinks: str = Field("eth0", description="Regex of the nodes' uplink devices (for the network metrics).")
    k6_in_container: bool = Field(
        False,
        description="kind: run k6 as a container on kind's docker network (needed on macOS and Windows, where "
        "the LoadBalancer IP is not reachable from the host).",
    )
    kind_port_mappings: bool = Field(
        True,
        description="kind: map the control plane's ports 80/443 to 127.0.0.1 as the thesis's kind config does "
        "(cnibench does not use them; turn off when something on this machine has those ports).",
    )
    ready_timeout: int = Field(600, ge=10, le=7200, description="Seconds to wait for a cluster, CNI or rollout.")
    node_exporter_port: int = Field(
        KUBE_NODE_EXPORTER_PORT,
        ge=1024,
        le=32767,
        description="Host port of cnibench's node_exporter on every node (host network). Not 9100: a cluster's own "
        "node-exporter (kube-prometheus-stack) usually has that one.",
    )

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        if len(value) > 63 or not _DNS1123_LABEL.match(value) or value.startswith("kube-"):
            raise ValueError("must be a DNS-1123 label and not a kube- namespace")
        return value

    @field_validator("node_image")
    @classmethod
    def _pinned(cls, value: str) -> str:
        if not _PINNED_IMAGE.match(value):
            raise ValueError("must be an image pinned by digest, e.g. kindest/node:v1.34.0@sha256:<64 hex digits>")
        return value

    @field_validator("node_uplinks")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        if '"' in value or "\\" in value:
            raise ValueError("must not contain quotes or backslashes (it goes into PromQL)")
        return value


class ScenariosSpec(_Model):
    egress: EgressSpec | None = None
    ingress: IngressSpec | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> ScenariosSpec:
        if not self.enabled():
            raise ValueError(f"at least one scenario is needed ({', '.join(type(self).model_fields)})")
        return self

    def enabled(self) -> list[str]:
        return [name for name in type(self).model_fields if getattr(self, name) is not None]


class Spec(_Model):
    """One experiment: which CNIs (datapaths) to compare, on which platform, in which scenarios."""

    version: Literal[1] = 1
    name: str = Field(..., description="DNS-1123 label naming the experiment (used in run ids).")
    platform: str = Field("netns", description="Where the cluster runs: " + ", ".join(PLATFORM_CNIS))
    cnis: list[str] = Field(..., min_length=1, description="CNIs to compare; on netns the datapaths hostgw and vxlan.")
    nodes: NodesSpec = Field(default_factory=NodesSpec)
    network: NetworkSpec = Field(default_factory=NetworkSpec)
    metrics: MetricsSpec = Field(default_factory=MetricsSpec)
    kubernetes: KubernetesSpec | None = Field(
        None, description="Settings of the kind, kubeconfig and aks platforms (defaults filled in for them)."
    )
    aks: AksSpec | None = Field(None, description="Settings of the aks platform (defaults filled in for it).")
    scenarios: ScenariosSpec

    @field_validator("name")
    @classmethod
    def _dns_label(cls, value: str) -> str:
        if len(value) > 63 or not _DNS1123_LABEL.match(value):
            raise ValueError(
                "must be a DNS-1123 label: lower-case letters, digits and '-', "
                "starting and ending with a letter or digit, at most 63 characters"
            )
        return value

    @field_validator("platform")
    @classmethod
    def _known_platform(cls, value: str) -> str:
        if value not in PLATFORM_CNIS:
            raise ValueError(f"unknown platform {value!r}; valid: {', '.join(PLATFORM_CNIS)}")
        return value

    @field_validator("cnis")
    @classmethod
    def _known_cnis(cls, value: list[str], info: ValidationInfo) -> list[str]:
        """A field check, not a model check: it runs in the same pass as every other field's, so an unknown CNI
        is reported together with them (``platform`` is validated first; when it is invalid, that is the error)."""
        platform = info.data.get("platform")
        if platform is None:
            return value
        valid = PLATFORM_CNIS[platform]
        for index, cni in enumerate(value):
            if cni not in valid:
                raise _FieldError((index,), f"unknown CNI {cni!r} for platform {platform}; valid: {', '.join(valid)}")
        if len(set(value)) != len(value):
            raise ValueError("each CNI may appear only once")
        return value

    @property
    def on_kubernetes(self) -> bool:
        return self.platform in KUBE_PLATFORMS

    @property
    def aks_settings(self) -> AksSpec:
        """The ``aks`` section (filled in for the aks platform)."""
        assert self.aks is not None, "not the aks platform"
        return self.aks

    @property
    def kube(self) -> KubernetesSpec:
        """The ``kubernetes`` section (filled in for the Kubernetes platforms)."""
        assert self.kubernetes is not None, "not a Kubernetes platform"
        return self.kubernetes

    @model_validator(mode="after")
    def _cross_checks(self) -> Spec:
        if self.on_kubernetes:
            return self._kubernetes_checks()
        if self.kubernetes is not None:
            raise _FieldError(("kubernetes",), f"only for the platforms {', '.join(KUBE_PLATFORMS)}")
        if self.aks is not None:
            raise _FieldError(("aks",), "only for the platform aks")
        if self.scenarios.egress is not None:
            eg = self.scenarios.egress
            if eg.server_ip is not None:
                raise _FieldError(
                    ("scenarios", "egress", "server_ip"), "netns places the server itself (see external_cidr)"
                )
            if eg.egress_ip is None:
                eg.egress_ip = eg.external_cidr.broadcast_address - 1
        pod_cidr, node_cidr = self.network.pod_cidr, self.network.node_cidr
        nodes = 1 + self.nodes.workers
        if nodes + 8 > node_cidr.num_addresses:
            raise _FieldError(("network", "node_cidr"), f"too small for {nodes} nodes")
        if 2 ** (24 - pod_cidr.prefixlen) < nodes:
            raise _FieldError(
                ("network", "pod_cidr"),
                f"{pod_cidr} has room for {2 ** (24 - pod_cidr.prefixlen)} node /24s, the cluster has {nodes} nodes",
            )
        ingress = self.scenarios.ingress
        if ingress is not None:
            where = ("scenarios", "ingress")
            room = MAX_PODS_PER_NODE * self.nodes.workers
            if ingress.backends > room:
                raise _FieldError(
                    (*where, "backends"),
                    f"{ingress.backends} backends do not fit on {self.nodes.workers} workers "
                    f"({MAX_PODS_PER_NODE} pods per node: at most {room})",
                )
            if ingress.lb_ip is None:
                ingress.lb_ip = node_cidr.broadcast_address - 1
            reserved = {node_cidr.network_address + 1 + i for i in range(nodes + 1)}  # the host, then nodes
            if (
                ingress.lb_ip not in node_cidr
                or ingress.lb_ip in reserved
                or ingress.lb_ip
                in (
                    node_cidr.network_address,
                    node_cidr.broadcast_address,
                )
            ):
                raise _FieldError(
                    (*where, "lb_ip"),
                    f"{ingress.lb_ip} must be a free address of network.node_cidr {node_cidr} "
                    f"(not {node_cidr.network_address + 1}-{node_cidr.network_address + 1 + nodes}, "
                    "used by the client and the nodes)",
                )
        egress = self.scenarios.egress
        if egress is not None:
            where = ("scenarios", "egress")
            for other_name, other in (("pod_cidr", pod_cidr), ("node_cidr", node_cidr)):
                if egress.external_cidr.overlaps(other):
                    raise _FieldError(
                        (*where, "external_cidr"), f"{egress.external_cidr} overlaps network.{other_name} {other}"
                    )
                if egress.egress_ip in other:
                    raise _FieldError(
                        (*where, "egress_ip"), f"{egress.egress_ip} is inside network.{other_name} {other}"
                    )
        return self

    def _kubernetes_checks(self) -> Spec:
        """Kubernetes platforms: the CNI/gateway combination, and addresses on the node network (kind's docker
        network), where the egress IP, the external server and the LoadBalancer IP live."""
        if self.kubernetes is None:
            self.kubernetes = KubernetesSpec()
        kube = self.kubernetes
        if kube.gateway_implementation == "cilium" and self.scenarios.ingress is not None:
            others = [cni for cni in self.cnis if cni != "cilium"]
            if others:
                raise _FieldError(
                    ("kubernetes", "gateway_implementation"),
                    f"unsupported CNI/gateway combination: cilium's Gateway API needs the Cilium CNI and cnis has "
                    f"{', '.join(others)} (Antrea has no Gateway API implementation); use envoy-gateway, which "
                    "works with both",
                )
        if self.platform != "aks" and self.aks is not None:
            raise _FieldError(("aks",), "only for the platform aks")
        if self.platform == "kubeconfig":
            return self._kubeconfig_checks()
        if self.platform == "aks":
            return self._aks_checks()
        if "node_cidr" not in self.network.model_fields_set:
            self.network.node_cidr = ipaddress.IPv4Network(KIND_NETWORK)
        node_cidr = self.network.node_cidr
        if node_cidr.overlaps(self.network.pod_cidr):
            raise _FieldError(("network", "pod_cidr"), f"{self.network.pod_cidr} overlaps node_cidr {node_cidr}")
        if node_cidr.num_addresses < 2 * KIND_DOCKER_HOSTS:
            raise _FieldError(("network", "node_cidr"), "kind's network must be /27 or larger")
        top = node_cidr.broadcast_address
        docker_hosts = (node_cidr.network_address + 1, node_cidr.network_address + KIND_DOCKER_HOSTS)
        taken: dict[ipaddress.IPv4Address, str] = {}

        def claim(loc: tuple[str | int, ...], ip: ipaddress.IPv4Address) -> None:
            where = f"kind's network (network.node_cidr {node_cidr})"
            if ip not in node_cidr:
                raise _FieldError(loc, f"{ip} is outside {where}")
            if ip in (node_cidr.network_address, top) or docker_hosts[0] <= ip <= docker_hosts[1]:
                raise _FieldError(
                    loc, f"{ip} is reserved in {where}: docker gives {docker_hosts[0]}-{docker_hosts[1]} to the nodes"
                )
            if ip in taken:
                raise _FieldError(loc, f"{ip} is already the {taken[ip]}")
            taken[ip] = ".".join(str(p) for p in loc[-1:])

        ingress = self.scenarios.ingress
        if ingress is not None:
            if ingress.lb_ip is None:
                ingress.lb_ip = top - 1
            claim(("scenarios", "ingress", "lb_ip"), ingress.lb_ip)
        egress = self.scenarios.egress
        if egress is not None:
            where = ("scenarios", "egress")
            if "external_cidr" in egress.model_fields_set:
                raise _FieldError((*where, "external_cidr"), "only on netns: on kind the server is on kind's network")
            if egress.egress_ip is None:
                egress.egress_ip = top - 2
            if egress.server_ip is None:
                egress.server_ip = top - 3
            claim((*where, "egress_ip"), egress.egress_ip)
            claim((*where, "server_ip"), egress.server_ip)
        return self

    def _aks_checks(self) -> Spec:
        """AKS runs the thesis's ingress scenario; what cannot run there is refused before anything is created."""
        if self.aks is None:
            self.aks = AksSpec()
        if self.scenarios.egress is not None:
            raise _FieldError(
                ("scenarios", "egress"),
                "not on aks: the thesis runs the ingress scenario on AKS, and cnibench has no external iperf3 server "
                "there (use kind, or kubeconfig with a server you can reach)",
            )
        ingress = self.scenarios.ingress
        if ingress is not None and ingress.lb_ip is not None:
            raise _FieldError(("scenarios", "ingress", "lb_ip"), "on aks Azure's LoadBalancer assigns the address")
        if self.kube.gateway_implementation == "cilium":
            raise _FieldError(
                ("kubernetes", "gateway_implementation"),
                "unsupported on aks: Cilium's Gateway API needs its kube-proxy replacement, and the clusters "
                "cnibench's Terraform module creates keep AKS's kube-proxy (disabling it is an AKS preview, "
                "KubeProxyConfigurationPreview, that azurerm does not configure); use envoy-gateway",
            )
        if "node_image" in self.kube.model_fields_set:
            raise _FieldError(("kubernetes", "node_image"), "only on kind")
        for reserved in AKS_RESERVED:
            if self.network.pod_cidr.overlaps(reserved):
                raise _FieldError(
                    ("network", "pod_cidr"),
                    f"{self.network.pod_cidr} overlaps {reserved}, which AKS uses itself (services 10.0.0.0/16, "
                    "nodes 10.224.0.0/12)",
                )
        return self

    def _kubeconfig_checks(self) -> Spec:
        if len(self.cnis) != 1:
            raise _FieldError(
                ("cnis",), "kubeconfig runs on one existing cluster: name the one CNI it has (cnibench verifies it)"
            )
        egress = self.scenarios.egress
        if egress is not None:
            where = ("scenarios", "egress")
            if "external_cidr" in egress.model_fields_set:
                raise _FieldError((*where, "external_cidr"), "only on netns")
            # Cilium without an egress IP uses the gateway node's own address; Antrea needs one for its pool
            required = ("server_ip",) if self.cnis == ["cilium"] else ("egress_ip", "server_ip")
            for name in required:
                if getattr(egress, name) is None:
                    raise _FieldError(
                        (*where, name),
                        "required on kubeconfig: "
                        + (
                            "a free address on the nodes' network for Antrea's egress IP pool"
                            if name == "egress_ip"
                            else "an address of this machine the nodes can reach (cnibench runs iperf3 -s there)"
                        ),
                    )
            if egress.egress_ip == egress.server_ip:
                raise _FieldError((*where, "egress_ip"), "must differ from server_ip")
        ingress = self.scenarios.ingress
        if ingress is not None and ingress.lb_ip is not None:
            raise _FieldError(
                ("scenarios", "ingress", "lb_ip"), "on kubeconfig the cluster's load balancer assigns the address"
            )
        return self


# --------------------------------------------------------------------------- loading


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses duplicate keys instead of silently keeping the last one."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


#: A spec is a page of YAML; anything larger is not one (and is refused before it is parsed).
MAX_SPEC_BYTES = 1 << 20  # 1 MiB
#: Where each key of a spec file is: ``("scenarios", "egress", "duration")`` -> its line (1-based).
KeyLines = dict[tuple[str | int, ...], int]


def _format_loc(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _line_of(loc: tuple[str | int, ...], lines: KeyLines) -> int | None:
    """The line of ``loc`` in the file, or of its closest enclosing key (a missing key: where it belongs)."""
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _model_at(loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The spec section (a model class) at ``loc``, e.g. ``("scenarios", "ingress")`` -> :class:`IngressSpec`."""
    model: type[BaseModel] = Spec
    for part in loc:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            return None
        found = next(
            (
                arg
                for arg in (field.annotation, *typing.get_args(field.annotation))
                if isinstance(arg, type) and issubclass(arg, BaseModel)
            ),
            None,
        )
        if found is None:
            return None
        model = found
    return model


def _unknown_key(loc: tuple[str | int, ...]) -> str:
    """``unknown key 'gatway'; did you mean 'gateway'?`` (or the valid keys when none is close)."""
    key = str(loc[-1])
    model = _model_at(loc[:-1])
    if model is None:
        return f"unknown key {key!r}"
    valid = list(model.model_fields)
    # difflib for typos ("gatway"); a shared start for shortened names ("scrape" for "scrape_interval")
    close = difflib.get_close_matches(key, valid, n=1) or [v for v in valid if v.startswith(key) or key.startswith(v)]
    if close:
        return f"unknown key {key!r}; did you mean {close[0]!r}?"
    return f"unknown key {key!r}; valid: {', '.join(valid)}"


def _format_errors(source: str, exc: ValidationError, lines: KeyLines | None = None) -> str:
    parts: list[tuple[int, str]] = []
    for err in exc.errors(include_url=False):
        loc: tuple[str | int, ...] = tuple(p for p in err["loc"] if not str(p).startswith("function-after"))
        msg = err["msg"]
        ctx_error = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_error, _FieldError):
            loc = loc + ctx_error.loc
            msg = str(ctx_error)
        elif err["type"] == "extra_forbidden":
            msg = _unknown_key(loc)
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        line = _line_of(loc, lines or {})
        parts.append((line or 0, f"{_format_loc(loc)}{f' (line {line})' if line else ''}: {msg}"))
    parts.sort(key=lambda part: part[0])  # in the order of the file (stable: pydantic's order otherwise)
    return f"{source}: " + "; ".join(text for _, text in parts)


def parse_spec(data: Any, source: str = "<spec>", lines: KeyLines | None = None) -> Spec:
    """Validate a mapping into a :class:`Spec`; every error becomes part of one :class:`SpecError` line naming
    ``source``, each field with its line in the file when ``lines`` (from :func:`load_spec_document`) has it."""
    if not isinstance(data, Mapping):
        raise SpecError(f"{source}: the spec must be a YAML mapping, got {type(data).__name__}")
    try:
        return Spec.model_validate(dict(data))
    except ValidationError as exc:
        raise SpecError(_format_errors(source, exc, lines)) from None


def read_spec_text(path: Path) -> str:
    """The text of a spec file. Raises :class:`SpecError` (one line naming the file) for a file that is missing,
    a directory, unreadable, larger than :data:`MAX_SPEC_BYTES` or not UTF-8."""
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_SPEC_BYTES + 1)  # a bounded read: /dev/zero or a huge file cannot fill memory
    except IsADirectoryError:
        raise SpecError(f"{path}: is a directory, not a spec file") from None
    except FileNotFoundError:
        raise SpecError(f"{path}: cannot read spec: no such file") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read spec: {exc.strerror or exc}") from None
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError(f"{path}: larger than {MAX_SPEC_BYTES // (1 << 20)} MiB, the limit for a spec file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SpecError(
            f"{path}: not UTF-8 text: byte 0x{raw[exc.start]:02x} at line {line} (save the spec as UTF-8)"
        ) from None


def _key_lines(root: yaml.Node | None) -> KeyLines:
    """Every key and list item of a composed YAML document -> its line. Each node is walked once, so aliases
    (``*anchor``) cost nothing however often they are used."""
    lines: KeyLines = {}
    walked: set[int] = set()

    def walk(node: yaml.Node, loc: tuple[str | int, ...]) -> None:
        if id(node) in walked:
            return
        walked.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    lines.setdefault((*loc, key_node.value), key_node.start_mark.line + 1)
                    walk(value_node, (*loc, key_node.value))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines.setdefault((*loc, index), item.start_mark.line + 1)
                walk(item, (*loc, index))

    if root is not None:
        walk(root, ())
    return lines


def load_spec_document(path: Path) -> tuple[dict[str, Any], KeyLines]:
    """Read and parse a spec file: its data and where each key is (for errors that name the line).
    Raises :class:`SpecError`."""
    text = read_spec_text(path)
    loader = _UniqueKeyLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(f"{path}: not valid YAML{where}: {problem}") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise SpecError(f"{path}: the spec must be a YAML mapping")
    return data, _key_lines(root)


def load_spec_data(path: Path) -> dict[str, Any]:
    """The data of a spec file (see :func:`load_spec_document`). Raises :class:`SpecError`."""
    return load_spec_document(path)[0]


def default_spec_data() -> dict[str, Any]:
    """The built-in default spec (the same file is shipped as ``examples/local.yaml``)."""
    text = resources.files("cnibench").joinpath("default-spec.yaml").read_text(encoding="utf-8")
    data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    assert isinstance(data, dict)
    return data


def load_spec(
    path: Path | None,
    *,
    repetitions: int | None = None,
    duration: int | None = None,
) -> tuple[Spec, str]:
    """Load, override and validate a spec. Returns the spec and a label of its source for messages."""
    lines: KeyLines = {}
    if path is None:
        data, source = default_spec_data(), "built-in default spec"
    else:
        (data, lines), source = load_spec_document(path), str(path)
    data = apply_overrides(data, repetitions=repetitions, duration=duration)
    return parse_spec(data, source, lines), source


def apply_overrides(
    data: dict[str, Any], *, repetitions: int | None = None, duration: int | None = None
) -> dict[str, Any]:
    """Return a copy of ``data`` with ``--repeat`` / ``--duration`` applied to every scenario present."""
    if repetitions is None and duration is None:
        return data
    out = dict(data)
    scenarios = out.get("scenarios")
    if not isinstance(scenarios, dict):
        return out
    new_scenarios: dict[str, Any] = {}
    for name, settings in scenarios.items():
        settings = dict(settings) if isinstance(settings, dict) else settings
        if isinstance(settings, dict):
            if repetitions is not None:
                settings["repetitions"] = repetitions
            if duration is not None:
                settings["duration"] = duration
        new_scenarios[name] = settings
    out["scenarios"] = new_scenarios
    return out


def spec_to_yaml(spec: Spec) -> str:
    """The resolved spec (defaults filled in) as YAML, as stored in every run directory."""
    return yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False)


#: The dialect pydantic generates (its JSON Schema output follows draft 2020-12: ``$defs``, ``prefixItems``).
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schema() -> dict[str, Any]:
    """The spec's JSON Schema, with ``$schema`` first so that editors and validators know its dialect."""
    return {"$schema": JSON_SCHEMA_DIALECT, **Spec.model_json_schema()}
