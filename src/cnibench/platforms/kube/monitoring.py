"""Node metrics on Kubernetes: node_exporter on every node (a DaemonSet on the host network) and one Prometheus in
cnibench's namespace, their manifests, and reaching Prometheus through ``kubectl port-forward`` at run time (to wait
until every node is scraped, and to query each repetition's window)."""

from __future__ import annotations

import contextlib
import re
import select
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from cnibench import pins
from cnibench.errors import PlatformError
from cnibench.metrics.prometheus import PROMETHEUS_PORT
from cnibench.platforms.kube.kubectl import Kubectl
from cnibench.platforms.kube.render import MANAGED_BY, MANIFESTS
from cnibench.platforms.kube.render import app as _app
from cnibench.platforms.kube.render import meta as _meta
from cnibench.platforms.kube.waits import wait_pods_ready
from cnibench.proc import error_summary

if TYPE_CHECKING:
    from cnibench.platforms.kube.build import ClusterBuild

PROMETHEUS = "prometheus"
NODE_EXPORTER = "node-exporter"
#: Seconds to wait until Prometheus scrapes every node_exporter, once the pods are ready.
TARGETS_TIMEOUT = 120.0
_FORWARDING = re.compile(r"Forwarding from 127\.0\.0\.1:([0-9]+) ->")

# ------------------------------------------------------------------------------------------------ manifests


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


def manifests(*, ns: str, scrape_interval: str, exporter_port: int, conntrack: bool = False) -> list[dict[str, Any]]:
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
                                    # a request/response workload's conntrack table per node
                                    *(["--collector.conntrack"] if conntrack else []),
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


def metrics_vars(*, exporter_port: int, scrape_interval_s: float, uplinks: str, ready_timeout: float) -> dict[str, Any]:
    """How the playbook's wait and each repetition reach Prometheus (the module parameter ``metrics``)."""
    return {
        "service": f"svc/{PROMETHEUS}",
        "port": PROMETHEUS_PORT,
        "daemonset": NODE_EXPORTER,
        "exporter_port": exporter_port,
        "scrape_interval_s": scrape_interval_s,
        "uplinks": uplinks,
        "timeout": TARGETS_TIMEOUT,
        "ready_timeout": ready_timeout,
        "prometheus": PROMETHEUS,
    }


def compile_step(build: ClusterBuild) -> None:
    """Monitoring on one CNI's cluster, when the run has metrics: the manifests rendered, how the playbook reaches
    Prometheus (``monitoring`` in the cluster's variables; None without metrics) and the step ``plan`` shows."""
    from cnibench.tools.workload import watches_conntrack

    spec, kube = build.spec, build.kube
    if not spec.metrics.enabled:
        build.vars["monitoring"] = None
        return
    ns, port = kube.namespace, kube.node_exporter_port
    manifest = build.add(
        MANIFESTS / "20-monitoring.yaml",
        manifests(
            ns=ns,
            scrape_interval=spec.metrics.scrape_interval,
            exporter_port=port,
            conntrack=watches_conntrack(spec.scenarios),
        ),
    )
    metrics = metrics_vars(
        exporter_port=port,
        scrape_interval_s=spec.metrics.interval_s,
        uplinks=kube.node_uplinks,
        ready_timeout=float(kube.ready_timeout),
    )
    # whose CPUs node_exporter sees: kind's nodes are containers of this machine, real nodes their own
    metrics["cpu_scope"] = spec.platform_class.cpu_scope
    build.vars["monitoring"] = {"manifest": str(manifest), "metrics": metrics}
    build.steps.append(
        f"deploy node_exporter (DaemonSet, host network, port {port} of every node: kubernetes.node_exporter_port) "
        f"and Prometheus (scrape every {spec.metrics.scrape_interval}) in {ns}; wait until every node_exporter "
        "is ready (a port taken on a node is reported with the node) and every node is scraped"
    )


# ------------------------------------------------------------------------------------------------ at run time


@contextlib.contextmanager
def port_forward(kubectl: Kubectl, target: str, port: int, *, timeout: float = 30) -> Iterator[str]:
    """``kubectl port-forward`` to ``target`` (e.g. ``svc/prometheus``) on a free local port; yields the URL and
    stops the forwarder afterwards. Raises PlatformError when kubectl says no local port within ``timeout``."""
    proc = subprocess.Popen(
        kubectl.argv("port-forward", target, f"0:{port}", "--address", "127.0.0.1"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout
        local: str | None = None
        while local is None:
            # a silent kubectl must not hang the measurement: wait for its line with the deadline
            ready, _, _ = select.select([proc.stdout], [], [], max(deadline - time.monotonic(), 0))
            if not ready:
                raise PlatformError(f"kubectl port-forward {target}: no local port within {timeout:g} s")
            line = proc.stdout.readline()
            if not line:
                err = proc.stderr.read() if proc.stderr else ""
                raise PlatformError(f"kubectl port-forward {target} failed: {error_summary(err) or 'no output'}")
            match = _FORWARDING.search(line)
            if match:
                local = match.group(1)
            elif time.monotonic() > deadline:
                raise PlatformError(f"kubectl port-forward {target}: no local port within {timeout:g} s")
        yield f"http://127.0.0.1:{local}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def fetch_metrics(kubectl: Kubectl, metrics: dict[str, Any], *, started_at: float, ended_at: float) -> str | None:
    """Query the in-cluster Prometheus over one measurement window; returns why the metrics are missing, or None."""
    from cnibench.metrics.prometheus import PrometheusError, fetch_window

    try:
        with port_forward(kubectl, metrics["service"], int(metrics["port"])) as url:
            fetch_window(
                url,
                start=started_at + float(metrics.get("offset", 0)),
                end=ended_at,
                scrape_interval_s=float(metrics["scrape_interval_s"]),
                out_dir=Path(metrics["out"]),
                uplinks=str(metrics["uplinks"]),
                idle=(started_at, started_at + float(metrics["idle_s"])) if metrics.get("idle_s") else None,
                cpu_scope=str(metrics.get("cpu_scope", "nodes")),
            )
    except (PrometheusError, PlatformError, OSError) as exc:
        return str(exc)
    return None


def wait_metrics(kubectl: Kubectl, metrics: dict[str, Any]) -> float:
    """Wait until node_exporter runs on every node (its port free there), Prometheus is ready, and Prometheus
    scrapes every node_exporter (as many as the DaemonSet schedules). Returns the seconds the last wait took.
    Raises PlatformError."""
    from cnibench.metrics.prometheus import PrometheusError, wait_targets_up

    ds = kubectl.json("get", "daemonset", str(metrics["daemonset"]))
    expected = int(ds.get("status", {}).get("desiredNumberScheduled", 0)) or 1
    ready_timeout = float(metrics.get("ready_timeout", metrics["timeout"]))
    port = metrics.get("exporter_port")
    what = f"node_exporter (host port {port}: kubernetes.node_exporter_port)" if port else "node_exporter"
    wait_pods_ready(kubectl, f"app.kubernetes.io/name={metrics['daemonset']}", expected=expected,
                    timeout=ready_timeout, what=what)  # fmt: skip
    if metrics.get("prometheus"):
        wait_pods_ready(kubectl, f"app.kubernetes.io/name={metrics['prometheus']}", expected=1,
                        timeout=ready_timeout, what="prometheus")  # fmt: skip
    try:
        with port_forward(kubectl, metrics["service"], int(metrics["port"])) as url:
            return wait_targets_up(url, expected, float(metrics["timeout"]))
    except PrometheusError as exc:
        raise PlatformError(str(exc)) from None
