"""The egress-change events on a live Kubernetes cluster (kind, kubeconfig): the pure parts the driver
(:mod:`cnibench.platforms.kube.scenarios._egress_change_run`) and the role's module (``kube_egress_change``) share —
where each process runs and how it is stopped by its PID, the argv of every tool, which gateway is active, how each
platform's gateway fails and comes back, and where the event's marker goes. Everything here builds argv lists or
reads JSON that ``ip -j`` and ``kubectl -o json`` print; nothing runs a command.

The driver runs on this machine; its processes run in three places (:class:`Place`): this machine (kubeconfig's
external server: tcpdump and the iperf3 servers), a container on kind's network (kind's external server:
``docker exec``) and the probe pods (``kubectl exec``). A process started through ``docker exec`` or ``kubectl exec``
outlives its client when the client is killed (neither forwards a signal), so it is started through ``sh`` that
first prints its own PID to standard error (:data:`PID_PREFIX`) and then ``exec``\\ s the tool: the driver stops it by
that PID in its place (``kill``), never by name. kind's server container and the probe pods run
``nicolaka/netshoot`` (:data:`cnibench.pins.IPERF3_IMAGE`), whose Dockerfile installs tcpdump, iperf3, nftables and
iproute2 on Alpine (busybox's ``sh``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from cnibench.errors import PlatformError

#: The first line a remote process's ``sh`` prints to standard error: this, then its PID (which ``exec`` keeps).
PID_PREFIX = "cnibench-pid "
_PID_SCRIPT = f'echo "{PID_PREFIX}$$" >&2; exec "$@"'
#: What each platform does to fail the active gateway (the README's table, ``FAILURE`` in the adapter).
Failure = Literal["link-down", "cordon"]


@dataclass(frozen=True)
class Place:
    """Where a process runs: ``prefix`` is the argv that runs a command there (empty: this machine; ``docker exec
    NAME``; ``kubectl ... exec POD --``)."""

    prefix: tuple[str, ...] = ()

    @property
    def local(self) -> bool:
        return not self.prefix

    def argv(self, command: Sequence[str]) -> list[str]:
        """``command`` as it runs here; elsewhere through ``sh``, which prints its PID first (:data:`PID_PREFIX`, on
        standard error) and then becomes the command (the arguments are passed as ``"$@"``, never parsed)."""
        if self.local:
            return list(command)
        return [*self.prefix, "sh", "-c", _PID_SCRIPT, "sh", *command]

    def once(self, command: Sequence[str]) -> list[str]:
        """``command`` run here to its end (no PID needed)."""
        return [*self.prefix, *command]

    def kill_argv(self, pid: int, signal: str = "TERM") -> list[str]:
        """Stop the process ``pid`` of this place (its in-place PID, read with :func:`read_pid`), with the shell's
        own ``kill`` (an image need not have the binary)."""
        return [*self.prefix, "sh", "-c", f'kill -{signal} "$1"', "sh", str(pid)]


def docker_place(container: str) -> Place:
    return Place(("docker", "exec", container))


def pod_place(kubectl: Sequence[str], pod: str) -> Place:
    """A pod, through ``kubectl`` (its argv up to the namespace: ``Kubectl.argv()``)."""
    return Place((*kubectl, "exec", pod, "--"))


def read_pid(line: str) -> int:
    """The PID in the first standard-error line of a remote process. Raises PlatformError when it is not there (the
    place could not start ``sh``: its message is that line)."""
    text = line.strip()
    if not text.startswith(PID_PREFIX) or not text[len(PID_PREFIX) :].isdigit():
        raise PlatformError(f"could not start the process: {text or 'no output'}")
    return int(text[len(PID_PREFIX) :])


# ---- the tools --------------------------------------------------------------------------------------------------
def tcpdump_argv(device: str, tcpdump: str = "tcpdump") -> list[str]:
    """The capture at the external server: every TCP and UDP packet on ``device``, packet-buffered pcap to standard
    output (``-w -``), 512 bytes of each (headers and the marker), without name resolution: the netns driver's."""
    return [tcpdump, "-i", device, "-n", "-U", "--immediate-mode", "-s", "512", "-w", "-", "udp or tcp"]


def iperf3_server_argv(server_ip: str, port: int, iperf3: str = "iperf3") -> list[str]:
    """A one-off iperf3 server (``-1``: it ends after one test, so a test an event broke cannot keep the next
    repetition's server busy) that says ``Server listening on PORT`` once it listens (``--forceflush``: at once,
    also into a pipe)."""
    return [iperf3, "-s", "-1", "-B", server_ip, "-p", str(port), "--forceflush"]


def iperf3_client_argv(server_ip: str, port: int, seconds: int, *extra: str) -> list[str]:
    return ["iperf3", "-c", server_ip, "-p", str(port), "-t", str(seconds), *extra]


def probe_argv(server_ip: str, port: int, seconds: int, *, bitrate: int, size: int) -> list[str]:
    """The probe: iperf3 UDP at ``bitrate`` bit/s of ``size``-byte datagrams, paced every 100 µs (as on netns)."""
    return iperf3_client_argv(server_ip, port, seconds, "-u", "-b", str(bitrate), "-l", str(size),
                              "--pacing-timer", "100")  # fmt: skip


def flow_argv(server_ip: str, port: int, seconds: int, *, bitrate: str) -> list[str]:
    """The established low-rate TCP flow of the failover: ``bitrate`` (iperf3 -b) in 128-byte writes."""
    return iperf3_client_argv(server_ip, port, seconds, "-b", bitrate, "-l", "128")


def client_seconds(lead: float, duration: float) -> int:
    """How long a client runs (s): past the lead and the window by 2 s, so it is still sending when the window
    closes; the driver stops it by PID then (it would end on its own a little later)."""
    return int(lead + duration + 0.999999) + 2


#: The nftables table the driver adds at the external server for a repetition (and deletes after it).
CAPTURE_TABLE = "cnibench_egress_change"


def no_port_unreachable_argvs(server_ip: str) -> tuple[list[list[str]], list[str]]:
    """The server sends no ICMP port unreachable from ``server_ip`` while a repetition runs, and the command that
    undoes it. The iperf3 server's UDP socket is connected to the probe's first source: a datagram from another
    source (the egress IP after the apply, the node's before it) would be answered with a port unreachable, which
    makes the probe's iperf3 quit (ECONNREFUSED); the stream must go on whatever source the server sees (netns's
    external namespace drops them the same way)."""
    table = ["ip", CAPTURE_TABLE]
    add = [
        ["nft", "add", "table", *table],
        ["nft", "add", "chain", *table, "output", "{ type filter hook output priority filter ; policy accept ; }"],
        ["nft", "add", "rule", *table, "output", "ip", "saddr", server_ip, "icmp", "type", "destination-unreachable",
         "counter", "drop"],
    ]  # fmt: skip
    return add, ["nft", "delete", "table", *table]


# ---- the capture's interface and the marker's way into it --------------------------------------------------------
def capture_interface(addresses: list[dict[str, Any]], server_ip: str) -> tuple[str, str]:
    """The interface that holds ``server_ip`` and its IPv4 broadcast address, from ``ip -j -4 address show``.

    kubeconfig: tcpdump captures there, and the marker is sent to that broadcast address: a datagram from this
    machine to its own ``server_ip`` would go through ``lo``, a broadcast leaves through the interface (and tcpdump
    sees outgoing frames). Raises PlatformError when no interface holds the address."""
    for link in addresses:
        for info in link.get("addr_info", []):
            if info.get("family") == "inet" and info.get("local") == server_ip:
                network = ipaddress.IPv4Network(f"{server_ip}/{info['prefixlen']}", strict=False)
                return str(link["ifname"]), str(info.get("broadcast") or network.broadcast_address)
    raise PlatformError(f"egress-change: no interface of this machine has server_ip {server_ip} (ip -4 address)")


# ---- the active gateway -----------------------------------------------------------------------------------------
def active_gateway(gateways: Sequence[str], owner: str | None) -> str:
    """The gateway node the selected traffic leaves through: the node the CNI reports as the egress IP's owner
    (Antrea's Egress ``status.egressNode``), or, for a CNI that reports none, the first gateway-capable node by name
    (Cilium: its egress gateway manager sorts the nodes by name and uses the first one the policy's nodeSelector
    matches: cilium/cilium pkg/egressgateway). Raises PlatformError for an owner that is not one of ``gateways``."""
    if owner is None:
        return sorted(gateways)[0]
    if owner not in gateways:
        raise PlatformError(f"the egress IP is on {owner}, not on a gateway node ({', '.join(gateways)})")
    return owner


def status_field(obj: dict[str, Any] | None, field: str) -> str | None:
    """``status.<field>`` of an object (``kubectl get -o json``), None while it is not set."""
    value = ((obj or {}).get("status") or {}).get(field)
    return str(value) if value else None


# ---- the failure and its undo ------------------------------------------------------------------------------------
def route_restore_argv(route: dict[str, Any]) -> list[str] | None:
    """``ip route replace`` for one route of ``ip -j -4 route show dev DEV`` (main table), or None for a route the
    kernel adds back by itself when the link comes up (``proto kernel``: the connected subnet). Setting a link down
    removes every route through it; these put them back."""
    if route.get("protocol") == "kernel":
        return None
    argv = ["ip", "route", "replace", str(route["dst"])]
    if route.get("gateway"):
        argv += ["via", str(route["gateway"])]
    argv += ["dev", str(route["dev"])]
    for key, word in (("protocol", "proto"), ("scope", "scope"), ("prefsrc", "src"), ("metric", "metric")):
        if route.get(key) not in (None, ""):
            argv += [word, str(route[key])]
    if "onlink" in route.get("flags", []):
        argv.append("onlink")
    return argv


def keep_ipv6_argv(device: str = "eth0") -> list[str]:
    """Before a link goes down: keep its IPv6 addresses (``keep_addr_on_down``; kind's network is dual-stack), which
    the kernel removes on a down link otherwise (run before the event, allowed to fail where IPv6 is off)."""
    return ["sysctl", "-q", "-w", f"net.ipv6.conf.{device}.keep_addr_on_down=1"]


def link_down_argvs(device: str = "eth0") -> list[list[str]]:
    """kind: the node container's link to kind's network goes down from inside the node (as netns's links: carrier
    lost for the others); its addresses stay, its IPv4 routes are restored afterwards (:func:`link_up_argvs`)."""
    return [["ip", "link", "set", device, "down"]]


def link_up_argvs(routes: list[dict[str, Any]], device: str = "eth0") -> list[list[str]]:
    """The link up again and the routes it had (``ip -j -4 route show dev DEVICE`` before it went down)."""
    restore = [argv for route in routes if (argv := route_restore_argv({"dev": device, **route})) is not None]
    return [["ip", "link", "set", device, "up"], *restore]


def agent_pods(pods: dict[str, Any], daemonset: str) -> list[tuple[str, str]]:
    """``kubectl get pods -A --field-selector spec.nodeName=NODE -o json`` -> (namespace, name) of the pods the
    DaemonSet ``daemonset`` runs there (its CNI agent: owner reference kind DaemonSet and that name)."""
    out = []
    for item in pods.get("items", []):
        meta = item.get("metadata", {})
        owners = meta.get("ownerReferences") or []
        if any(o.get("kind") == "DaemonSet" and o.get("name") == daemonset for o in owners):
            out.append((str(meta.get("namespace")), str(meta["name"])))
    return out


def cordon_argvs(kubectl: Sequence[str], node: str, agents: list[tuple[str, str]]) -> list[list[str]]:
    """kubeconfig: the node cordoned and its CNI agent's pod deleted (``kubectl`` without a namespace: its argv up to
    the subcommand); its DaemonSet starts a new one, which is what the CNI's peers see of a lost agent."""
    argvs = [[*kubectl, "cordon", node]]
    argvs += [[*kubectl, "delete", "pod", "--namespace", ns, name, "--wait=false"] for ns, name in agents]
    return argvs


def pick_gateways(workers: Sequence[str], preferred: Sequence[str] | None) -> list[str]:
    """The two gateway-capable nodes: ``preferred`` (kind's first two workers, named before the cluster runs) or the
    first two of the ready, schedulable ``workers`` by name; a third must stay for the probe pods. Raises
    PlatformError."""
    ordered = sorted(workers)
    if len(ordered) < 3:
        raise PlatformError("egress-change needs three ready, schedulable workers (two gateway-capable nodes and "
                            f"the probe's node); found {len(ordered)}: {', '.join(ordered) or 'none'}")  # fmt: skip
    if preferred:
        missing = [name for name in preferred if name not in ordered]
        if missing:
            raise PlatformError(f"node {missing[0]} is not a ready, schedulable worker")
        return list(preferred)
    return ordered[:2]
