"""What the Kubernetes platforms do at run time, behind the collection's modules: kubectl calls, reading the
cluster's state (nodes, CNI), waiting for the egress policy, port-forwarding to Prometheus, measuring.

The parsing and deciding parts are pure functions of kubectl's JSON and are unit-tested; the rest is thin.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import re
import select
import subprocess
import time
import urllib.error
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnibench import direct
from cnibench.errors import PlatformError
from cnibench.proc import CommandError, error_summary, run

#: DaemonSets that give a CNI away, and the container whose image tag is its version.
CNI_DAEMONSETS: dict[str, tuple[str, str]] = {
    "cilium": ("cilium", "cilium-agent"),
    "antrea": ("antrea-agent", "antrea-agent"),
    "calico": ("calico-node", "calico-node"),
    "flannel": ("kube-flannel-ds", "kube-flannel"),
    "azure-cni": ("azure-cns", "cns-container"),
    "kindnet": ("kindnet", "kindnet-cni"),
}
CONTROL_PLANE_LABELS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")
_FORWARDING = re.compile(r"Forwarding from 127\.0\.0\.1:([0-9]+) ->")


@dataclass(frozen=True)
class Kubectl:
    """kubectl pointed at one cluster (kubeconfig and context) and cnibench's namespace."""

    kubeconfig: str | None
    context: str | None
    namespace: str

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Kubectl:
        """From a module's parameters (the collection's KUBECTL_ARGS)."""
        return cls(params.get("kubeconfig"), params.get("context"), str(params["namespace"]))

    def argv(self, *args: str, namespaced: bool = True) -> list[str]:
        base = ["kubectl"]
        if self.kubeconfig:
            base += ["--kubeconfig", self.kubeconfig]
        if self.context:
            base += ["--context", self.context]
        if namespaced:
            base += ["--namespace", self.namespace]
        return [*base, *args]

    def json(self, *args: str, namespaced: bool = True, timeout: float = 60) -> Any:
        proc = run(self.argv(*args, "-o", "json", namespaced=namespaced), timeout=timeout)
        try:
            return json.loads(proc.stdout)
        except ValueError as exc:
            raise PlatformError(f"kubectl {' '.join(args)}: not JSON: {exc}") from None


# ------------------------------------------------------------------------------------------------ reading


@dataclass(frozen=True)
class Node:
    name: str
    ip: str | None
    ready: bool
    control_plane: bool
    schedulable: bool
    labels: dict[str, str]


def parse_nodes(node_list: dict[str, Any]) -> list[Node]:
    """``kubectl get nodes -o json`` -> nodes with their InternalIP, readiness and role."""
    nodes: list[Node] = []
    for item in node_list.get("items", []):
        meta, spec, status = item.get("metadata", {}), item.get("spec", {}), item.get("status", {})
        labels = meta.get("labels", {}) or {}
        ip = next((a["address"] for a in status.get("addresses", []) if a.get("type") == "InternalIP"), None)
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions", []))
        taints = spec.get("taints", []) or []
        schedulable = not spec.get("unschedulable", False) and not any(
            t.get("effect") in ("NoSchedule", "NoExecute") for t in taints
        )
        nodes.append(
            Node(
                name=meta["name"],
                ip=ip,
                ready=ready,
                control_plane=any(label in labels for label in CONTROL_PLANE_LABELS),
                schedulable=schedulable,
                labels=labels,
            )
        )
    return nodes


def pick_gateway_node(nodes: Sequence[Node], preferred: str | None = None) -> str:
    """The egress gateway node: ``preferred`` (kind's first worker) or the first ready, schedulable worker by name.
    Another schedulable worker must remain for the client pod."""
    workers = sorted((n for n in nodes if n.ready and n.schedulable and not n.control_plane), key=lambda n: n.name)
    if len(workers) < 2:
        raise PlatformError(
            f"the egress scenario needs two ready, schedulable worker nodes (a gateway and a client); "
            f"found {len(workers)}: {', '.join(n.name for n in workers) or 'none'}"
        )
    if preferred is not None:
        if preferred not in {n.name for n in workers}:
            raise PlatformError(f"node {preferred} is not a ready, schedulable worker")
        return preferred
    return workers[0].name


def cni_namespace(daemonsets: dict[str, Any], cni: str) -> str:
    """The namespace of ``cni``'s agent DaemonSet (kube-system unless installed elsewhere)."""
    ds_name = CNI_DAEMONSETS[cni][0]
    for item in daemonsets.get("items", []):
        if item["metadata"]["name"] == ds_name:
            return str(item["metadata"].get("namespace") or "kube-system")
    return "kube-system"


def detect_cni(daemonsets: dict[str, Any]) -> tuple[str, str | None]:
    """``kubectl get daemonsets -A -o json`` -> (CNI name, version from its agent's image tag), or ("unknown", None)."""
    by_name = {item["metadata"]["name"]: item for item in daemonsets.get("items", [])}
    for cni, (ds_name, container) in CNI_DAEMONSETS.items():
        item = by_name.get(ds_name)
        if item is None:
            continue
        containers = item.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
        image = next((c.get("image", "") for c in containers if c.get("name") == container), "")
        return cni, image_version(image)
    return "unknown", None


#: The Gateway API CRDs Cilium's operator requires when it starts (Cilium 1.19 docs, network/servicemesh/gateway-api/
#: installation.rst: GatewayClass, Gateway, HTTPRoute, GRPCRoute and ReferenceGrant "must be pre-installed").
CILIUM_GATEWAY_CRDS = tuple(
    f"{plural}.gateway.networking.k8s.io"
    for plural in ("gatewayclasses", "gateways", "httproutes", "grpcroutes", "referencegrants")
)
#: Values of cilium-config's kube-proxy-replacement that mean "on" (Cilium < 1.14 said "strict").
_KPR_ON = ("true", "strict")


def cilium_gateway_problems(
    crds: dict[str, Any], config: dict[str, Any] | None, operator_pods: dict[str, Any]
) -> list[str]:
    """What keeps Cilium's own Gateway API from serving cnibench's Gateway on an existing cluster, from
    ``kubectl get crd <names> -o json``, the ``cilium-config`` ConfigMap and the operator's pods.

    Cilium's operator looks for the Gateway API CRDs once, when it starts (cilium PR #28982: without them the
    Gateway controllers are not registered; cilium#29207, closed without a watcher), so CRDs that cnibench would
    install later, or that came after the operator started, leave the Gateway unprogrammed until the deadline.
    Its ConfigMap must have ``enable-gateway-api: "true"`` and ``kube-proxy-replacement: "true"``
    (install/kubernetes/cilium/templates/cilium-configmap.yaml). Returns one phrase per problem."""
    problems: list[str] = []
    found = {item["metadata"]["name"]: item for item in crds.get("items", [])}
    missing = [name for name in CILIUM_GATEWAY_CRDS if name not in found]
    if missing:
        problems.append(
            f"the Gateway API CRDs {', '.join(missing)} are missing (install the standard channel, then restart "
            "cilium-operator: it looks for them only when it starts)"
        )
    data = (config or {}).get("data") or {}
    if config is None:
        problems.append("ConfigMap cilium-config not found")
    else:
        if data.get("enable-gateway-api") != "true":
            problems.append('cilium-config has no enable-gateway-api: "true" (Helm: gatewayAPI.enabled=true)')
        if data.get("kube-proxy-replacement") not in _KPR_ON:
            problems.append(
                f"cilium-config has kube-proxy-replacement: {data.get('kube-proxy-replacement', 'unset')!r}, "
                'Cilium\'s Gateway API needs "true" (Helm: kubeProxyReplacement=true)'
            )
    started = [
        (c.get("state") or {}).get("running", {}).get("startedAt")
        for pod in operator_pods.get("items", [])
        for c in (pod.get("status") or {}).get("containerStatuses", []) or []
    ]
    started = [t for t in started if t]
    created = [str(item["metadata"].get("creationTimestamp", "")) for item in found.values()]
    if started and created and not missing and max(created) > min(started):  # RFC 3339 UTC: compares as text
        problems.append(
            f"the Gateway API CRDs were created ({max(created)}) after cilium-operator started ({min(started)}): "
            "restart it (kubectl -n kube-system rollout restart deployment/cilium-operator)"
        )
    return problems


def check_cilium_gateway(kubectl: Kubectl, cilium_namespace: str) -> None:
    """Refuse, before cnibench creates anything, an existing cluster whose Cilium cannot program the Gateway."""
    crds = kubectl.json("get", "crd", *CILIUM_GATEWAY_CRDS, "--ignore-not-found", namespaced=False)
    config = existing(kubectl, "configmap", "cilium-config", namespace=cilium_namespace)
    pods = kubectl.json(
        "get", "pods", "--namespace", cilium_namespace, "--selector", "io.cilium/app=operator", namespaced=False
    )
    problems = cilium_gateway_problems(crds if isinstance(crds, dict) else {}, config, pods)
    if problems:
        raise PlatformError(
            "gateway_implementation cilium needs Cilium's Gateway API ready before cnibench starts: "
            + "; ".join(problems)
            + " (or use gateway_implementation: envoy-gateway)"
        )


def image_version(image: str) -> str | None:
    """``quay.io/cilium/cilium:v1.19.4@sha256:...`` -> ``1.19.4``."""
    name = image.split("@", 1)[0]
    if ":" not in name.rsplit("/", 1)[-1]:
        return None
    return name.rsplit(":", 1)[1].removeprefix("v")


def kind_network_subnets(inspect: list[dict[str, Any]]) -> list[str]:
    """``docker network inspect kind`` -> its IPv4 subnets."""
    subnets: list[str] = []
    for network in inspect:
        for config in (network.get("IPAM") or {}).get("Config") or []:
            subnet = config.get("Subnet", "")
            with contextlib.suppress(ValueError):
                if ipaddress.ip_network(subnet).version == 4:
                    subnets.append(subnet)
    return subnets


def check_kind_network(inspect: list[dict[str, Any]], expected: str) -> None:
    """kind's docker network must be the spec's ``network.node_cidr``: the egress IP, the server and the
    LoadBalancer IP were chosen in it."""
    subnets = kind_network_subnets(inspect)
    if expected not in subnets:
        raise PlatformError(
            f"kind's docker network is {', '.join(subnets) or 'without an IPv4 subnet'}, the spec's network.node_cidr "
            f"is {expected}: set network.node_cidr to kind's subnet (docker network inspect kind)"
        )


def kind_network_check(expected: str) -> list[str]:
    """``docker network inspect kind`` must show ``expected`` (right after the cluster is created, before the CNI);
    returns its IPv4 subnets. Raises PlatformError naming both."""
    inspect = json.loads(run(["docker", "network", "inspect", "kind"], timeout=60).stdout)
    check_kind_network(inspect, expected)
    return kind_network_subnets(inspect)


# ------------------------------------------------------------------------------------------------ egress


def expected_source(
    mode: str, *, nodes: Sequence[Node], client_node: str, gateway_node: str, egress_ip: str | None
) -> str:
    """Who the external server must see: the client's node (baseline: the node masquerades) or the egress IP
    (the policy; without one, Cilium uses the gateway node's own address)."""
    by_name = {n.name: n for n in nodes}
    if mode == "baseline":
        node = by_name.get(client_node)
    elif egress_ip is not None:
        return egress_ip
    else:
        node = by_name.get(gateway_node)
    if node is None or node.ip is None:
        raise PlatformError(f"no InternalIP for node {client_node if mode == 'baseline' else gateway_node}")
    return node.ip


def probe_argv(kubectl: Kubectl, pod: str, server_ip: str, port: int) -> list[str]:
    """A tiny iperf3 test from the client pod whose server-side JSON says which address the server saw."""
    return kubectl.argv(
        "exec",
        pod,
        "--",
        "iperf3",
        "--client",
        server_ip,
        "--port",
        str(port),
        "--bytes",
        "64K",
        "--json",
        "--get-server-output",
        "--connect-timeout",
        "2000",
    )


def seen_by_server(iperf3_json: str) -> str | None:
    from cnibench.tools.iperf3 import parse_client_json

    try:
        return parse_client_json(iperf3_json).source_ip_seen
    except Exception:
        return None


def wait_source(
    probe: Sequence[str], expected: str, *, timeout: float, interval: float = 0.5
) -> tuple[float, str | None]:
    """Probe until the server sees ``expected``; return the seconds it took and the last address seen.

    This is the time an egress policy takes to be realised in the datapath (``egress_apply_s``)."""
    start = time.monotonic()
    seen: str | None = None
    while True:
        try:
            seen = seen_by_server(run(probe, timeout=30, check=False).stdout)
        except CommandError:  # timed out, or kubectl is gone: not yet
            seen = None
        if seen == expected:
            return time.monotonic() - start, seen
        if time.monotonic() - start > timeout:
            raise PlatformError(
                f"the external server did not see {expected} within {timeout:g} s (last seen: {seen or 'nothing'})"
            )
        time.sleep(interval)


# ------------------------------------------------------------------------------------------------ Prometheus


@contextlib.contextmanager
def port_forward(kubectl: Kubectl, target: str, port: int, *, timeout: float = 30) -> Iterator[str]:
    """``kubectl port-forward`` to ``target`` (e.g. ``svc/prometheus``) on a free local port; yields the URL and
    stops the forwarder afterwards."""
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
            )
    except (PrometheusError, PlatformError, OSError) as exc:
        return str(exc)
    return None


def pods_problem(pods: dict[str, Any], *, what: str) -> str | None:
    """Why pods (``kubectl get pods -o json``) cannot become ready, or None while they may still: a pod the scheduler
    cannot place (e.g. "node(s) didn't have free ports for the requested pod ports": another pod holds the host
    port) or a container that keeps failing (its termination message, e.g. node_exporter's "listen tcp :19100:
    bind: address already in use": a process on the node has the port). Pure: tests feed recorded shapes."""
    for pod in pods.get("items", []):
        meta, status = pod.get("metadata", {}), pod.get("status", {}) or {}
        where = f"{what} pod {meta.get('name', '?')}" + (
            f" on node {pod['spec']['nodeName']}" if (pod.get("spec") or {}).get("nodeName") else ""
        )
        for condition in status.get("conditions", []) or []:
            unschedulable = condition.get("status") == "False" and condition.get("reason") == "Unschedulable"
            if condition.get("type") == "PodScheduled" and unschedulable:
                return f"{where} cannot be scheduled: {condition.get('message', '').strip()}"
        for container in status.get("containerStatuses", []) or []:
            waiting = (container.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") not in ("CrashLoopBackOff", "CreateContainerError", "RunContainerError"):
                continue
            last = (container.get("lastState") or {}).get("terminated") or {}
            message = " ".join((last.get("message") or waiting.get("message") or "").split())
            return f"{where} keeps failing ({waiting['reason']}): {message[-300:] or 'no message'}"
    return None


def wait_pods_ready(kubectl: Kubectl, selector: str, *, expected: int, timeout: float, what: str) -> float:
    """Until ``expected`` pods matching ``selector`` are Ready; fails at once with :func:`pods_problem`'s reason, or
    at the deadline. Returns the seconds waited."""
    start = time.monotonic()
    while True:
        pods = kubectl.json("get", "pods", "--selector", selector)
        ready = sum(
            any(c.get("type") == "Ready" and c.get("status") == "True" for c in (p.get("status") or {}).get(
                "conditions", []) or [])
            for p in pods.get("items", [])
        )  # fmt: skip
        if ready >= expected:
            return time.monotonic() - start
        problem = pods_problem(pods, what=what)
        if problem is not None:
            raise PlatformError(problem)
        if time.monotonic() - start > timeout:
            raise PlatformError(f"{what}: {ready} of {expected} pods ready after {timeout:g} s")
        time.sleep(2)


def wait_metrics(kubectl: Kubectl, metrics: dict[str, Any]) -> float:
    """Wait until node_exporter runs on every node (its port free there), Prometheus is ready, and Prometheus
    scrapes every node_exporter (as many as the DaemonSet schedules)."""
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


# ------------------------------------------------------------------------------------------------ modules


def substitute(argv: Sequence[str], values: dict[str, Any]) -> list[str]:
    """Fill ``@name@`` placeholders (values known only at run time, like the Gateway's address)."""
    out: list[str] = []
    for arg in argv:
        for name, value in values.items():
            arg = arg.replace(f"@{name}@", str(value))
        if re.search(r"@[a-z_]+@", arg):
            raise PlatformError(f"no value for the placeholder in {arg!r}")
        out.append(arg)
    return out


def cluster_info(
    kubectl: Kubectl,
    *,
    expected_cni: str,
    egress: bool,
    preferred_gateway: str | None,
    cilium_gateway: bool = False,
) -> dict[str, Any]:
    """What the playbook needs to know about the cluster, and what the run records about it. ``cilium_gateway``
    (an existing cluster with Cilium's own Gateway API chosen) also checks Cilium can serve the Gateway."""
    nodes = parse_nodes(kubectl.json("get", "nodes", namespaced=False))
    daemonsets = kubectl.json("get", "daemonsets", "--all-namespaces", namespaced=False)
    cni, version = detect_cni(daemonsets)
    if cni != expected_cni:
        raise PlatformError(
            f"the cluster's CNI is {cni}{' ' + version if version else ''}, the spec says {expected_cni}: "
            "name the installed CNI in cnis"
        )
    if cilium_gateway:
        check_cilium_gateway(kubectl, cni_namespace(daemonsets, "cilium"))
    server = json.loads(run(kubectl.argv("version", "--output", "json", namespaced=False), timeout=60).stdout)
    namespace = existing(kubectl, "namespace", kubectl.namespace)
    if namespace is not None and not managed_by_cnibench(namespace):
        raise PlatformError(
            f"namespace {kubectl.namespace} exists and was not created by cnibench (no "
            f"app.kubernetes.io/managed-by=cnibench label): choose another kubernetes.namespace"
        )
    return {
        "gateway_api_present": existing(kubectl, "crd", "gateways.gateway.networking.k8s.io") is not None,
        "envoy_gateway_present": existing(kubectl, "deployment", "envoy-gateway", namespace="envoy-gateway-system")
        is not None,
        "cluster_facts": {
            "detected_cni": cni,
            "detected_cni_version": version,
            "kubernetes_version": server.get("serverVersion", {}).get("gitVersion"),
            "nodes": len(nodes),
            "node_ips": {n.name: n.ip for n in nodes},
        },
        "nodes": [{"name": n.name, "ip": n.ip, "ready": n.ready, "control_plane": n.control_plane} for n in nodes],
        "gateway_node": pick_gateway_node(nodes, preferred_gateway) if egress else None,
    }


def existing(kubectl: Kubectl, resource: str, name: str, *, namespace: str | None = None) -> dict[str, Any] | None:
    """The object, or None when there is none (``--ignore-not-found`` prints nothing then)."""
    args = ["get", resource, name, "--ignore-not-found", "--output", "json"]
    if namespace is not None:
        args += ["--namespace", namespace]
    out = run(kubectl.argv(*args, namespaced=False), timeout=60).stdout.strip()
    if not out:
        return None
    obj = json.loads(out)
    return obj if isinstance(obj, dict) else None


def managed_by_cnibench(obj: dict[str, Any]) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return bool(labels.get("app.kubernetes.io/managed-by") == "cnibench")


def pod_node(kubectl: Kubectl, pod: str) -> str:
    node = kubectl.json("get", "pod", pod).get("spec", {}).get("nodeName")
    if not node:
        raise PlatformError(f"pod {pod} is not scheduled")
    return str(node)


def egress_ready(
    kubectl: Kubectl,
    *,
    mode: str,
    manifest: str | None,
    pod: str,
    server_ip: str,
    port: int,
    egress_ip: str | None,
    gateway_node: str,
    timeout: float,
) -> dict[str, Any]:
    """Baseline: wait until the server sees the client's node. Policy: apply it and time until the server sees
    the egress IP (``egress_apply_s``). Returns the expectations the repetitions are checked against."""
    nodes = parse_nodes(kubectl.json("get", "nodes", namespaced=False))
    client_node = pod_node(kubectl, pod)
    if client_node == gateway_node:
        raise PlatformError(f"the client pod runs on the gateway node {gateway_node}")
    expected = expected_source(
        mode, nodes=nodes, client_node=client_node, gateway_node=gateway_node, egress_ip=egress_ip
    )
    probe = probe_argv(kubectl, pod, server_ip, port)
    if mode == "baseline":
        wait_source(probe, expected, timeout=timeout)
        return {"expected_source_ip": expected, "client_node": client_node}
    assert manifest is not None
    start = time.monotonic()
    run(kubectl.argv("apply", "--filename", manifest, namespaced=False), timeout=120)
    wait_source(probe, expected, timeout=timeout)
    return {
        "expected_source_ip": expected,
        "egress_ip": expected,
        "egress_apply_s": round(time.monotonic() - start, 3),
        "client_node": client_node,
        "gateway_node": gateway_node,
    }


def load_balancer_address(kind: str, obj: dict[str, Any]) -> str | None:
    """A Gateway's ``status.addresses[0].value`` or a Service's ``status.loadBalancer.ingress[0].ip``."""
    status = obj.get("status", {}) or {}
    if kind == "Gateway":
        addresses = status.get("addresses") or []
        return str(addresses[0]["value"]) if addresses else None
    ingress = (status.get("loadBalancer") or {}).get("ingress") or []
    if not ingress:
        return None
    return str(ingress[0].get("ip") or ingress[0].get("hostname") or "") or None


def programmed(obj: dict[str, Any]) -> bool:
    """A Gateway's ``Programmed`` condition is True (its data plane is ready, not only addressed)."""
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Programmed" and c.get("status") == "True" for c in conditions)


def wait_http(url: str, *, timeout: float, consecutive: int = 3) -> float:
    """Until ``url`` answers ``Hostname: ...`` several times in a row: a load balancer that has an address may not
    forward yet (health probes), and the first repetition must not measure that."""
    start = time.monotonic()
    good = 0
    last = "no answer yet"
    while good < consecutive:
        try:
            with direct.urlopen(url, timeout=2) as response:  # the run's own gateway, never through a proxy
                body = response.read(4096).decode(errors="replace")
            good = good + 1 if "Hostname:" in body else 0
            last = f"HTTP {response.status} without a Hostname line" if "Hostname:" not in body else last
        except (urllib.error.URLError, OSError) as exc:
            good, last = 0, str(getattr(exc, "reason", exc))
        if good < consecutive:
            if time.monotonic() - start > timeout:
                raise PlatformError(f"{url} did not answer within {timeout:g} s: {last}")
            time.sleep(0.5)
    return time.monotonic() - start


def wait_address(
    kubectl: Kubectl, kind: str, name: str, *, expected: str | None, timeout: float, probe: str | None = None
) -> str:
    """The Gateway's (or LoadBalancer Service's) address once it is there, programmed, and, with ``probe`` (the
    route's path), answering through it."""
    resource = "gateways.gateway.networking.k8s.io" if kind == "Gateway" else "service"
    deadline = time.monotonic() + timeout
    while True:
        obj = kubectl.json("get", resource, name)
        address = load_balancer_address(kind, obj)
        if address is not None and (kind != "Gateway" or programmed(obj)):
            if expected is not None and address != expected:
                raise PlatformError(f"{kind} {name} got {address}, expected {expected} (the MetalLB pool)")
            if probe is not None:
                wait_http(probe.replace("@address@", address), timeout=max(deadline - time.monotonic(), 30))
            return address
        if time.monotonic() > deadline:
            state = "is not programmed" if address else "has no address"
            raise PlatformError(f"{kind} {name} {state} after {timeout:g} s (is a load balancer there?)")
        time.sleep(1)
