"""Everything a Kubernetes run applies, as data: the kind config, Helm values and manifests (pure functions).

The files are written into the run directory before anything runs (``cnibench render`` writes them alone), and the
tests check every manifest against the pinned upstream schemas (``../shared/tools/validate_manifests.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from cnibench import pins
from cnibench.metrics.prometheus import PROMETHEUS_PORT
from cnibench.tools import iperf3

MANAGED_BY = {"app.kubernetes.io/managed-by": "cnibench"}
#: The label cnibench puts on the egress gateway node (and selects it by).
GATEWAY_NODE_LABEL = "cnibench.io/egress-gateway"
METALLB_NAMESPACE = "metallb-system"
ENVOY_GATEWAY_NAMESPACE = "envoy-gateway-system"
ENVOY_GATEWAY_CONTROLLER = "gateway.envoyproxy.io/gatewayclass-controller"
CILIUM_GATEWAY_CONTROLLER = "io.cilium/gateway-controller"
IPERF3_CLIENT = "iperf3-client"
ECHO_PORT = 8080
ECHO = "echo"
GATEWAY = "cnibench"
ROUTE = "echo"
EGRESS_POLICY = "cnibench-egress"
PROMETHEUS = "prometheus"
NODE_EXPORTER = "node-exporter"
#: Relative to the rendered directory of one CNI.
KIND_CONFIG = Path("kind") / "config.yaml"
HELM_DIR = Path("helm")
MANIFESTS = Path("manifests")


def _meta(name: str, namespace: str | None = None, labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {**MANAGED_BY, **(labels or {})}}
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def _app(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name}


# ------------------------------------------------------------------------------------------------ kind


def kind_config(
    *, name: str, workers: int, node_image: str, pod_cidr: str, kube_proxy: bool, port_mappings: bool = True
) -> dict[str, Any]:
    """The thesis's kind config (listing 5): a control plane with ports 80/443 mapped (on 127.0.0.1; cnibench itself
    does not use them), ``workers`` workers, the default CNI disabled; kube-proxy off when the CNI replaces it
    (Cilium)."""
    networking: dict[str, Any] = {"disableDefaultCNI": True, "podSubnet": pod_cidr}
    if not kube_proxy:
        networking["kubeProxyMode"] = "none"
    control_plane: dict[str, Any] = {"role": "control-plane", "image": node_image}
    if port_mappings:
        # only on the loopback address: a benchmark cluster is not a service for the network
        control_plane["extraPortMappings"] = [
            {"containerPort": port, "hostPort": port, "listenAddress": "127.0.0.1", "protocol": "TCP"}
            for port in (80, 443)
        ]
    return {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "name": name,
        "networking": networking,
        "nodes": [control_plane, *({"role": "worker", "image": node_image} for _ in range(workers))],
    }


def kind_node_names(cluster: str, workers: int) -> list[str]:
    """kind's node (container) names: ``<cluster>-control-plane``, ``<cluster>-worker``, ``<cluster>-worker2``..."""
    return [f"{cluster}-control-plane", *(f"{cluster}-worker{'' if i == 1 else i}" for i in range(1, workers + 1))]


# ------------------------------------------------------------------------------------------------ CNIs


def cilium_values(*, api_host: str | None, api_port: int, gateway_api: bool) -> dict[str, Any]:
    """Cilium with kube-proxy replacement, the egress gateway (needs BPF masquerading) and optionally its Gateway
    API implementation (Cilium docs: network/egress-gateway, network/servicemesh/gateway-api)."""
    values: dict[str, Any] = {
        "kubeProxyReplacement": True,
        "ipam": {"mode": "kubernetes"},
        "egressGateway": {"enabled": True},
        "bpf": {"masquerade": True},
        "gatewayAPI": {"enabled": gateway_api},
        # MetalLB assigns the LoadBalancer addresses on kind: Cilium's own LB IPAM must not claim Services without a
        # loadBalancerClass (chart values "defaultLBServiceIPAM: the default LoadBalancer Service IPAM when no
        # LoadBalancer class is set. Applicable values: lbipam, nodeipam, none", install/kubernetes/cilium/README.md;
        # operator flag --default-lb-service-ipam)
        "defaultLBServiceIPAM": "none",
        "operator": {"replicas": 1},
        "image": {"pullPolicy": "IfNotPresent"},
    }
    if api_host is not None:
        # without kube-proxy the agents reach the API server directly
        values["k8sServiceHost"] = api_host
        values["k8sServicePort"] = api_port
    return values


def cilium_aks_values(*, pod_cidr: str) -> dict[str, Any]:
    """Cilium on AKS bring-your-own-CNI: ``aksbyocni.enabled`` (the chart then requires tunnel routing) with
    cluster-pool IPAM (https://docs.cilium.io/en/stable/installation/k8s-install-helm/, AKS tab: "helm install cilium
    ... --set aksbyocni.enabled=true"; requirements-aks: "BYOCNI (none): Encapsulation, Cluster Pool"). The clusters
    of cnibench's Terraform module keep AKS's kube-proxy (turning it off for a bring-your-own CNI is an AKS preview,
    https://learn.microsoft.com/azure/aks/configure-kube-proxy, that azurerm does not configure), so no kube-proxy
    replacement, hence no egress gateway and no Cilium Gateway API. The pod CIDR is the spec's, away from AKS's own
    10.0.0.0/16 and 10.224.0.0/12."""
    return {
        "aksbyocni": {"enabled": True},
        "routingMode": "tunnel",
        "ipam": {"mode": "cluster-pool", "operator": {"clusterPoolIPv4PodCIDRList": [pod_cidr]}},
        "kubeProxyReplacement": False,
        "operator": {"replicas": 1},
    }


def antrea_aks_values(*, pod_cidr: str, version: str) -> dict[str, Any]:
    """Antrea on AKS bring-your-own-CNI in encap mode with its NodeIPAM
    (https://github.com/antrea-io/antrea/blob/v2.7.0/docs/aks-installation.md: "Just make sure that you configure
    Antrea NodeIPAM"; "Azure support is no longer tested starting with Antrea 2.5")."""
    return {**antrea_values(version=version), "nodeIPAM": {"enable": True, "clusterCIDRs": [pod_cidr]}}


def antrea_images(version: str) -> list[str]:
    """Antrea's agent and controller images of ``version`` (the tags :func:`antrea_values` sets)."""
    return [
        f"{repository}:v{version}" for repository in (pins.ANTREA_AGENT_REPOSITORY, pins.ANTREA_CONTROLLER_REPOSITORY)
    ]


def antrea_values(*, version: str, encap_mode: str = "encap") -> dict[str, Any]:
    """Antrea in encap mode with the Egress feature gate (on by default since 1.6; set to say so). The image tags
    are the chart's defaults ("v" + its version), set explicitly so that kind's preloaded images are the ones used."""
    agent, controller = antrea_images(version)
    return {
        "trafficEncapMode": encap_mode,
        "featureGates": {"Egress": True},
        "agentImage": {"repository": pins.ANTREA_AGENT_REPOSITORY, "tag": agent.rsplit(":", 1)[1]},
        "controllerImage": {"repository": pins.ANTREA_CONTROLLER_REPOSITORY, "tag": controller.rsplit(":", 1)[1]},
    }


def metallb_values() -> dict[str, Any]:
    """MetalLB with its CRDs; the pool and its L2 advertisement are applied as manifests. The keys here are all in
    the chart's values schema (FRR mode, ``speaker.frr.enabled``, is off by default: charts/metallb/values.yaml)."""
    return {"crds": {"enabled": True}}


def metallb_dependency_values() -> dict[str, Any]:
    """The switch of the chart's FRR-K8s sub-chart, which MetalLB 0.16 deploys on every node by default (0.16.0
    release notes: "FRR-K8s is now the default BGP mode", metallb#2965; charts/metallb/values.yaml:
    ``frrk8s.enabled: true``). L2 mode needs none of it, and it would take CPU on the measured nodes: this is the
    "native" mode of MetalLB's installation docs (website/content/installation/_index.md at v0.16.1:
    ``speaker.frr.enabled: false``, the chart's default, and ``frrk8s.enabled: false``). A file of its own:
    ``frrk8s`` is the condition of a dependency in Chart.yaml, which the chart's values.schema.json does not list,
    so the strict schema check of the main values file stays meaningful."""
    return {"frrk8s": {"enabled": False}}


#: The Pod Security admission labels of a namespace whose pods need the host (https://kubernetes.io/docs/concepts/
#: security/pod-security-admission/: the baseline level refuses hostNetwork, hostPID and hostPath volumes).
PRIVILEGED = {f"pod-security.kubernetes.io/{mode}": "privileged" for mode in ("enforce", "audit", "warn")}


def metallb_namespace() -> dict[str, Any]:
    """MetalLB's speaker needs the privileged Pod Security level (MetalLB's installation docs)."""
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(METALLB_NAMESPACE, labels=PRIVILEGED)}


def envoy_gateway_crds_values() -> dict[str, Any]:
    """Envoy Gateway's own CRDs only (chart gateway-crds-helm): the Gateway API CRDs are the pinned standard ones,
    not the experimental channel its main chart bundles."""
    return {"crds": {"gatewayAPI": {"enabled": False}, "envoyGateway": {"enabled": True}}}


# ------------------------------------------------------------------------------------------------ objects


def namespace(name: str) -> dict[str, Any]:
    """cnibench's namespace, at the privileged Pod Security level: its node_exporter uses the host network, host PID
    and hostPath volumes, which a cluster enforcing baseline or restricted on namespaces would otherwise refuse."""
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(name, labels=PRIVILEGED)}


def metallb_pool(lb_ip: str) -> list[dict[str, Any]]:
    """A pool of exactly the spec's LoadBalancer IP, announced in L2 mode (the Gateway's Service gets it)."""
    return [
        {
            "apiVersion": "metallb.io/v1beta1",
            "kind": "IPAddressPool",
            "metadata": _meta("cnibench", METALLB_NAMESPACE),
            "spec": {"addresses": [f"{lb_ip}/32"], "autoAssign": True},
        },
        {
            "apiVersion": "metallb.io/v1beta1",
            "kind": "L2Advertisement",
            "metadata": _meta("cnibench", METALLB_NAMESPACE),
            "spec": {"ipAddressPools": ["cnibench"]},
        },
    ]


def iperf3_client(ns: str) -> dict[str, Any]:
    """The egress client pod: never on the gateway node (nor on a control plane, which is tainted)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _meta(IPERF3_CLIENT, ns, _app(IPERF3_CLIENT)),
        "spec": {
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {"matchExpressions": [{"key": GATEWAY_NODE_LABEL, "operator": "DoesNotExist"}]}
                        ]
                    }
                }
            },
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "iperf3",
                    "image": pins.IPERF3_IMAGE,
                    # a long-lived process to exec the measurements in (busybox's sleep takes seconds)
                    "command": ["sleep", "31536000"],
                    "resources": {"requests": {"cpu": "100m", "memory": "32Mi"}},
                }
            ],
        },
    }


def cilium_egress_policy(*, ns: str, egress_ip: str | None, server_ip: str) -> dict[str, Any]:
    """CiliumEgressGatewayPolicy (cilium.io/v2): the client pod's traffic to the server leaves through the node
    labelled as the gateway, SNATed to ``egress_ip`` (which must be on one of that node's interfaces); without an
    egress IP Cilium uses the gateway node's own address."""
    gateway: dict[str, Any] = {"nodeSelector": {"matchLabels": {GATEWAY_NODE_LABEL: "true"}}}
    if egress_ip is not None:
        gateway["egressIP"] = egress_ip
    return {
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumEgressGatewayPolicy",
        "metadata": _meta(EGRESS_POLICY),
        "spec": {
            "selectors": [
                {
                    "podSelector": {
                        "matchLabels": {**_app(IPERF3_CLIENT), "io.kubernetes.pod.namespace": ns},
                    }
                }
            ],
            "destinationCIDRs": [f"{server_ip}/32"],
            "egressGateway": gateway,
        },
    }


def antrea_egress_policy(*, ns: str, egress_ip: str) -> list[dict[str, Any]]:
    """Antrea: an ExternalIPPool of exactly the egress IP on the gateway node (Antrea assigns it there) and an
    Egress (crd.antrea.io/v1beta1) for the client pod."""
    return [
        {
            "apiVersion": "crd.antrea.io/v1beta1",
            "kind": "ExternalIPPool",
            "metadata": _meta(EGRESS_POLICY),
            "spec": {
                "ipRanges": [{"start": egress_ip, "end": egress_ip}],
                "nodeSelector": {"matchLabels": {GATEWAY_NODE_LABEL: "true"}},
            },
        },
        {
            "apiVersion": "crd.antrea.io/v1beta1",
            "kind": "Egress",
            "metadata": _meta(EGRESS_POLICY),
            "spec": {
                "appliedTo": {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
                    "podSelector": {"matchLabels": _app(IPERF3_CLIENT)},
                },
                "egressIP": egress_ip,
                "externalIPPool": EGRESS_POLICY,
            },
        },
    ]


def echo_backends(*, ns: str, replicas: int) -> list[dict[str, Any]]:
    """N echo backends spread evenly over the schedulable nodes (a StatefulSet: stable pod names ``echo-0``... that
    the load script counts; each answers ``Hostname: <pod name>``) and the Service the route points at."""
    labels = _app(ECHO)
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": _meta(ECHO, ns, labels),
            "spec": {
                "serviceName": ECHO,
                "replicas": replicas,
                "podManagementPolicy": "Parallel",
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": {**MANAGED_BY, **labels}},
                    "spec": {
                        "topologySpreadConstraints": [
                            {
                                "maxSkew": 1,
                                "topologyKey": "kubernetes.io/hostname",
                                "whenUnsatisfiable": "DoNotSchedule",
                                # a tainted control plane holds no backend: it must not count as an empty domain
                                "nodeTaintsPolicy": "Honor",
                                "labelSelector": {"matchLabels": labels},
                            }
                        ],
                        "terminationGracePeriodSeconds": 1,
                        "containers": [
                            {
                                "name": "echo",
                                "image": pins.ECHO_IMAGE,
                                "args": ["--port", str(ECHO_PORT)],
                                "ports": [{"name": "http", "containerPort": ECHO_PORT}],
                                "readinessProbe": {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 2},
                                "resources": {"requests": {"cpu": "100m", "memory": "32Mi"}},
                            }
                        ],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(ECHO, ns, labels),
            "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
        },
    ]


def l4_service(*, ns: str, port: int) -> dict[str, Any]:
    """``gateway: l4``: a LoadBalancer Service straight to the backends (per connection, no proxy)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(f"{ECHO}-lb", ns, _app(ECHO)),
        "spec": {
            "type": "LoadBalancer",
            "selector": _app(ECHO),
            "ports": [{"name": "http", "port": port, "targetPort": "http"}],
        },
    }


def gateway_class_name(implementation: str) -> str:
    return f"cnibench-{implementation}"


def gateway_objects(*, ns: str, implementation: str, port: int, path: str) -> list[dict[str, Any]]:
    """GatewayClass, Gateway and HTTPRoute (gateway.networking.k8s.io/v1): ``path`` (PathPrefix, rewritten to ``/``)
    to the echo Service. The implementation's controller gives the Gateway a LoadBalancer Service."""
    controller = CILIUM_GATEWAY_CONTROLLER if implementation == "cilium" else ENVOY_GATEWAY_CONTROLLER
    cls = gateway_class_name(implementation)
    return [
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "GatewayClass",
            "metadata": _meta(cls),
            "spec": {"controllerName": controller},
        },
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "Gateway",
            "metadata": _meta(GATEWAY, ns),
            "spec": {
                "gatewayClassName": cls,
                "listeners": [{"name": "http", "protocol": "HTTP", "port": port}],
            },
        },
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": _meta(ROUTE, ns),
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
                        "backendRefs": [{"name": ECHO, "port": 80}],
                    }
                ],
            },
        },
    ]


def prometheus_config(*, ns: str, scrape_interval: str, exporter_port: int) -> dict[str, Any]:
    """Prometheus discovers the node_exporter pods (host network: the pod IP is the node's) and labels each series
    with its node's name, as the netns platform does."""
    return {
        "global": {"scrape_interval": scrape_interval, "scrape_timeout": scrape_interval},
        "scrape_configs": [
            {
                "job_name": "node",
                "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": [ns]}}],
                "relabel_configs": [
                    {
                        "source_labels": ["__meta_kubernetes_pod_label_app_kubernetes_io_name"],
                        "regex": NODE_EXPORTER,
                        "action": "keep",
                    },
                    {
                        "source_labels": ["__meta_kubernetes_pod_ip"],
                        "regex": "(.+)",
                        "replacement": f"$1:{exporter_port}",
                        "target_label": "__address__",
                    },
                    {"source_labels": ["__meta_kubernetes_pod_node_name"], "target_label": "node"},
                ],
            }
        ],
    }


def monitoring(*, ns: str, scrape_interval: str, exporter_port: int) -> list[dict[str, Any]]:
    """node_exporter on every node (a DaemonSet on the host network, reading the host's /proc and /sys, listening on
    ``exporter_port`` of the node) and one Prometheus allowed to list the pods of cnibench's namespace. The port is
    cnibench's own: 9100 belongs to a cluster's own node-exporter on most clusters. If it is taken anyway, the pod
    stays Pending (another pod's hostPort) or fails with "address already in use" (a process on the node), which
    the wait reports from the pod's status (FallbackToLogsOnError puts node_exporter's last log lines there)."""
    exporter = _app(NODE_EXPORTER)
    prom = _app(PROMETHEUS)
    config = yaml.safe_dump(
        prometheus_config(ns=ns, scrape_interval=scrape_interval, exporter_port=exporter_port), sort_keys=False
    )
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": _meta(NODE_EXPORTER, ns, exporter),
            "spec": {
                "selector": {"matchLabels": exporter},
                "template": {
                    "metadata": {"labels": {**MANAGED_BY, **exporter}},
                    "spec": {
                        "hostNetwork": True,
                        "hostPID": True,
                        "tolerations": [{"operator": "Exists"}],  # every node, the control plane too
                        "containers": [
                            {
                                "name": "node-exporter",
                                "image": pins.NODE_EXPORTER_IMAGE,
                                "args": [
                                    "--path.procfs=/host/proc",
                                    "--path.sysfs=/host/sys",
                                    f"--web.listen-address=:{exporter_port}",
                                    "--collector.disable-defaults",
                                    "--collector.cpu",
                                    "--collector.meminfo",
                                    "--collector.netdev",
                                ],
                                "ports": [{"name": "metrics", "containerPort": exporter_port}],
                                "readinessProbe": {
                                    "httpGet": {"path": "/", "port": exporter_port},
                                    "periodSeconds": 2,
                                },
                                "terminationMessagePolicy": "FallbackToLogsOnError",
                                "volumeMounts": [
                                    {"name": "proc", "mountPath": "/host/proc", "readOnly": True},
                                    {"name": "sys", "mountPath": "/host/sys", "readOnly": True},
                                ],
                                "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}},
                            }
                        ],
                        "volumes": [
                            {"name": "proc", "hostPath": {"path": "/proc"}},
                            {"name": "sys", "hostPath": {"path": "/sys"}},
                        ],
                    },
                },
            },
        },
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(PROMETHEUS, ns, prom)},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": _meta(PROMETHEUS, ns, prom),
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": _meta(PROMETHEUS, ns, prom),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": PROMETHEUS},
            "subjects": [{"kind": "ServiceAccount", "name": PROMETHEUS, "namespace": ns}],
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta(PROMETHEUS, ns, prom),
            "data": {"prometheus.yml": config},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": _meta(PROMETHEUS, ns, prom),
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": prom},
                "template": {
                    "metadata": {"labels": {**MANAGED_BY, **prom}},
                    "spec": {
                        "serviceAccountName": PROMETHEUS,
                        "containers": [
                            {
                                "name": "prometheus",
                                "image": pins.PROMETHEUS_IMAGE,
                                "args": [
                                    "--config.file=/etc/prometheus/prometheus.yml",
                                    "--storage.tsdb.path=/prometheus",
                                    f"--web.listen-address=:{PROMETHEUS_PORT}",
                                    "--log.level=warn",
                                ],
                                "ports": [{"name": "web", "containerPort": PROMETHEUS_PORT}],
                                "readinessProbe": {"httpGet": {"path": "/-/ready", "port": "web"}, "periodSeconds": 2},
                                "volumeMounts": [
                                    {"name": "config", "mountPath": "/etc/prometheus"},
                                    {"name": "data", "mountPath": "/prometheus"},
                                ],
                            }
                        ],
                        "volumes": [
                            {"name": "config", "configMap": {"name": PROMETHEUS}},
                            {"name": "data", "emptyDir": {}},
                        ],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(PROMETHEUS, ns, prom),
            "spec": {"selector": prom, "ports": [{"name": "web", "port": PROMETHEUS_PORT, "targetPort": "web"}]},
        },
    ]


# ------------------------------------------------------------------------------------------------ files


def iperf3_server_argv(bind: str | None = None) -> list[str]:
    """The external server: one long-lived ``iperf3 -s`` serving the repetitions one after the other, in JSON (the
    client's --get-server-output then carries the server's view, with the address it saw)."""
    return ["iperf3", "--server", "--json", *(["--bind", bind] if bind else []), "--port", str(iperf3.DEFAULT_PORT)]
