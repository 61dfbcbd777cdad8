from __future__ import annotations

import ipaddress

import pytest

from cnibench.platforms.netns.topology import IFNAMSIZ, PREFIX_RE, Topology, build_topology, new_prefix, node_names


def _topo(datapath: str = "hostgw", workers: int = 2, pods=(("iperf3-client", "worker2"),)) -> Topology:
    return build_topology(
        prefix="cnib0a1b",
        datapath=datapath,
        workers=workers,
        node_cidr="172.18.0.0/24",
        pod_cidr="10.244.0.0/16",
        external_cidr="203.0.113.0/24",
        pods=list(pods),
    )


def test_node_names_follow_kind():
    assert node_names(3) == ["control-plane", "worker", "worker2", "worker3"]


def test_addresses_follow_the_plan():
    topo = _topo()
    assert [n.ip for n in topo.nodes] == ["172.18.0.2", "172.18.0.3", "172.18.0.4"]
    assert [n.pod_cidr for n in topo.nodes] == ["10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"]
    assert topo.gateway.name == "worker"
    client = topo.pod("iperf3-client")
    assert client.node == "worker2"
    assert ipaddress.ip_address(client.ip) in ipaddress.ip_network("10.244.2.0/24")
    assert topo.external.gateway_ip == "203.0.113.1"
    assert topo.external.server_ip == "203.0.113.2"


@pytest.mark.parametrize(("datapath", "mtu"), [("hostgw", 1500), ("vxlan", 1450)])
def test_pod_mtu_depends_on_datapath(datapath, mtu):
    assert _topo(datapath).pod_mtu == mtu


def test_every_name_carries_the_prefix_and_fits_ifnamsiz():
    topo = _topo(workers=16, pods=[(f"p{i}", "worker16") for i in range(120)])
    names = [topo.bridge, topo.eth, topo.pod_bridge, topo.vxlan_dev, topo.external_dev, topo.nat_table]
    names += [p.host_ifname for p in topo.pods] + [topo.uplink_peer(n) for n in topo.nodes]
    for name in names:
        assert "cnib" in name
    for name in names[:5] + names[6:]:
        assert len(name) <= IFNAMSIZ, name
    assert all(ns.startswith("cnib0a1b-") for ns in topo.namespaces)
    assert len(set(topo.namespaces)) == len(topo.namespaces)


def test_pods_get_distinct_addresses_per_node():
    topo = _topo(pods=[("a", "worker"), ("b", "worker"), ("c", "worker2")])
    assert len({p.ip for p in topo.pods}) == 3
    assert topo.pod("a").ip == "10.244.1.2" and topo.pod("b").ip == "10.244.1.3"


def test_round_trip_through_dict():
    topo = _topo("vxlan")
    assert Topology.from_dict(topo.to_dict()) == topo


def test_bad_inputs():
    with pytest.raises(ValueError, match="unknown datapath"):
        _topo("geneve")
    with pytest.raises(ValueError, match="no node"):
        _topo(pods=[("x", "worker9")])


def test_new_prefix_avoids_existing_names():
    prefix = new_prefix()
    assert PREFIX_RE.match(prefix)
    taken = [f"cnib{i:04x}-net" for i in range(65536) if i != 0x1234]
    assert new_prefix(taken) == "cnib1234"
