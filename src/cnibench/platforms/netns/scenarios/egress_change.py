"""The egress-change scenario on netns: the probe client on the last worker, the external server behind two
gateway-capable nodes (the first two workers, on one L2 segment: a bridge in the external namespace), three iperf3
servers and a tcpdump capture there; each repetition is driven by
:mod:`cnibench.platforms.netns.scenarios._egress_change_run` (the measured command: it writes the pcap).

* apply: the egress scenario's own policy bundle (:func:`~cnibench.platforms.netns.scenarios.egress.
  render_egress_policy`), applied by the driver while the probe runs;
* new pod: the gateway's SNAT selects the new pod's address beforehand (a policy by label selects a pod that does
  not exist yet); the pod's bundle creates its namespace and programs its node's egress rule before its link comes
  up (netns's agent is synchronous: its figures are the floor a CNI can reach);
* failover: keepalived (VRRP) on both gateways owns two addresses in one instance: the egress IP on the external
  link and the gateway address the client's node policy-routes to, on the node network; the active gateway fails
  by its links going down (their peers are set down: carrier lost, as a pulled cable).
"""

from __future__ import annotations

import ipaddress
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from cnibench.platforms.files import Files
from cnibench.platforms.netns.render import Bundle, Steps
from cnibench.platforms.netns.scenarios import ADAPTERS
from cnibench.platforms.netns.scenarios.base import ClusterBuild, NetnsAdapter, resolved
from cnibench.platforms.netns.scenarios.egress import render_egress_policy
from cnibench.platforms.netns.topology import EGRESS_ROUTE_TABLE, EGRESS_RULE_PREF, Topology
from cnibench.repetition import MeasureCommand, Repetition
from cnibench.scenarios.egress_change import (
    APPLY,
    CLIENT_POD,
    EVENTS,
    FAILOVER,
    FLOW_PORT,
    NAME,
    NEW_POD,
    NEW_POD_NAME,
    POD_PORT,
    PROBE_PORT,
    TIMEOUT_MARGIN,
    EgressChangeExpectation,
    EgressChangeSettings,
)
from cnibench.spec.base import FieldError

if TYPE_CHECKING:
    from cnibench.platforms.netns.addresses import AddressPlan
    from cnibench.spec import Spec

#: The new pod's host part in its node's pod /24 (far from the pods the topology places from .2 up).
NEW_POD_HOST = 250
VRRP_ROUTER_ID = 51
#: The active gateway's and the backup's VRRP priorities (the higher is master; keepalived's default is 100).
PRIORITY_ACTIVE, PRIORITY_BACKUP = 150, 100


def second_gateway(topo: Topology) -> str:
    """The second gateway-capable node: the second worker (the first is the topology's gateway)."""
    return topo.workers[1].name


def client_node(topo: Topology) -> str:
    return topo.workers[-1].name


def names(topo: Topology) -> dict[str, str]:
    """Interface names this scenario adds (each within IFNAMSIZ): the external bridge, the second gateway's peer
    there, the new pod's host veth."""
    return {"bridge": f"{topo.prefix}-xbr", "peer2": f"{topo.prefix}-g2", "new_pod_if": f"{topo.prefix}-pn"}


def addresses(topo: Topology) -> dict[str, str]:
    """The second gateway's external address (the external network's third host), the gateway address VRRP moves
    on the node network (its last host) and the new pod's address."""
    assert topo.external is not None
    ext = ipaddress.IPv4Network(topo.external.cidr)
    node_net = ipaddress.IPv4Network(topo.node_cidr)
    client = topo.node(client_node(topo))
    return {
        "gateway2_ip": str(ext.network_address + 3),
        "gateway_vip": str(node_net.broadcast_address - 1),
        "new_pod_ip": str(ipaddress.IPv4Network(client.pod_cidr).network_address + NEW_POD_HOST),
    }


def render_segment(topo: Topology) -> Bundle:
    """The external network as one L2 segment for both gateways: a bridge in the external namespace holding the
    first gateway's link (the server's address moves onto the bridge, its MAC fixed) and the second gateway's."""
    ext = topo.external
    assert ext is not None
    n, a = names(topo), addresses(topo)
    gw2 = topo.node(second_gateway(topo))
    plen = ext.cidr.split("/")[1]
    steps = Steps(start=0)
    steps.add("ip", gw2.netns, "gateway2-link", [
        f"link add name {topo.external_dev} mtu {topo.underlay_mtu} type veth peer name {n['peer2']} "
        f"mtu {topo.underlay_mtu} netns {ext.netns}",
    ])  # fmt: skip
    steps.add("ip", ext.netns, "external-bridge", [
        f"link add name {n['bridge']} address 02:00:cb:00:71:02 type bridge",
        f"addr del {ext.server_ip}/{plen} dev {topo.eth}",
        f"link set {topo.eth} master {n['bridge']}",
        f"link set {n['peer2']} master {n['bridge']} up",
        f"link set {n['bridge']} up",
        f"addr add {ext.server_ip}/{plen} dev {n['bridge']}",
        f"route add default via {ext.gateway_ip} dev {n['bridge']}",
    ])  # fmt: skip
    steps.add("ip", gw2.netns, "gateway2-address", [
        f"route del {ext.cidr} via {topo.gateway.ip}",  # it reached the external network through the first gateway
        f"addr add {a['gateway2_ip']}/{plen} dev {topo.external_dev}", f"link set {topo.external_dev} up",
    ])  # fmt: skip
    # the server's kernel answers a datagram from a source its iperf3 socket is not connected to (the probe after a
    # source change) with a port unreachable, which makes the probe's iperf3 client quit (ECONNREFUSED): the
    # capture point stays silent instead, so the stream goes on whatever source the server sees
    steps.add("nft", ext.netns, "external-no-port-unreachable", [
        f"table ip {topo.prefix}_capture {{",
        "  chain output {",
        "    type filter hook output priority filter; policy accept;",
        "    icmp type destination-unreachable counter drop",
        "  }",
        "}",
    ])  # fmt: skip
    remove = Steps(start=80)
    remove.add("ip", gw2.netns, "gateway2-link-remove", [f"link del {topo.external_dev}"], tolerant=True)
    return Bundle("egress-change-segment", topo.prefix, (), tuple(steps.items), tuple(remove.items))


def _snat(topo: Topology, sources: list[str], egress_ip: str) -> list[str]:
    assert topo.external is not None
    return [
        f"table ip {topo.egress_table} {{",
        "  chain postrouting {",
        "    type nat hook postrouting priority srcnat - 10; policy accept;",
        f"    ip saddr {{ {', '.join(sources)} }} ip daddr {topo.external.cidr} oifname {topo.external_dev} "
        f"counter snat to {egress_ip}",
        "  }",
        "}",
    ]


def _node_rule(topo: Topology, pod_ip: str, via: str) -> tuple[list[str], list[str]]:
    """The client node's policy route for one pod (``ip`` lines) and its no-masquerade elements (``nft`` lines)."""
    assert topo.external is not None
    ip = [
        f"route replace default {via} table {EGRESS_ROUTE_TABLE}",
        f"rule add from {pod_ip}/32 to {topo.external.cidr} lookup {EGRESS_ROUTE_TABLE} pref {EGRESS_RULE_PREF}",
    ]
    nft = [f"add element ip {topo.nat_table} egress_src {{ {pod_ip} }}",
           f"add element ip {topo.nat_table} egress_dst {{ {topo.external.cidr} }}"]  # fmt: skip
    return ip, nft


def _flush_sets(topo: Topology) -> list[str]:
    return [f"flush set ip {topo.nat_table} egress_src", f"flush set ip {topo.nat_table} egress_dst"]


def render_new_pod_policy(topo: Topology, egress_ip: str) -> Bundle:
    """The existing policy of the new-pod trial: the gateway owns the egress IP and SNATs the new pod's address
    (which no pod has yet) to it."""
    gw = topo.gateway
    apply, remove = Steps(), Steps(start=50)
    a = addresses(topo)
    apply.add("ip", gw.netns, "gateway-egress-ip", [f"addr add {egress_ip}/32 dev {topo.external_dev}"])
    apply.add("nft", gw.netns, "gateway-snat", _snat(topo, [a["new_pod_ip"]], egress_ip))
    remove.add("nft", gw.netns, "gateway-snat-remove", [f"add table ip {topo.egress_table}",
                                                        f"delete table ip {topo.egress_table}"])  # fmt: skip
    remove.add("ip", gw.netns, "gateway-egress-ip-remove", [f"addr del {egress_ip}/32 dev {topo.external_dev}"],
               tolerant=True)  # fmt: skip
    return Bundle("egress-change-new-pod-policy", topo.prefix, (), tuple(apply.items), tuple(remove.items))


def render_new_pod(topo: Topology) -> Bundle:
    """The new pod: its namespace and link on the client's node, its node's egress rule programmed before the pod's
    link comes up. Removing it deletes the namespace and the rule."""
    node = topo.node(client_node(topo))
    n, a = names(topo), addresses(topo)
    netns = f"{topo.prefix}-pod-{NEW_POD_NAME}"
    ip, nft = _node_rule(topo, a["new_pod_ip"], topo.datapath.egress_via(topo, topo.gateway))
    apply, remove = Steps(), Steps(start=50)
    apply.add("ip", None, "new-pod-namespace", [f"netns add {netns}"])
    apply.add("ip", node.netns, "new-pod-egress-route", ip)
    apply.add("nft", node.netns, "new-pod-no-masquerade", nft)
    apply.add("ip", node.netns, "new-pod-link", [
        f"link add name {n['new_pod_if']} mtu {topo.pod_mtu} type veth peer name {topo.eth} mtu {topo.pod_mtu} "
        f"netns {netns}", f"link set {n['new_pod_if']} master {topo.pod_bridge} up",
    ])  # fmt: skip
    apply.add("ip", netns, "new-pod", [
        "link set lo up", f"addr add {a['new_pod_ip']}/24 dev {topo.eth}", f"link set {topo.eth} up",
        f"route add default via {node.pod_gateway}",
    ])  # fmt: skip
    remove.add("ip", node.netns, "new-pod-remove", [
        f"link del {n['new_pod_if']}", f"rule del pref {EGRESS_RULE_PREF} from {a['new_pod_ip']}/32",
        f"route flush table {EGRESS_ROUTE_TABLE}",
    ], tolerant=True)  # fmt: skip
    remove.add("nft", node.netns, "new-pod-masquerade-remove", _flush_sets(topo))
    remove.add("destroy", None, "new-pod-destroy", [netns])
    return Bundle("egress-change-new-pod", topo.prefix, (netns,), tuple(apply.items), tuple(remove.items))


def render_failover_policy(topo: Topology, egress_ip: str) -> Bundle:
    """Both gateways SNAT the client's traffic to the egress IP (only the one that receives it does); the client's
    node policy-routes it to the gateway address VRRP moves (over the node network, on either datapath). The
    egress IP itself is keepalived's to place."""
    client = topo.pod(CLIENT_POD)
    a = addresses(topo)
    node = topo.node(client.node)
    apply, remove = Steps(), Steps(start=50)
    ip, nft = _node_rule(topo, client.ip, f"via {a['gateway_vip']} dev {topo.eth}")
    for gw in (topo.gateway, topo.node(second_gateway(topo))):
        apply.add("nft", gw.netns, f"{gw.name}-snat", _snat(topo, [client.ip], egress_ip))
        remove.add("nft", gw.netns, f"{gw.name}-snat-remove", [f"add table ip {topo.egress_table}",
                                                               f"delete table ip {topo.egress_table}"])  # fmt: skip
    apply.add("ip", node.netns, "client-node-egress-route", ip)
    apply.add("nft", node.netns, "client-node-no-masquerade", nft)
    remove.add("ip", node.netns, "client-node-egress-route-remove", [
        f"rule del pref {EGRESS_RULE_PREF}", f"route flush table {EGRESS_ROUTE_TABLE}"], tolerant=True)  # fmt: skip
    remove.add("nft", node.netns, "client-node-masquerade-remove", _flush_sets(topo))
    return Bundle("egress-change-failover-policy", topo.prefix, (), tuple(apply.items), tuple(remove.items))


def keepalived_conf(topo: Topology, node: str, *, active: bool, egress_ip: str, settings: EgressChangeSettings) -> str:
    """One gateway's keepalived configuration: one VRRP instance on the node network (VRRPv3, so that
    ``advert_int`` may be below a second) tracking the external link, holding the egress IP (external link) and the
    gateway address (node network). The active gateway starts as master with the higher priority."""
    a = addresses(topo)
    return "\n".join([
        "global_defs {",
        f"  router_id {topo.prefix}-{node}",
        "  vrrp_version 3",
        f"  vrrp_garp_master_delay {settings.vrrp_garp_master_delay}",
        "}",
        "vrrp_instance egress {",
        f"  state {'MASTER' if active else 'BACKUP'}",
        f"  interface {topo.eth}",
        f"  virtual_router_id {VRRP_ROUTER_ID}",
        f"  priority {PRIORITY_ACTIVE if active else PRIORITY_BACKUP}",
        f"  advert_int {settings.vrrp_advert_int:g}",
        f"  track_interface {{\n    {topo.external_dev}\n  }}",
        "  virtual_ipaddress {",
        f"    {egress_ip}/32 dev {topo.external_dev}",
        f"    {a['gateway_vip']}/32 dev {topo.eth}",
        "  }",
        "}",
        "",
    ])  # fmt: skip


class NetnsEgressChange(NetnsAdapter[EgressChangeSettings]):
    scenario: ClassVar[str] = NAME

    def pods(self, settings: EgressChangeSettings, workers: list[str], gateway: str) -> list[tuple[str, str]]:
        return [(CLIENT_POD, workers[-1])]

    def needs_external(self, settings: EgressChangeSettings) -> bool:
        return True

    def resolve(self, settings: EgressChangeSettings, addresses: AddressPlan) -> EgressChangeSettings:
        if settings.egress_ip is not None:
            return settings
        return settings.model_copy(update={"egress_ip": settings.external_cidr.broadcast_address - 1})

    def check(self, settings: EgressChangeSettings, spec: Spec, addresses: AddressPlan) -> None:
        where = ("scenarios", NAME)
        if settings.server_ip is not None:
            raise FieldError((*where, "server_ip"), "netns places the server itself (see external_cidr)")
        cidr = settings.external_cidr
        taken = {cidr.network_address, cidr.broadcast_address, *(cidr.network_address + i for i in (1, 2, 3))}
        if settings.egress_ip in taken:
            raise FieldError((*where, "egress_ip"), f"{settings.egress_ip} is a reserved address of external_cidr "
                             "(network, broadcast, the two gateways' or the server's)")  # fmt: skip
        for other_name, other in (("pod_cidr", addresses.pod_cidr), ("node_cidr", addresses.node_cidr)):
            if cidr.overlaps(other):
                raise FieldError((*where, "external_cidr"), f"{cidr} overlaps network.{other_name} {other}")
            if settings.egress_ip in other:
                raise FieldError((*where, "egress_ip"), f"{settings.egress_ip} is inside network.{other_name} {other}")

    def compile(
        self, settings: EgressChangeSettings, cluster: ClusterBuild, numbers: Mapping[str, range]
    ) -> list[Repetition]:
        topo = cluster.topo
        ext = topo.external
        assert ext is not None
        egress_ip = str(settings.egress_ip)
        base = cluster.rendered / NAME
        cluster.renders[base / "segment"] = render_segment(topo)
        segment = str(base / "segment" / "bundle.json")
        renders: dict[str, Bundle] = {
            "apply-policy": render_egress_policy(topo, pods=[CLIENT_POD], egress_ip=egress_ip,
                                                 destinations=[ext.cidr]),
            "new-pod-policy": render_new_pod_policy(topo, egress_ip),
            "new-pod": render_new_pod(topo),
            "failover-policy": render_failover_policy(topo, egress_ip),
        }  # fmt: skip
        for name, bundle in renders.items():
            cluster.renders[base / name] = bundle
        gw1, gw2 = topo.gateway, topo.node(second_gateway(topo))
        keepalived = []
        for node, active in ((gw1, True), (gw2, False)):
            directory = cluster.run_dir / "keepalived" / cluster.cni / f"r{cluster.round}" / node.name
            cluster.renders[directory] = Files({"keepalived.conf": keepalived_conf(
                topo, node.name, active=active, egress_ip=egress_ip, settings=settings)})  # fmt: skip
            keepalived.append(
                {"netns": node.netns, "dir": str(directory), "log": str(cluster.log(f"keepalived-{node.name}"))}
            )
        client = topo.pod(CLIENT_POD)
        n, a = names(topo), addresses(topo)
        common = {
            "ext_netns": ext.netns, "capture_dev": n["bridge"], "server_ip": ext.server_ip, "egress_ip": egress_ip,
            "broadcast": str(ipaddress.IPv4Network(ext.cidr).broadcast_address), "lead": settings.lead,
            "duration": settings.duration, "probe_rate": settings.probe_rate, "probe_size": settings.probe_size,
            "probe_bitrate": settings.probe_bitrate, "probe_port": PROBE_PORT, "client_netns": client.netns,
            "iperf3": resolved(["iperf3"])[0], "tcpdump": resolved(["tcpdump"])[0],
            "keepalived": resolved(["keepalived"])[0], "python": sys.executable,
        }  # fmt: skip
        configs = {
            APPLY: {**common, "bundle": str(base / "apply-policy" / "bundle.json"),
                    "flush_conntrack": [topo.node(client.node).netns, client.ip] if settings.flush_conntrack else None,
                    "conntrack": resolved(["conntrack"])[0]},
            NEW_POD: {**common, "bundle": str(base / "new-pod" / "bundle.json"), "pod_port": POD_PORT,
                      "pod_netns": f"{topo.prefix}-pod-{NEW_POD_NAME}"},
            FAILOVER: {**common, "flow_port": FLOW_PORT, "flow_bitrate": settings.flow_bitrate,
                       "keepalived_daemons": keepalived, "active_netns": gw1.netns, "backup_netns": gw2.netns,
                       "down_links": [[topo.underlay_netns, topo.uplink_peer(gw1)], [ext.netns, topo.eth]],
                       "vip_dev": topo.external_dev, "gateway_vip": a["gateway_vip"]},
        }  # fmt: skip
        around = {NEW_POD: [str(base / "new-pod-policy" / "bundle.json")],
                  FAILOVER: [str(base / "failover-policy" / "bundle.json")]}  # fmt: skip
        repetitions: list[Repetition] = []
        for trial in (t for t in (APPLY, NEW_POD, FAILOVER) if t in numbers):
            config_dir = base / "driver"
            cluster.renders.setdefault(config_dir, Files({}))
            files = cluster.renders[config_dir]
            assert isinstance(files, Files)
            files.documents[f"{trial}.json"] = json.dumps({"event": EVENTS[trial], **configs[trial]}, indent=2)
            argv = (sys.executable, "-m", "cnibench.platforms.netns.scenarios._egress_change_run",
                    str(config_dir / f"{trial}.json"))  # fmt: skip
            expect = EgressChangeExpectation(event=EVENTS[trial], egress_ip=egress_ip)
            for number in numbers[trial]:
                artifact = cluster.run_dir / "raw" / cluster.cni / trial / f"rep-{number:02d}.pcap"
                command = MeasureCommand(argv=argv, stdout=artifact,
                                         timeout_s=settings.lead + settings.duration + TIMEOUT_MARGIN)  # fmt: skip
                repetitions.append(Repetition(cluster.cni, trial, number, artifact, command,
                                              settings.lead + settings.duration, 0.0, expect))  # fmt: skip
        ordered = cluster.add_scenario(NAME, cluster.finish(repetitions), bundles=[segment], daemons=[],
                                       around=around)  # fmt: skip
        cluster.steps.append(
            f"egress-change: the external network as one segment for {gw1.name} and {gw2.name}; per repetition "
            f"one-off iperf3 servers at {ext.server_ip} (ports {PROBE_PORT}-{POD_PORT}), tcpdump on {n['bridge']} "
            "(the pcap), "
            f"a probe of {settings.probe_rate} UDP datagrams/s from {client.name} on {client.node}, then the event: "
            f"apply the egress policy / start {NEW_POD_NAME} ({a['new_pod_ip']}) under it / fail {gw1.name} "
            f"(its links down) with keepalived moving {egress_ip} and {a['gateway_vip']} to {gw2.name}"
        )
        return ordered


def driver_config(path: Path) -> dict[str, Any]:
    """A trial's driver configuration as rendered (for tests and the driver)."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


ADAPTERS.register(NAME, NetnsEgressChange())
