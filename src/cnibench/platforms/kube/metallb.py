"""MetalLB in L2 mode: the load balancer of a cluster that has none (kind's; the LoadBalancer IP comes from a pool of
exactly the spec's address), as data: its chart, values, namespace and pool, and the role step that installs it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnibench.platforms.kube.cnis.base import Chart
from cnibench.platforms.kube.render import HELM_DIR, MANIFESTS, PRIVILEGED, meta

if TYPE_CHECKING:
    from cnibench.platforms.kube.build import ClusterBuild

NAMESPACE = "metallb-system"
CHART = Chart("metallb", "https://metallb.github.io/metallb", NAMESPACE, "metallb")
CONTROLLER = "metallb-controller"


def values() -> dict[str, Any]:
    """MetalLB with its CRDs; the pool and its L2 advertisement are applied as manifests. The keys here are all in
    the chart's values schema (FRR mode, ``speaker.frr.enabled``, is off by default: charts/metallb/values.yaml)."""
    return {"crds": {"enabled": True}}


def dependency_values() -> dict[str, Any]:
    """The switch of the chart's FRR-K8s sub-chart, which MetalLB 0.16 deploys on every node by default (0.16.0
    release notes: "FRR-K8s is now the default BGP mode", metallb#2965; charts/metallb/values.yaml:
    ``frrk8s.enabled: true``). L2 mode needs none of it, and it would take CPU on the measured nodes: this is the
    "native" mode of MetalLB's installation docs (website/content/installation/_index.md at v0.16.1:
    ``speaker.frr.enabled: false``, the chart's default, and ``frrk8s.enabled: false``). A file of its own:
    ``frrk8s`` is the condition of a dependency in Chart.yaml, which the chart's values.schema.json does not list,
    so the strict schema check of the main values file stays meaningful."""
    return {"frrk8s": {"enabled": False}}


def namespace() -> dict[str, Any]:
    """MetalLB's speaker needs the privileged Pod Security level (MetalLB's installation docs)."""
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta(NAMESPACE, labels=PRIVILEGED)}


def pool(lb_ip: str) -> list[dict[str, Any]]:
    """A pool of exactly the spec's LoadBalancer IP, announced in L2 mode (the Gateway's Service gets it)."""
    return [
        {
            "apiVersion": "metallb.io/v1beta1",
            "kind": "IPAddressPool",
            "metadata": meta("cnibench", NAMESPACE),
            "spec": {"addresses": [f"{lb_ip}/32"], "autoAssign": True},
        },
        {
            "apiVersion": "metallb.io/v1beta1",
            "kind": "L2Advertisement",
            "metadata": meta("cnibench", NAMESPACE),
            "spec": {"ipAddressPools": ["cnibench"]},
        },
    ]


def compile_step(build: ClusterBuild, lb_ip: str) -> dict[str, Any]:
    """MetalLB in L2 mode without FRR-K8s, with a pool of exactly the LoadBalancer IP ``lb_ip``: its files rendered
    into ``build``, its step in words, and the role step that installs it."""
    version = build.kube.versions.metallb
    namespace_file = build.add(MANIFESTS / "09-metallb-namespace.yaml", [namespace()])
    pool_file = build.add(MANIFESTS / "10-metallb-pool.yaml", pool(lb_ip))
    values_file = build.add(HELM_DIR / "metallb.values.yaml", values())
    dependencies = build.add(HELM_DIR / "metallb.dependencies.values.yaml", dependency_values())
    build.steps.append(
        f"helm install MetalLB {version} in L2 mode without FRR-K8s (frrk8s.enabled: false: no BGP speaker on the "
        f"measured nodes); pool {lb_ip}/32 with an L2Advertisement"
    )
    return build.role(
        "metallb",
        **CHART.to_vars(),
        version=version,
        values=[str(values_file), str(dependencies)],
        pool=str(pool_file),
        namespace_manifest=str(namespace_file),
        controller=CONTROLLER,
    )
