"""The spec sections of the Kubernetes platforms: ``kubernetes`` (kind, kubeconfig, aks) and ``aks``.

The chart versions (one per CNI) and the choice of Gateway API implementation (Envoy Gateway, or a CNI's own) are
built from the CNI registry, as the spec is built from the scenario and platform registries: a new CNI's module
adds its version and, if it has one, its Gateway API implementation."""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, create_model, field_validator

from cnibench import pins
from cnibench.platforms.kube.cnis import CNIS
from cnibench.platforms.kube.gateways import ENVOY_GATEWAY, implementations
from cnibench.spec.base import DNS1123_LABEL, VERSION, Model

if TYPE_CHECKING:
    from cnibench.spec.model import Spec

#: name[:tag]@sha256:<64 hex>: images are pinned by digest
_PINNED_IMAGE = re.compile(r"^[a-z0-9]([a-z0-9._/-]*[a-z0-9])?(:[A-Za-z0-9._-]+)?@sha256:[0-9a-f]{64}$")


class KubernetesVersionsBase(Model):
    """Chart and CRD versions installed on Kubernetes (defaults: the versions cnibench's manifests are checked
    against); one field per CNI besides these (:data:`KubernetesVersions`)."""

    gateway_api: str = Field(pins.GATEWAY_API, description="Gateway API standard-channel CRDs.")
    metallb: str = Field(pins.METALLB, description="MetalLB Helm chart (kind only).")
    envoy_gateway: str = Field(pins.ENVOY_GATEWAY, description="Envoy Gateway Helm chart.")

    @field_validator("*")
    @classmethod
    def _is_version(cls, value: str) -> str:
        if not VERSION.match(value):
            raise ValueError(f"{value!r} is not a version such as 1.19.4")
        return value.removeprefix("v")

    def chart(self, cni: str) -> str:
        """The chart version of ``cni`` (a registered CNI's field)."""
        return str(getattr(self, cni))


#: The versions section: the fields above and each registered CNI's chart version (default: its pin).
_CHART_VERSIONS: dict[str, Any] = {
    cni.name: (str, Field(cni.version, description=cni.chart_description)) for cni in CNIS.values()
}
KubernetesVersions: type[KubernetesVersionsBase] = create_model(
    "KubernetesVersions", __base__=KubernetesVersionsBase, **_CHART_VERSIONS
)


_AZURE_LOCATION = re.compile(r"^[a-z][a-z0-9]{1,39}$")
_AZURE_VM_SIZE = re.compile(r"^(standard|basic)_[a-z0-9]+(?:[-_][a-z0-9]+)*$", re.IGNORECASE)
_LINUX_USER = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")  # azurerm: ^[A-Za-z][-A-Za-z0-9_]*$, lower case for Linux
#: AKS's own default ranges with a bring-your-own CNI: services 10.0.0.0/16 and the node subnet 10.224.0.0/12.
AKS_RESERVED = (ipaddress.IPv4Network("10.0.0.0/16"), ipaddress.IPv4Network("10.224.0.0/12"))
_INFIX = re.compile(r"^[a-z0-9]{1,16}$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


#: Azure VM sizes that support Generation 1 only: the Av2 series (MicrosoftDocs/azure-docs
#: articles/virtual-machines/av2-series.md: "VM Generation Support: Generation 1"), Standard_A2_v2 among them.
GEN1_ONLY_SIZES = re.compile(r"^Standard_A[0-9]+m?_v2$")
#: Whether AKS still runs a Gen 1 size with today's default node image (checked December 2026): from Kubernetes 1.35
#: the default OS of OS SKU Ubuntu is Ubuntu 24.04 (Azure/AKS CHANGELOG, release notes 2026-01-04), which AKS builds
#: for Gen 1 as well (Azure/AgentBaker vhdbuilder/release-notes/AKSUbuntu/gen1/2404containerd, weekly images); Ubuntu
#: 26.04 (preview, Kubernetes 1.36+, OS SKU Ubuntu2604) "supports Gen 2 only" (Azure/AKS#5905).
GEN1_NOTE = (
    "{size} is a Generation 1 size (Av2 series): AKS runs it on its Gen 1 Ubuntu 24.04 node image, the default OS "
    "from Kubernetes 1.35; Ubuntu 26.04 (preview, Kubernetes 1.36+) is Gen 2 only (Azure/AKS#5905): once AKS's "
    "default moves there, choose a Gen 2 size such as Standard_D2s_v5"
)


def vm_generation_note(size: str) -> str | None:
    """What to say about a node pool VM size's generation (None: a size with Gen 2 support, nothing to say)."""
    return GEN1_NOTE.format(size=size) if GEN1_ONLY_SIZES.match(size) else None


class AksSettings(Model):
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


class KubernetesSettingsBase(Model):
    """Settings of the Kubernetes platforms (kind, kubeconfig, aks); :data:`KubernetesSettings` narrows the Gateway
    API implementation to the registered ones and has every CNI's version."""

    gateway_implementation: str = Field(ENVOY_GATEWAY)
    versions: KubernetesVersionsBase = Field(default_factory=KubernetesVersions)
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
    sockperf_image: str | None = Field(
        None,
        description="The east-west rr workload's pod image (sockperf), pinned by digest: name@sha256:<64 hex>. "
        "kubeconfig and AKS need it (the nodes pull it): build src/cnibench/platforms/kube/dockerfiles/sockperf "
        "and push it. kind: default, cnibench builds that Dockerfile here and loads it into the nodes.",
    )
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
        if len(value) > 63 or not DNS1123_LABEL.match(value) or value.startswith("kube-"):
            raise ValueError("must be a DNS-1123 label and not a kube- namespace")
        return value

    @field_validator("node_image")
    @classmethod
    def _pinned(cls, value: str) -> str:
        if not _PINNED_IMAGE.match(value):
            raise ValueError("must be an image pinned by digest, e.g. kindest/node:v1.34.0@sha256:<64 hex digits>")
        return value

    @field_validator("sockperf_image")
    @classmethod
    def _pinned_sockperf(cls, value: str | None) -> str | None:
        if value is not None and not _PINNED_IMAGE.match(value):
            raise ValueError(
                "must be an image pinned by digest, e.g. registry.example/cnibench-sockperf@sha256:<64 hex digits> "
                "(docker push prints the digest)"
            )
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


def _gateway_field() -> tuple[Any, Any]:
    own = [cni for cni in CNIS.values() if cni.gateway_api is not None]
    description = (
        f"Who implements the Gateway API in the ingress scenario: {ENVOY_GATEWAY} works with every CNI (a "
        "like-for-like comparison)"
        + "".join(f"; {cni.name} is {cni.title}'s own and needs the {cni.title} CNI" for cni in own)
        + "."
    )
    return Literal[implementations()], Field(ENVOY_GATEWAY, description=description)


#: The ``kubernetes`` section.
KubernetesSettings: type[KubernetesSettingsBase] = create_model(
    "KubernetesSettings",
    __base__=KubernetesSettingsBase,
    gateway_implementation=_gateway_field(),
    versions=(KubernetesVersions, Field(default_factory=KubernetesVersions)),
)


def kube_settings(spec: Spec) -> KubernetesSettingsBase:
    """The ``kubernetes`` section of a resolved spec of a Kubernetes platform (filled in with its defaults)."""
    settings = spec.section("kubernetes")
    assert isinstance(settings, KubernetesSettingsBase), "not a resolved spec of a Kubernetes platform"
    return settings


def aks_settings(spec: Spec) -> AksSettings:
    """The ``aks`` section of a resolved spec of the aks platform."""
    settings = spec.section("aks")
    assert isinstance(settings, AksSettings), "not a resolved spec of the aks platform"
    return settings
