"""The netns datapath's configuration: what a cluster is built with (pure, from its topology: before anything runs)
and what it has once built (read back: every node's and pod's interface MTU, the overlay device's offloads), with
the checks on both."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cnibench.datapath_config import EFFECTIVE_WARNINGS_KEY, mtu_problem, path_mtu
from cnibench.platforms.netns.topology import Topology

#: The kernel options encryption between nodes needs (Kconfig symbols) and the modules they build, by encryption.
KERNEL_ENCRYPTION = {"WireGuard": ("CONFIG_WIREGUARD", "wireguard"), "IPsec ESP": ("CONFIG_INET_ESP", "esp4")}


def kernel_encryption(config: Path = Path("/proc/config.gz"), sys_module: Path = Path("/sys/module")) -> dict[str, str]:
    """Whether this kernel has WireGuard and IPsec ESP: encryption name -> ``y`` (built in), ``m`` (a module),
    ``no`` (``CONFIG_... is not set``), ``loaded`` (its module is, without a readable config) or ``unknown``.

    Read from the kernel's own config (``/proc/config.gz``, CONFIG_IKCONFIG_PROC), else ``/sys/module``: no root, no
    namespace. Here (Linux 6.18, FACTS.md) both are ``no``: ``ip link add type wireguard`` says "Unknown device
    type" and ``ip xfrm state add ... proto esp ...`` says "Requested type not found"."""
    import gzip

    try:
        text = gzip.decompress(config.read_bytes()).decode("utf-8", "replace")
    except (OSError, EOFError, gzip.BadGzipFile):
        text = None
    out: dict[str, str] = {}
    for name, (symbol, module) in KERNEL_ENCRYPTION.items():
        if (sys_module / module).is_dir():
            out[name] = "loaded"
        elif text is None:
            out[name] = "unknown"
        elif f"{symbol}=y" in text.splitlines():
            out[name] = "y"
        elif f"{symbol}=m" in text.splitlines():
            out[name] = "m"
        else:
            out[name] = "no"
    return out


def no_encryption(found: dict[str, str]) -> str:
    """Why a netns datapath has no ``encryption`` knob, in a line, from :func:`kernel_encryption`'s ``found``."""
    import os

    states = {"no": "is not set", "unknown": "could not be read", "y": "=y", "m": "=m", "loaded": "module loaded"}
    said = ", ".join(f"{name} ({KERNEL_ENCRYPTION[name][0]} {states[state]})" for name, state in found.items())
    if all(state == "no" for state in found.values()):
        return (
            f"the netns datapaths have no encryption variant: this kernel ({os.uname().release}) has neither "
            f"{said.replace('), ', ') nor ')}"
        )
    return f"the netns datapaths have no encryption variant (this kernel: {said}; cnibench builds none on netns)"


def planned(topo: Topology) -> dict[str, Any]:
    """What the cluster of ``topo`` is built with: the datapath, the variant's settings in effect (its knobs), the
    underlay's MTU, the encapsulation overhead, the path MTU it leaves and the pod MTU (bytes)."""
    return {
        "datapath": topo.datapath.name,
        "settings": topo.datapath.effective_settings,
        "node_mtu": topo.underlay_mtu,
        "overhead": topo.datapath.overhead,
        "path_mtu": path_mtu(topo.underlay_mtu, topo.datapath.overhead),
        "pod_mtu": topo.pod_mtu,
    }


def planned_problems(topo: Topology) -> list[str]:
    """What is wrong with ``topo``'s configuration before it is built (a pod MTU the underlay cannot carry)."""
    problem = mtu_problem(topo.pod_mtu, topo.underlay_mtu, topo.datapath.overhead, f"{topo.datapath.name} headers")
    return [problem] if problem else []


def effective_problems(
    topo: Topology, links: Mapping[str, Mapping[str, int]], offloads: Mapping[str, Mapping[str, bool]]
) -> list[str]:
    """What the built cluster has that it should not: a pod interface whose MTU (read back, ``links``: netns ->
    ifname -> MTU) is above its node uplink's minus the encapsulation, an interface whose MTU is not the one it was
    built with, and an overlay device whose offloads (``offloads``: netns -> {feature: on}) are not the variant's."""
    problems: list[str] = []
    overhead = topo.datapath.overhead
    for node in topo.nodes:
        node_mtu = links.get(node.netns, {}).get(topo.eth)
        for pod in topo.pods_on(node):
            pod_mtu = links.get(pod.netns, {}).get(topo.eth)
            if pod_mtu is None or node_mtu is None:
                continue
            problem = mtu_problem(pod_mtu, node_mtu, overhead, f"{topo.datapath.name} headers")
            if problem:
                problems.append(f"pod {pod.name} on {node.name}: {problem}")
            elif pod_mtu != topo.pod_mtu:
                problems.append(f"pod {pod.name}: MTU {pod_mtu}, built with {topo.pod_mtu}")
    wanted = topo.datapath.expected_offloads()
    for node in topo.nodes:
        have = offloads.get(node.netns, {})
        for feature, on in wanted.items():
            if feature in have and have[feature] != on:
                problems.append(
                    f"{node.name}: {feature} is {'on' if have[feature] else 'off'} on the overlay device, the "
                    f"variant asks for {'on' if on else 'off'}"
                )
    return problems


def read_back(bundle: Path, links: Mapping[str, Mapping[str, int]]) -> dict[str, Any]:
    """The effective configuration of the cluster a bundle built (its topology beside it, ``<cni>/topology.json``):
    the offloads of every node's uplink and overlay device and of every pod's interface (ethtool), and the problems
    :func:`effective_problems` finds with the MTUs read back (``links``). Empty when no topology is beside it."""
    import json

    from cnibench.platforms.netns import ops

    path = bundle.parent.parent / "topology.json"
    if not path.is_file():
        return {}
    topo = Topology.from_dict(json.loads(path.read_text(encoding="utf-8")))
    offloads: dict[str, dict[str, dict[str, bool]]] = {}
    devices = [(node.netns, dev) for node in topo.nodes for dev in (topo.eth, topo.vxlan_dev)]
    devices += [(pod.netns, topo.eth) for pod in topo.pods]
    for netns, dev in devices:
        if dev not in links.get(netns, {}):
            continue
        found = ops.link_offloads(netns, dev)
        if found is None:  # no ethtool here: the MTUs are still checked
            break
        offloads.setdefault(netns, {})[dev] = found
    overlay = {netns: found[topo.vxlan_dev] for netns, found in offloads.items() if topo.vxlan_dev in found}
    return {"offloads": offloads, EFFECTIVE_WARNINGS_KEY: effective_problems(topo, links, overlay)}
