"""Waiting on a cluster at run time, each with a deadline (:func:`cnibench.proc.wait_until`, never a bare sleep):
pods ready (failing at once with the reason when they cannot become ready), the egress path seen by the external
server, a Gateway's (or LoadBalancer Service's) address, the route answering through it."""

from __future__ import annotations

import time
import urllib.error
from collections.abc import Sequence
from typing import Any

from cnibench import direct
from cnibench.errors import PlatformError
from cnibench.platforms.kube.cluster import Node, parse_nodes, pod_node
from cnibench.platforms.kube.kubectl import Kubectl
from cnibench.proc import CommandError, run, wait_until

# ------------------------------------------------------------------------------------------------ pods


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


def _ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions", []) or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def wait_pods_ready(kubectl: Kubectl, selector: str, *, expected: int, timeout: float, what: str) -> float:
    """Until ``expected`` pods matching ``selector`` are Ready; fails at once with :func:`pods_problem`'s reason, or
    at the deadline. Returns the seconds waited. Raises PlatformError."""
    start = time.monotonic()
    ready = 0

    def all_ready() -> bool | None:
        nonlocal ready
        pods = kubectl.json("get", "pods", "--selector", selector)
        ready = sum(_ready(p) for p in pods.get("items", []))
        if ready >= expected:
            return True
        problem = pods_problem(pods, what=what)
        if problem is not None:
            raise PlatformError(problem)
        return None

    if wait_until(all_ready, timeout, interval=2) is None:
        raise PlatformError(f"{what}: {ready} of {expected} pods ready after {timeout:g} s")
    return time.monotonic() - start


# ------------------------------------------------------------------------------------------------ egress


def expected_source(
    mode: str, *, nodes: Sequence[Node], client_node: str, gateway_node: str, egress_ip: str | None
) -> str:
    """Who the external server must see (:func:`cnibench.scenarios.egress.expected_source`, the rule netns uses
    too), with the nodes' InternalIPs as the cluster reports them. Raises PlatformError for a node without one."""
    from cnibench.scenarios.egress import expected_source as rule

    ips = {n.name: n.ip for n in nodes}
    found = rule(mode == "policy", client_node_ip=ips.get(client_node), gateway_node_ip=ips.get(gateway_node),
                 egress_ip=egress_ip)  # fmt: skip
    if found is None:
        raise PlatformError(f"no InternalIP for node {client_node if mode == 'baseline' else gateway_node}")
    return found


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
    """The client address the server saw, from the client's ``--get-server-output`` JSON (None: unreadable)."""
    from cnibench.tools.iperf3 import parse_client_json

    try:
        return parse_client_json(iperf3_json).source_ip_seen
    except Exception:
        return None


#: The spec fields that state what the server sees, per mode (see :func:`egress_ready`).
STATED_SOURCE_FIELD = {"baseline": "scenarios.egress.baseline_source_ip", "policy": "scenarios.egress.egress_source_ip"}


def wait_source(
    probe: Sequence[str], expected: str, *, timeout: float, interval: float = 0.5, what: str = "", hint: str = ""
) -> tuple[float, str | None]:
    """Probe until the server sees ``expected``; return the seconds it took and the address seen. Raises
    PlatformError at the deadline naming the last address seen, ``what`` the expected address is and ``hint``.

    This is the time an egress policy takes to be realised in the datapath (``egress_apply_s``)."""
    start = time.monotonic()
    seen: str | None = None

    def sees_expected() -> str | None:
        nonlocal seen
        try:
            seen = seen_by_server(run(probe, timeout=30, check=False).stdout)
        except CommandError:  # timed out, or kubectl is gone: not yet
            seen = None
        return seen if seen == expected else None

    if wait_until(sees_expected, timeout, interval=interval) is None:
        expected_text = f"{what} {expected}" if what else expected
        if seen is None:
            raise PlatformError(
                f"the external server saw nothing within {timeout:g} s, expected {expected_text} (does the probe reach "
                "it?)"
            )
        raise PlatformError(
            f"the external server saw {seen}, not {expected_text}, for {timeout:g} s" + (f": {hint}" if hint else "")
        )
    return time.monotonic() - start, seen


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
    stated_source: str | None = None,
) -> dict[str, Any]:
    """Baseline: wait until the server sees the client's node. Policy: apply it and time until the server sees
    the egress IP (``egress_apply_s``). ``stated_source``: what the server sees instead, as the spec states it
    (:data:`STATED_SOURCE_FIELD`: behind a NAT, or a node whose default route is not on its InternalIP's interface).
    Returns the expectations the repetitions are checked against."""
    nodes = parse_nodes(kubectl.json("get", "nodes", namespaced=False))
    client_node = pod_node(kubectl, pod)
    if client_node == gateway_node:
        raise PlatformError(f"the client pod runs on the gateway node {gateway_node}")
    found = expected_source(mode, nodes=nodes, client_node=client_node, gateway_node=gateway_node, egress_ip=egress_ip)
    expected = stated_source or found
    field = STATED_SOURCE_FIELD[mode]
    if stated_source:
        what, hint = f"{field}", f"the spec states that address (the default would be {found})"
    elif mode == "baseline":
        what = f"the client node {client_node}'s InternalIP"
        hint = (
            f"behind a NAT or a firewall, or where the node's default route leaves through another interface, "
            f"state the address the server sees in {field}"
        )
    elif egress_ip is not None:
        what, hint = (
            "the egress IP",
            f"is the policy realised? Behind a NAT, state the address the server sees in {field}",
        )
    else:
        what = f"the gateway node {gateway_node}'s InternalIP"
        hint = (
            "Cilium without egressIP uses the first IPv4 address of the gateway node's default-route interface; "
            f"state the address the server sees in {field}, or set egress_ip"
        )
    probe = probe_argv(kubectl, pod, server_ip, port)
    if mode == "baseline":
        wait_source(probe, expected, timeout=timeout, what=what, hint=hint)
        return {"expected_source_ip": expected, "client_node": client_node}
    assert manifest is not None
    start = time.monotonic()
    run(kubectl.argv("apply", "--filename", manifest, namespaced=False), timeout=120)
    wait_source(probe, expected, timeout=timeout, what=what, hint=hint)
    return {
        "expected_source_ip": expected,
        "egress_ip": expected,
        "egress_apply_s": round(time.monotonic() - start, 3),
        "client_node": client_node,
        "gateway_node": gateway_node,
    }


# ------------------------------------------------------------------------------------------------ ingress


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
    forward yet (health probes), and the first repetition must not measure that. Raises PlatformError."""
    start = time.monotonic()
    good = 0
    last = "no answer yet"

    def answers() -> bool | None:
        nonlocal good, last
        try:
            with direct.urlopen(url, timeout=2) as response:  # the run's own gateway, never through a proxy
                body = response.read(4096).decode(errors="replace")
            good = good + 1 if "Hostname:" in body else 0
            last = f"HTTP {response.status} without a Hostname line" if "Hostname:" not in body else last
        except (urllib.error.URLError, OSError) as exc:
            good, last = 0, str(getattr(exc, "reason", exc))
        return True if good >= consecutive else None

    if wait_until(answers, timeout, interval=0.5) is None:
        raise PlatformError(f"{url} did not answer within {timeout:g} s: {last}")
    return time.monotonic() - start


def wait_address(
    kubectl: Kubectl, kind: str, name: str, *, expected: str | None, timeout: float, probe: str | None = None
) -> str:
    """The Gateway's (or LoadBalancer Service's) address once it is there, programmed, and, with ``probe`` (the
    route's URL with ``@address@``), answering through it. Raises PlatformError."""
    resource = "gateways.gateway.networking.k8s.io" if kind == "Gateway" else "service"
    deadline = time.monotonic() + timeout
    address: str | None = None

    def ready() -> str | None:
        nonlocal address
        obj = kubectl.json("get", resource, name)
        address = load_balancer_address(kind, obj)
        if address is None or (kind == "Gateway" and not programmed(obj)):
            return None
        if expected is not None and address != expected:
            raise PlatformError(f"{kind} {name} got {address}, expected {expected} (the MetalLB pool)")
        return address

    found = wait_until(ready, timeout, interval=1)
    if found is None:
        state = "is not programmed" if address else "has no address"
        raise PlatformError(f"{kind} {name} {state} after {timeout:g} s (is a load balancer there?)")
    if probe is not None:
        wait_http(probe.replace("@address@", found), timeout=max(deadline - time.monotonic(), 30))
    return found
