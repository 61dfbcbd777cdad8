"""The ingress scenario on netns: N echo backends (nginx in pod namespaces, ``Hostname: <pod>``) spread over the
workers, the LoadBalancer IP on the first worker (as MetalLB's L2 mode gives it), a gateway there (``l7``: an nginx
rendered from a model of a Gateway + HTTPRoute; ``l4``: nftables DNAT per connection) and k6 on the host in front of
the cluster."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from cnibench.platforms.files import Files
from cnibench.platforms.netns.render import Bundle, Steps
from cnibench.platforms.netns.scenarios import ADAPTERS
from cnibench.platforms.netns.scenarios.base import ClusterBuild, NetnsAdapter
from cnibench.platforms.netns.topology import Topology
from cnibench.repetition import Repetition
from cnibench.scenarios._ingress_settings import GATEWAY_NAME, NAME, IngressSettings, backend_names, placement
from cnibench.scenarios.ingress import INGRESS
from cnibench.tools import nginx

if TYPE_CHECKING:
    from cnibench.platforms.netns.addresses import AddressPlan
    from cnibench.spec.model import Spec


def _echo_conf(ref: nginx.BackendRef, prefix: Path, log: Path) -> str:
    return nginx.echo_conf(ref.name, ref, prefix=prefix, error_log=log)


def render_loadbalancer(
    topo: Topology,
    *,
    node: str,
    vip: str,
    port: int,
    mode: str,
    backends: list[tuple[str, int]],
) -> Bundle:
    """A LoadBalancer IP as MetalLB's L2 mode gives it: ``node`` owns ``vip`` on the node network (it answers
    ARP for it). In ``l4`` mode the node also DNATs ``vip:port`` to the backends, a new backend per connection
    (``numgen inc``), and masquerades so replies return through it; in ``l7`` mode a proxy listens on the VIP.
    """
    owner = topo.node(node)
    p = topo
    apply = Steps()
    remove = Steps(start=50)
    apply.add("ip", owner.netns, "loadbalancer-ip", [f"addr add {vip}/32 dev {p.eth}"])
    remove.add("ip", owner.netns, "loadbalancer-ip-remove", [f"addr del {vip}/32 dev {p.eth}"], tolerant=True)
    if mode == "l4":
        targets = ", ".join(f"{i} : {ip}" for i, (ip, _) in enumerate(backends))
        ports = {backend_port for _, backend_port in backends}
        if len(ports) != 1:
            raise ValueError("l4 mode needs every backend on the same port")
        backend_port = ports.pop()
        ips = ", ".join(ip for ip, _ in backends)
        apply.add(
            "nft",
            owner.netns,
            "loadbalancer-dnat",
            [
                f"table ip {p.lb_table} {{",
                "  chain prerouting {",
                "    type nat hook prerouting priority dstnat; policy accept;",
                f"    ip daddr {vip} tcp dport {port} counter "
                f"dnat to numgen inc mod {len(backends)} map {{ {targets} }} : {backend_port}",
                "  }",
                "  chain postrouting {",
                "    type nat hook postrouting priority srcnat; policy accept;",
                f"    ct status dnat ip daddr {{ {ips} }} tcp dport {backend_port} counter masquerade",
                "  }",
                "}",
            ],
        )
        remove.add(
            "nft",
            owner.netns,
            "loadbalancer-dnat-remove",
            [f"add table ip {p.lb_table}", f"delete table ip {p.lb_table}"],
        )
    return Bundle(
        name="loadbalancer", prefix=topo.prefix, namespaces=(), apply=tuple(apply.items), remove=tuple(remove.items)
    )


class NetnsIngress(NetnsAdapter[IngressSettings]):
    scenario: ClassVar[str] = NAME

    def pods(self, settings: IngressSettings, workers: list[str], gateway: str) -> list[tuple[str, str]]:
        return placement(settings.backends, workers)

    def needs_client(self, settings: IngressSettings) -> bool:
        return True  # k6 runs on the host in front of the cluster

    def resolve(self, settings: IngressSettings, addresses: AddressPlan) -> IngressSettings:
        if settings.lb_ip is not None:
            return settings
        return settings.model_copy(update={"lb_ip": addresses.default_lb_ip})

    def check(self, settings: IngressSettings, spec: Spec, addresses: AddressPlan) -> None:
        assert settings.lb_ip is not None  # resolved
        addresses.check_free_on_node_network(("scenarios", NAME, "lb_ip"), settings.lb_ip)

    def compile(
        self, settings: IngressSettings, cluster: ClusterBuild, numbers: Mapping[str, range]
    ) -> list[Repetition]:
        assert settings.lb_ip is not None
        topo = cluster.topo
        assert topo.client is not None
        names = backend_names(settings.backends)
        refs = [nginx.BackendRef(name, topo.pod(name).ip, nginx.BACKEND_PORT) for name in names]
        route = nginx.HTTPRoute(
            listener_ip=str(settings.lb_ip), listener_port=settings.port, path_prefix=settings.path,
            backends=tuple(refs),
        )  # fmt: skip
        lb_node = topo.lb_node.name
        daemons: list[dict[str, Any]] = [
            cluster.nginx(ref.name, topo.pod(ref.name).netns, ref.port, functools.partial(_echo_conf, ref))
            for ref in refs
        ]
        lb_dir = cluster.rendered / "ingress" / "loadbalancer"
        cluster.renders[lb_dir] = render_loadbalancer(
            topo,
            node=lb_node,
            vip=str(settings.lb_ip),
            port=settings.port,
            mode=settings.gateway,
            backends=[(r.ip, r.port) for r in refs],
        )
        if settings.gateway == "l7":
            daemons.append(
                cluster.nginx(
                    GATEWAY_NAME,
                    topo.node(lb_node).netns,
                    settings.port,
                    lambda prefix, log: nginx.gateway_conf(route, prefix=prefix, error_log=log),
                )
            )
        scripts, repetitions = INGRESS.repetitions(
            settings, cni=cluster.cni, numbers=numbers, run_dir=cluster.run_dir, backends=names,
            netns=topo.client.netns,
        )  # fmt: skip
        cluster.renders[cluster.rendered / "ingress"] = Files(scripts)
        repetitions = cluster.finish(repetitions)
        spread = ", ".join(f"{r.name} on {topo.pod(r.name).node}" for r in refs)
        cluster.steps.append(f"start {len(refs)} echo backends (nginx, port {nginx.BACKEND_PORT}): {spread}")
        cluster.steps.append(f"give {lb_node} the LoadBalancer IP {settings.lb_ip} (as MetalLB's L2 mode does)")
        if settings.gateway == "l7":
            cluster.steps.append(
                f"start the L7 gateway (nginx) on {lb_node}: {settings.lb_ip}:{settings.port} {settings.path} -> "
                "the backends, round-robin per request"
            )
        else:
            cluster.steps.append(
                f"L4 gateway on {lb_node}: nftables DNAT {settings.lb_ip}:{settings.port} -> the backends, a new "
                "backend per connection"
            )
        trials = (
            f"{settings.vus} VUs"
            if settings.load == "saturate"
            else (
                "constant-arrival-rate "
                + ", ".join(f"{rate:g}" for rate in settings.offered())
                + f" req/s, each after {settings.duration} s idle"
            )
        )
        cluster.steps.append(
            f"ingress: {len(repetitions)} x `{repetitions[0].command.shown}` from {topo.client.netns} "
            f"({trials}, {settings.duration} s, GET {settings.target_url})"
        )
        return cluster.add_scenario(NAME, repetitions, bundles=[str(lb_dir / "bundle.json")], daemons=daemons)


ADAPTERS.register(NAME, NetnsIngress())
