"""The Gateway API on Kubernetes: who implements it (Envoy Gateway with every CNI, or a CNI's own implementation its
descriptor declares), the pinned standard CRDs, Envoy Gateway's charts, and the GatewayClass, Gateway and HTTPRoute
cnibench applies (pure functions)."""

from __future__ import annotations

from typing import Any

from cnibench.platforms.kube.cnis import CNIS
from cnibench.platforms.kube.cnis.base import Chart
from cnibench.platforms.kube.render import meta

GATEWAY_API_URL = "https://github.com/kubernetes-sigs/gateway-api/releases/download/v{version}/standard-install.yaml"
#: The Gateway API implementation that works with every CNI (a like-for-like comparison): its name in the spec.
ENVOY_GATEWAY = "envoy-gateway"
ENVOY_GATEWAY_NAMESPACE = "envoy-gateway-system"
ENVOY_GATEWAY_DEPLOYMENT = "envoy-gateway"
ENVOY_GATEWAY_CONTROLLER = "gateway.envoyproxy.io/gatewayclass-controller"
ENVOY_GATEWAY_CHART = Chart("oci://docker.io/envoyproxy/gateway-helm", "", ENVOY_GATEWAY_NAMESPACE, "envoy-gateway")
# Envoy Gateway's CRD chart is rendered and applied server-side, as its install docs do, never installed as a Helm
# release: Helm keeps every template in the release Secret, 1.58 MB for v1.7.5 (over the 1 MiB limit of a Secret,
# envoyproxy/gateway#6105). The main chart's release record is about 1.03 MB for v1.7.5 - within the limit by about
# 20 KB, because Helm also stores its crds/ files (installed with --skip-crds, not rendered); envoyproxy/gateway#8283
# moved them into a sub-chart for 1.8.
ENVOY_GATEWAY_CRDS_CHART = Chart(
    "oci://docker.io/envoyproxy/gateway-crds-helm", "", ENVOY_GATEWAY_NAMESPACE, "envoy-gateway-crds"
)
GATEWAY = "cnibench"
ROUTE = "echo"
#: Envoy Gateway v1.7.5 creates its proxy's LoadBalancer Service with ``externalTrafficPolicy: Local``
#: (envoyproxy/gateway api/v1alpha1/kubernetes_helpers.go, the default KubernetesServiceSpec): what that means for
#: the ingress figures.
ENVOY_GATEWAY_PATH_NOTE = (
    "Envoy Gateway's proxy Service has externalTrafficPolicy: Local: the load balancer sends requests only to nodes "
    "that run an Envoy proxy, so the ingress path has no cross-node load-balancer hop before the proxy (its hop to "
    "a backend on another node is measured)"
)
#: How Envoy Gateway's controller is recognised wherever it was installed: its container ``envoy-gateway`` running the
#: image ``envoyproxy/gateway`` (envoyproxy/gateway charts/gateway-helm: ``deployment.envoyGateway.image.repository``
#: docker.io/envoyproxy/gateway; its Deployment's pods are labelled ``control-plane: envoy-gateway``). The proxies it
#: creates run ``envoyproxy/envoy`` in a container ``envoy``: not a controller.
ENVOY_GATEWAY_CONTAINER = "envoy-gateway"
ENVOY_GATEWAY_IMAGES = ("envoyproxy/gateway", "envoyproxy/gateway-dev")


def envoy_gateway_controllers(deployments: dict[str, Any]) -> list[str]:
    """``namespace/name`` of every Envoy Gateway controller among ``kubectl get deployments --all-namespaces -o
    json`` (see :data:`ENVOY_GATEWAY_IMAGES`), wherever and under whatever release name it was installed: two
    controllers with the same ``controllerName`` would both reconcile cnibench's GatewayClass."""
    found = []
    for item in deployments.get("items", []):
        meta = item.get("metadata") or {}
        template = ((item.get("spec") or {}).get("template") or {}).get("spec") or {}
        for container in template.get("containers") or []:
            image = str(container.get("image", "")).split("@")[0].rsplit(":", 1)[0]
            repository = "/".join(image.split("/")[-2:])  # docker.io/envoyproxy/gateway -> envoyproxy/gateway
            if container.get("name") == ENVOY_GATEWAY_CONTAINER or repository in ENVOY_GATEWAY_IMAGES:
                found.append(f"{meta.get('namespace', 'default')}/{meta.get('name', '?')}")
                break
    return found


def implementations() -> tuple[str, ...]:
    """The values of ``kubernetes.gateway_implementation``: Envoy Gateway, then every CNI with its own."""
    return (ENVOY_GATEWAY, *(cni.name for cni in CNIS.values() if cni.gateway_api is not None))


def controller(implementation: str) -> str:
    """The GatewayClass ``controllerName`` of an implementation."""
    if implementation == ENVOY_GATEWAY:
        return ENVOY_GATEWAY_CONTROLLER
    gateway_api = CNIS.get(implementation).gateway_api
    assert gateway_api is not None, f"{implementation} has no Gateway API implementation"
    return gateway_api.controller


def gateway_class_name(implementation: str) -> str:
    return f"cnibench-{implementation}"


def envoy_gateway_crds_values() -> dict[str, Any]:
    """Envoy Gateway's own CRDs only (chart gateway-crds-helm): the Gateway API CRDs are the pinned standard ones,
    not the experimental channel its main chart bundles."""
    return {"crds": {"gatewayAPI": {"enabled": False}, "envoyGateway": {"enabled": True}}}


def gateway_objects(
    *, ns: str, implementation: str, port: int, path: str, backend: str, backend_port: int
) -> list[dict[str, Any]]:
    """GatewayClass, Gateway and HTTPRoute (gateway.networking.k8s.io/v1): ``path`` (PathPrefix, rewritten to ``/``)
    to the ``backend`` Service. The implementation's controller gives the Gateway a LoadBalancer Service."""
    cls = gateway_class_name(implementation)
    return [
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "GatewayClass",
            "metadata": meta(cls),
            "spec": {"controllerName": controller(implementation)},
        },
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "Gateway",
            "metadata": meta(GATEWAY, ns),
            "spec": {
                "gatewayClassName": cls,
                "listeners": [{"name": "http", "protocol": "HTTP", "port": port}],
            },
        },
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": meta(ROUTE, ns),
            "spec": {
                "parentRefs": [{"name": GATEWAY}],
                "rules": [
                    {
                        "matches": [{"path": {"type": "PathPrefix", "value": path}}],
                        # whoami serves its "Hostname:" answer on / (its /echo is a WebSocket echo)
                        "filters": [
                            {
                                "type": "URLRewrite",
                                "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}},
                            }
                        ],
                        "backendRefs": [{"name": backend, "port": backend_port}],
                    }
                ],
            },
        },
    ]
