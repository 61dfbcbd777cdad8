"""The netns policy tests' throwaway three-namespace lab (root)."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator

import pytest
from policy_lab import CLIENTS, SERVER, ip

from cnibench.scenarios._policy_rules import decoy_block


@pytest.fixture
def lab() -> Iterator[dict[str, str]]:
    """src (clients, an intruder, decoy members and a decoy block's address as its own addresses) -> router (the
    policy in its forward hook) -> dst (the protected pod's address, nothing listening: a SYN that gets through is
    answered with a RST, one that is dropped times out)."""
    tag = uuid.uuid4().hex[:6]
    names = {role: f"cnibench-npt-{role}-{tag}" for role in ("src", "router", "dst")}
    try:
        for ns in names.values():
            ip("netns", "add", ns)
        ip("link", "add", "src0", "type", "veth", "peer", "name", "rsrc0", "netns", names["router"], netns=names["src"])
        ip("link", "add", "dst0", "type", "veth", "peer", "name", "rdst0", "netns", names["router"], netns=names["dst"])
        links = [(names["src"], "src0", "10.99.1.1/24"), (names["router"], "rsrc0", "10.99.1.254/24"),
                 (names["router"], "rdst0", "10.99.2.254/24"), (names["dst"], "dst0", f"{SERVER}/24")]  # fmt: skip
        for ns, dev, addr in links:
            ip("addr", "add", addr, "dev", dev, netns=ns)
            ip("link", "set", dev, "up", netns=ns)
        for extra in (*CLIENTS, "10.244.2.9", "198.19.0.0", "198.19.0.1", str(decoy_block(2)[1])):
            ip("addr", "add", f"{extra}/32", "dev", "src0", netns=names["src"])
        ip("route", "add", "default", "via", "10.99.1.254", netns=names["src"])
        ip("route", "add", "default", "via", "10.99.2.254", netns=names["dst"])
        for net in ("198.18.0.0/15", "10.244.0.0/16"):
            ip("route", "add", net, "via", "10.99.1.1", netns=names["router"])
        subprocess.run(["ip", "netns", "exec", names["router"], "sysctl", "-qw", "net.ipv4.ip_forward=1"], check=True)
        yield names
    finally:
        for ns in names.values():
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
