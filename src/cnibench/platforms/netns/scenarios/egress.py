"""The egress scenario on netns: the client pod on a worker that is not the gateway, the iperf3 server in the
external network (reachable only through the gateway node), and the equivalent of a CiliumEgressGatewayPolicy /
Antrea Egress for the ``egress`` trial: the gateway node owns the egress IP and SNATs the client's traffic to it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from cnibench.platforms.netns.render import Bundle, Steps
from cnibench.platforms.netns.scenarios import ADAPTERS
from cnibench.platforms.netns.scenarios.base import ClusterBuild, NetnsAdapter
from cnibench.platforms.netns.topology import EGRESS_ROUTE_TABLE, EGRESS_RULE_PREF, Topology
from cnibench.repetition import Repetition
from cnibench.scenarios.base import base_trial
from cnibench.scenarios.egress import BASELINE, CLIENT_POD, EGRESS, NAME, SERVER_NAME, EgressSettings, client_node
from cnibench.spec.base import FieldError
from cnibench.tools import iperf3

if TYPE_CHECKING:
    from cnibench.platforms.netns.addresses import AddressPlan
    from cnibench.spec.model import Spec


def render_egress_policy(topo: Topology, *, pods: list[str], egress_ip: str, destinations: list[str]) -> Bundle:
    """The netns equivalent of a CiliumEgressGatewayPolicy / Antrea Egress.

    The gateway node owns ``egress_ip`` and SNATs the selected pods' traffic to ``destinations`` to it (an nft
    table that runs before the CNI's masquerade); nodes hosting selected pods skip masquerade for that traffic
    and policy-route it to the gateway node: over the node network (hostgw) or the overlay (vxlan).
    """
    selected = [topo.pod(name) for name in pods]
    gateway = topo.gateway
    p = topo
    apply = Steps()
    remove = Steps(start=50)
    src = ", ".join(pod.ip for pod in selected)
    dst = ", ".join(destinations)
    apply.add("ip", gateway.netns, "gateway-egress-ip", [f"addr add {egress_ip}/32 dev {p.external_dev}"])
    apply.add(
        "nft",
        gateway.netns,
        "gateway-snat",
        [
            f"table ip {p.egress_table} {{",
            "  chain postrouting {",
            "    type nat hook postrouting priority srcnat - 10; policy accept;",
            f"    ip saddr {{ {src} }} ip daddr {{ {dst} }} oifname {p.external_dev} counter snat to {egress_ip}",
            "  }",
            "}",
        ],
    )
    remove.add(
        "nft",
        gateway.netns,
        "gateway-snat-remove",
        [f"add table ip {p.egress_table}", f"delete table ip {p.egress_table}"],
    )
    remove.add(
        "ip",
        gateway.netns,
        "gateway-egress-ip-remove",
        [f"addr del {egress_ip}/32 dev {p.external_dev}"],
        tolerant=True,
    )
    via = topo.datapath.egress_via(topo, gateway)
    source_nodes = [topo.node(name) for name in dict.fromkeys(pod.node for pod in selected)]
    for node in source_nodes:
        if node is gateway:
            continue
        node_pods = [pod for pod in selected if pod.node == node.name]
        apply.add(
            "ip",
            node.netns,
            f"{node.name}-egress-route",
            [f"route add default {via} table {EGRESS_ROUTE_TABLE}"]
            + [
                f"rule add from {pod.ip}/32 to {d} lookup {EGRESS_ROUTE_TABLE} pref {EGRESS_RULE_PREF}"
                for pod in node_pods
                for d in destinations
            ],
        )
        apply.add(
            "nft",
            node.netns,
            f"{node.name}-egress-no-masquerade",
            [
                f"add element ip {p.nat_table} egress_src {{ {', '.join(pod.ip for pod in node_pods)} }}",
                f"add element ip {p.nat_table} egress_dst {{ {dst} }}",
            ],
        )
        remove.add(
            "ip",
            node.netns,
            f"{node.name}-egress-route-remove",
            [f"rule del pref {EGRESS_RULE_PREF}" for _ in node_pods for _ in destinations]
            + [f"route flush table {EGRESS_ROUTE_TABLE}"],
            tolerant=True,
        )
        remove.add(
            "nft",
            node.netns,
            f"{node.name}-egress-no-masquerade-remove",
            [f"flush set ip {p.nat_table} egress_src", f"flush set ip {p.nat_table} egress_dst"],
        )
    return Bundle(
        name="egress-policy",
        prefix=topo.prefix,
        namespaces=(),
        apply=tuple(apply.items),
        remove=tuple(remove.items),
    )


class NetnsEgress(NetnsAdapter[EgressSettings]):
    scenario: ClassVar[str] = NAME

    def pods(self, settings: EgressSettings, workers: list[str], gateway: str) -> list[tuple[str, str]]:
        return [(CLIENT_POD, client_node(workers, gateway))]

    def needs_external(self, settings: EgressSettings) -> bool:
        return True

    def resolve(self, settings: EgressSettings, addresses: AddressPlan) -> EgressSettings:
        if settings.egress_ip is not None:
            return settings
        return settings.model_copy(update={"egress_ip": settings.external_cidr.broadcast_address - 1})

    def check(self, settings: EgressSettings, spec: Spec, addresses: AddressPlan) -> None:
        where = ("scenarios", NAME)
        if settings.server_ip is not None:
            raise FieldError((*where, "server_ip"), "netns places the server itself (see external_cidr)")
        for field in ("baseline_source_ip", "egress_source_ip"):
            if getattr(settings, field) is not None:
                raise FieldError(
                    (*where, field), "only on kubeconfig: netns builds the path and knows who the server sees"
                )
        for other_name, other in (("pod_cidr", addresses.pod_cidr), ("node_cidr", addresses.node_cidr)):
            if settings.external_cidr.overlaps(other):
                raise FieldError(
                    (*where, "external_cidr"), f"{settings.external_cidr} overlaps network.{other_name} {other}"
                )
            if settings.egress_ip in other:
                raise FieldError((*where, "egress_ip"), f"{settings.egress_ip} is inside network.{other_name} {other}")

    def compile(
        self, settings: EgressSettings, cluster: ClusterBuild, numbers: Mapping[str, range]
    ) -> list[Repetition]:
        topo = cluster.topo
        external = topo.external
        assert external is not None  # needs_external
        client = topo.pod(CLIENT_POD)
        server_ip = external.server_ip
        cluster.daemons.append(
            cluster.daemon(SERVER_NAME, external.netns, iperf3.server_argv(server_ip), iperf3.DEFAULT_PORT)
        )
        cluster.steps.append(f"start the iperf3 server at {server_ip} in the external network")
        policy_dir = cluster.rendered / "egress-policy"
        cluster.renders[policy_dir] = render_egress_policy(
            topo, pods=[client.name], egress_ip=str(settings.egress_ip), destinations=[external.cidr]
        )
        repetitions = cluster.finish(
            EGRESS.repetitions(
                settings,
                cni=cluster.cni,
                numbers=numbers,
                run_dir=cluster.run_dir,
                server_ip=server_ip,
                client_node_ip=topo.node(client.node).ip,
                netns=client.netns,
            )
        )
        # the policy is applied around every repetition of an egress trial, at every load
        around = {t: [str(policy_dir / "bundle.json")] for t in numbers if base_trial(t) == NAME}
        ordered = cluster.add_scenario(NAME, repetitions, bundles=[], daemons=[], around=around)
        shown = ordered[0].command.shown
        if settings.load == "rate":  # one bitrate per load: show the first, say the rest
            shown += (
                " (the offered bit/s per stream at each load: "
                + ", ".join(dict.fromkeys(r.command.argv[-1] for r in ordered))
                + (f"; each after {ordered[0].command.idle_s:g} s idle)" if ordered[0].command.idle_s else ")")
            )
        trials = " and ".join(EGRESS.ordered(list(numbers)))
        cluster.steps.append(
            f"{trials}: {len(ordered)} x `{shown}` in {client.name} on {client.node}"
            + (", alternating repetition by repetition" if len(numbers) > 1 else "")
            + (
                "; the baseline through the client's node's masquerade"
                if any(base_trial(t) == BASELINE for t in numbers)
                else ""
            )
        )
        if around:
            cluster.steps.append(
                f"around each egress repetition, apply and remove the egress policy: {external.gateway_node} "
                f"owns {settings.egress_ip} and SNATs {client.name}'s traffic to {external.cidr}"
            )
        return ordered


ADAPTERS.register(NAME, NetnsEgress())
