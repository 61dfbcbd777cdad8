"""The east-west scenario on netns: an iperf3 server in a pod on the server's node and one in that node's own
namespace (the host network), client pods on the server's node (same-node) and on another node (cross-node), and a
ClusterIP Service as kube-proxy's nftables mode makes one: on every node, a ``nat-prerouting`` and a ``nat-output``
chain at priority dstnat jump to ``services``, whose map sends ``ClusterIP . protocol . port`` to the Service's chain,
which DNATs to its endpoint. A pod's connection is DNATed in the prerouting hook of the node the pod runs on (the
packet arrives from the pod's veth), so the node that originates the connection translates it, as kube-proxy does
(kubernetes ``pkg/proxy/nftables/README.md``: "We do the DNAT for inbound traffic in prerouting: this covers ...
traffic coming from pods to all types of service IPs"). The source is left alone (no masquerade for pod sources;
``masqueradeAll`` is off by default), except hairpin traffic from the endpoint itself, as kube-proxy marks it."""

from __future__ import annotations

import functools
import ipaddress
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from cnibench.platforms.netns import conntrack_watch
from cnibench.platforms.netns.render import Bundle, Steps
from cnibench.platforms.netns.scenarios import ADAPTERS
from cnibench.platforms.netns.scenarios.base import ClusterBuild, NetnsAdapter
from cnibench.platforms.netns.topology import Topology
from cnibench.repetition import Repetition
from cnibench.scenarios._east_west_matrix import (
    CLIENT_POD,
    HOST_SERVER,
    NAME,
    POINTS,
    SERVER_POD,
    SERVICE,
    EastWestSettings,
    pick_nodes,
)
from cnibench.scenarios._east_west_rr import CRR_PORT, RR_PORTS
from cnibench.scenarios.base import base_trial, load_suffix
from cnibench.scenarios.east_west import EAST_WEST, EastWestExpectation
from cnibench.spec.base import FieldError
from cnibench.tools import iperf3, nginx, sockperf

if TYPE_CHECKING:
    from cnibench.platforms.netns.addresses import AddressPlan
    from cnibench.spec.model import Spec

#: In kind's default service subnet (10.96.0.0/16; .1 is the API server's Service, .10 kube-dns's).
DEFAULT_CLUSTER_IP = ipaddress.IPv4Address("10.96.0.100")
#: kube-proxy's masquerade mark bit (``--masquerade-bit`` 14, the default).
MASQUERADE_MARK = "0x00004000"
POD_PATHS = ("pod-to-pod", "pod-to-service")


def kube_proxy_table(topo: Topology) -> str:
    return f"{topo.prefix}_kube_proxy"


def render_service(
    topo: Topology,
    *,
    name: str,
    cluster_ip: str,
    port: int,
    endpoint: str,
    more: Sequence[tuple[str, int]] = (),
    table: str | None = None,
) -> Bundle:
    """A ClusterIP Service with one endpoint, on every node, as kube-proxy's nftables mode writes it (K8S
    ``pkg/proxy/nftables/proxier.go``: base chains ``nat-prerouting``/``nat-output`` at dstnat -> ``services``, a
    verdict map ``service-ips`` keyed by ``daddr . l4proto . dport`` -> ``service-*`` -> ``endpoint-*`` with
    ``dnat to``; ``mark-for-masquerade`` for off-cluster sources and hairpin traffic; ``masquerading`` in
    postrouting), TCP and UDP on one port (iperf3's control connection is TCP, its UDP test data goes to the same
    port); ``more``: further (protocol, port) pairs the Service has (the request/response servers'); ``table``: the
    nft table (default: :func:`kube_proxy_table`; another scenario's Service in the same cluster has its own).
    """
    table = table or kube_proxy_table(topo)
    apply, remove = Steps(), Steps(start=50)
    rules = [
        f"table ip {table} {{",
        "  chain mark-for-masquerade {",
        f"    meta mark set meta mark | {MASQUERADE_MARK}",
        "  }",
        "  chain masquerading {",
        f"    meta mark & {MASQUERADE_MARK} == 0 return",
        f"    meta mark set meta mark ^ {MASQUERADE_MARK}",
        "    masquerade fully-random",
        "  }",
    ]
    elements = []
    for proto, each in [("tcp", port), ("udp", port), *more]:
        chain = f"{name}-{proto}-{each}"
        elements.append(f"{cluster_ip} . {proto} . {each} : goto service-{chain}")
        rules += [
            f"  chain endpoint-{chain} {{",
            # "Handle traffic that loops back to the originator with SNAT" (kube-proxy)
            f"    ip saddr {endpoint} jump mark-for-masquerade",
            f"    meta l4proto {proto} counter dnat to {endpoint}:{each}",
            "  }",
            f"  chain service-{chain} {{",
            # "This masquerades off-cluster traffic to a service VIP" (kube-proxy, with the cluster CIDR detector)
            f"    ip daddr {cluster_ip} {proto} dport {each} ip saddr != {topo.pod_cidr} jump mark-for-masquerade",
            f"    goto endpoint-{chain}",
            "  }",
        ]
    rules += [
        "  map service-ips {",
        "    type ipv4_addr . inet_proto . inet_service : verdict",
        f"    elements = {{ {', '.join(elements)} }}",
        "  }",
        "  chain services {",
        "    ip daddr . meta l4proto . th dport vmap @service-ips",
        "  }",
        "  chain nat-prerouting {",
        "    type nat hook prerouting priority dstnat; policy accept;",
        "    jump services",
        "  }",
        "  chain nat-output {",
        # "dstnat" (-100), as kube-proxy asks; nft 1.0.6 takes that name in prerouting only: "invalid priority
        # expression value in this context" in output
        "    type nat hook output priority -100; policy accept;",
        "    jump services",
        "  }",
        "  chain nat-postrouting {",
        "    type nat hook postrouting priority srcnat; policy accept;",
        "    jump masquerading",
        "  }",
        "}",
    ]
    for node in topo.nodes:
        apply.add("nft", node.netns, f"{node.name}-service-{name}", rules)
        remove.add("nft", node.netns, f"{node.name}-service-{name}-remove", [f"add table ip {table}",
                                                                            f"delete table ip {table}"])  # fmt: skip
    return Bundle(name=f"service-{name}", prefix=topo.prefix, namespaces=(), apply=tuple(apply.items),
                  remove=tuple(remove.items))  # fmt: skip


class NetnsEastWest(NetnsAdapter[EastWestSettings]):
    scenario: ClassVar[str] = NAME

    def pods(self, settings: EastWestSettings, workers: list[str], gateway: str) -> list[tuple[str, str]]:
        if not set(settings.paths) & set(POD_PATHS):
            return []
        server, client = pick_nodes(settings, workers)
        nodes = {"same-node": server, "cross-node": client}
        return [(SERVER_POD, server), *((CLIENT_POD[p], nodes[p]) for p in settings.placements)]

    def resolve(self, settings: EastWestSettings, addresses: AddressPlan) -> EastWestSettings:
        if settings.cluster_ip is not None:
            return settings
        return settings.model_copy(update={"cluster_ip": DEFAULT_CLUSTER_IP})

    def check(self, settings: EastWestSettings, spec: Spec, addresses: AddressPlan) -> None:
        check_endpoints(settings, spec, addresses, NAME)

    def compile(
        self, settings: EastWestSettings, cluster: ClusterBuild, numbers: Mapping[str, range]
    ) -> list[Repetition]:
        topo = cluster.topo
        workers = [n.name for n in topo.workers]
        server_name, client_name = pick_nodes(settings, workers)
        server_node = topo.node(server_name)
        client_nodes = {"same-node": server_node, "cross-node": topo.node(client_name)}
        port = iperf3.DEFAULT_PORT
        trials = EAST_WEST.ordered([t for t in numbers if EAST_WEST.owns(t)])  # each load: the matrix, in order
        points = [POINTS[base_trial(t)] for t in trials]
        paths = {p.path for p in points}
        daemons: list[dict[str, Any]] = []
        bundles: list[str] = []
        if paths & set(POD_PATHS):
            server = topo.pod(SERVER_POD)
            daemons.append(cluster.daemon(SERVER_POD, server.netns, iperf3.server_argv(server.ip, port), port))
            cluster.steps.append(f"start the iperf3 server in pod {server.name} on {server.node} ({server.ip})")
        if "host-to-host" in paths:
            argv = iperf3.server_argv(server_node.ip, port)
            daemons.append(cluster.daemon(HOST_SERVER, server_node.netns, argv, port))
            cluster.steps.append(f"start the iperf3 server in {server_node.name}'s own namespace ({server_node.ip})")
        if "pod-to-service" in paths:
            cluster_ip = str(settings.cluster_ip)
            service_dir = cluster.rendered / "east-west" / "service"
            more = rr_ports({p.workload for p in points})
            cluster.renders[service_dir] = render_service(
                topo, name=SERVICE, cluster_ip=cluster_ip, port=port, endpoint=topo.pod(SERVER_POD).ip, more=more
            )
            bundles.append(str(service_dir / "bundle.json"))
            cluster.steps.append(
                f"Service {SERVICE}: ClusterIP {cluster_ip}:{port} (tcp, udp) -> {topo.pod(SERVER_POD).ip}, "
                "kube-proxy-like nftables DNAT on every node (prerouting for pods, output for the host network)"
                + "".join(f"; {proto} {p}" for proto, p in more)
            )
        where = []
        if paths & set(POD_PATHS):
            pod = topo.pod(SERVER_POD)
            where.append((SERVER_POD, pod.netns, pod.ip))
        if "host-to-host" in paths:
            where.append((HOST_SERVER, server_node.netns, server_node.ip))
        daemons += start_rr_servers(cluster, {p.workload for p in points}, where)
        repetitions: list[Repetition] = []
        for trial, point in zip(trials, points, strict=True):
            client_node = client_nodes[point.placement]
            if point.path == "host-to-host":
                netns, client_ip = client_node.netns, client_node.ip
                target = backend = server_node.ip
            else:
                client = topo.pod(CLIENT_POD[point.placement])
                netns, client_ip = client.netns, client.ip
                backend = topo.pod(SERVER_POD).ip
                target = str(settings.cluster_ip) if point.path == "pod-to-service" else backend
            expect = {"client_node": client_node.name, "server_node": server_node.name, "client_ip": client_ip,
                      "backend_ip": backend}  # fmt: skip
            # rr/crr: the tool inside the conntrack launcher, which samples the table of the two nodes meanwhile
            nodes = {n.name: n.netns for n in (server_node, client_node)}
            wrap = functools.partial(conntrack_watch.argv, nodes, python=sys.executable)
            repetitions += EAST_WEST.repetitions(
                settings, cni=cluster.cni, trial=trial, numbers=numbers[trial], run_dir=cluster.run_dir,
                target_ip=target, expect=expect, netns=netns, wrap=wrap if point.workload != "stream" else None,
            )  # fmt: skip
        ordered = cluster.add_scenario(NAME, cluster.finish(repetitions), bundles=bundles, daemons=daemons)
        for trial, point in zip(trials, points, strict=True):
            first = next(r for r in ordered if r.scenario == trial)
            assert isinstance(first.expect, EastWestExpectation)
            idle = f"after {first.command.idle_s:g} s idle, " if first.command.idle_s else ""
            cluster.steps.append(
                f"{trial} ({point.code}{load_suffix(trial)}): {len(numbers[trial])} x {idle}`{first.command.shown}` "
                "from "
                f"{first.expect.client_ip} on {first.expect.client_node} "
                + (
                    "(the conntrack table of its node and the server's sampled meanwhile)"
                    if point.workload != "stream"
                    else "(the server must see it"
                    + (f"; {first.expect.backend_ip} must answer)" if point.path == "pod-to-service" else ")")
                )
            )
        return ordered


def check_endpoints(settings: EastWestSettings, spec: Spec, addresses: AddressPlan, scenario: str) -> None:
    """The named nodes are netns's workers and the ClusterIP is a unicast address outside the node and pod networks
    (and the external one, when a scenario has it); raises FieldError in ``scenario``'s section."""
    from cnibench.platforms.netns.topology import node_names

    pick_nodes(settings, node_names(spec.nodes.workers)[1:], scenario)  # the named nodes are netns's (kind's names)
    ip = settings.cluster_ip
    assert ip is not None  # resolved
    where = ("scenarios", scenario, "cluster_ip")
    if ip.is_multicast or ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_reserved:
        raise FieldError(where, f"{ip} is not a unicast address")
    networks = [("network.node_cidr", addresses.node_cidr), ("network.pod_cidr", addresses.pod_cidr)]
    if any(getattr(spec.scenarios.get(n), "external_cidr", None) for n in spec.scenarios.enabled()):
        networks.append(("the external network", addresses.external_cidr))
    for what, network in networks:
        if ip in network:
            raise FieldError(where, f"{ip} is inside {what} {network}: a ClusterIP belongs to no interface")


def start_rr_servers(
    cluster: ClusterBuild, workloads: set[str], where: Sequence[tuple[str, str, str]]
) -> list[dict[str, Any]]:
    """The request/response servers beside iperf3's: sockperf (TCP and UDP, rr) and nginx (crr) at each of
    ``where`` (name, namespace, address), as the trials' workloads need them; their steps added to ``cluster``."""
    daemons = []
    for name, netns, ip in where:
        if "rr" in workloads:
            for proto, port in RR_PORTS.items():
                argv = sockperf.server_argv(ip, protocol=proto, port=port)
                # a UDP socket does not listen: the idle baseline before each repetition covers its start
                daemons.append(
                    cluster.daemon(f"{name}-sockperf-{proto}", netns, argv, port if proto == "tcp" else None)
                )
            cluster.steps.append(f"start sockperf servers (tcp {RR_PORTS['tcp']}, udp {RR_PORTS['udp']}) on {ip}")
        if "crr" in workloads:
            conf = functools.partial(_crr_conf, name, ip)
            daemons.append(cluster.nginx(f"{name}-nginx", netns, CRR_PORT, conf))
            cluster.steps.append(f"start nginx (1-byte answers, crr) on {ip}:{CRR_PORT}")
    return daemons


def _crr_conf(name: str, ip: str, prefix: Path, log: Path) -> str:
    return nginx.crr_conf(name, ip, CRR_PORT, prefix=prefix, error_log=log)


def rr_ports(workloads: set[str]) -> list[tuple[str, int]]:
    """The Service's ports beyond iperf3's for the chosen workloads."""
    return [*(RR_PORTS.items() if "rr" in workloads else ()), *((("tcp", CRR_PORT),) if "crr" in workloads else ())]


ADAPTERS.register(NAME, NetnsEastWest())
