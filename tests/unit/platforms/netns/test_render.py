from __future__ import annotations

from cnibench.platforms.netns.render import Bundle, render_cluster
from cnibench.platforms.netns.scenarios.egress import render_egress_policy
from cnibench.platforms.netns.topology import build_topology


def _topo(datapath: str):
    return build_topology(
        prefix="cnib0a1b",
        datapath=datapath,
        workers=2,
        node_cidr="172.18.0.0/24",
        pod_cidr="10.244.0.0/16",
        external_cidr="203.0.113.0/24",
        pods=[("iperf3-client", "worker2")],
    )


def _text(bundle: Bundle, netns: str, kind: str, *, remove: bool = False) -> str:
    steps = bundle.remove if remove else bundle.apply
    return "".join(s.content for s in steps if s.netns == netns and s.kind == kind)


def test_namespaces_come_first_and_removal_destroys_them_all():
    topo = _topo("hostgw")
    bundle = render_cluster(topo)
    first = bundle.apply[0]
    assert first.netns is None and first.kind == "ip"
    assert first.content.split("\n")[:-1] == [f"netns add {ns}" for ns in topo.namespaces]
    assert bundle.remove[0].kind == "destroy"
    assert set(bundle.remove[0].content.split()) == set(topo.namespaces)
    assert bundle.namespaces == tuple(topo.namespaces)


def test_a_cluster_on_the_run_s_node_network_unplugs_its_nodes_before_its_namespaces_go():
    topo = _topo("vxlan")
    bundle = render_cluster(topo, with_network=False)
    unplug, destroy = bundle.remove
    assert (unplug.kind, unplug.netns, unplug.tolerant) == ("ip", topo.underlay_netns, True)
    assert unplug.content.split("\n")[:-1] == [f"link del {topo.uplink_peer(n)}" for n in topo.nodes]
    assert destroy.kind == "destroy" and set(destroy.content.split()) == set(topo.cluster_namespaces)
    assert topo.underlay_netns not in destroy.content.split()


def test_hostgw_routes_pod_cidrs_via_node_ips():
    topo = _topo("hostgw")
    text = _text(render_cluster(topo), "cnib0a1b-worker2", "ip")
    assert "route add 10.244.0.0/24 via 172.18.0.2 dev cnib0a1b-eth" in text
    assert "route add 10.244.1.0/24 via 172.18.0.3 dev cnib0a1b-eth" in text
    # external traffic goes to the gateway node, which is the only one attached to the external network
    assert "route add 203.0.113.0/24 via 172.18.0.3 dev cnib0a1b-eth" in text
    assert "vxlan" not in text


def test_vxlan_is_flannel_style_with_static_fdb_and_neighbours():
    topo = _topo("vxlan")
    bundle = render_cluster(topo)
    links = _text(bundle, "cnib0a1b-worker2", "ip")
    assert "type vxlan id 1 local 172.18.0.4 dev cnib0a1b-eth dstport 8472 nolearning" in links
    assert "mtu 1450 type vxlan" in links
    assert "neigh add 10.244.1.0 lladdr 0e:c1:b0:00:00:01 dev cnib0a1b-vx nud permanent" in links
    assert "route add 10.244.1.0/24 via 10.244.1.0 dev cnib0a1b-vx onlink" in links
    fdb = _text(bundle, "cnib0a1b-worker2", "bridge")
    assert "fdb append 0e:c1:b0:00:00:01 dev cnib0a1b-vx dst 172.18.0.3" in fdb
    assert "dst 172.18.0.4" not in fdb  # no entry for itself
    pod = _text(bundle, "cnib0a1b-worker2", "ip")
    assert "mtu 1450 type veth peer name cnib0a1b-eth mtu 1450" in pod


def test_every_node_masquerades_pod_traffic_leaving_the_pod_network():
    bundle = render_cluster(_topo("hostgw"))
    for node in ("control-plane", "worker", "worker2"):
        nft = _text(bundle, f"cnib0a1b-{node}", "nft")
        assert "ip saddr 10.244.0.0/16 ip daddr != 10.244.0.0/16 counter masquerade" in nft
        assert "ip saddr @egress_src ip daddr @egress_dst counter return" in nft
        sysctl = _text(bundle, f"cnib0a1b-{node}", "sysctl")
        assert "net.ipv4.ip_forward = 1" in sysctl


def test_egress_policy_hostgw_and_vxlan_route_differently():
    for datapath, via in (
        ("hostgw", "via 172.18.0.3 dev cnib0a1b-eth"),
        ("vxlan", "via 10.244.1.0 dev cnib0a1b-vx onlink"),
    ):
        topo = _topo(datapath)
        policy = render_egress_policy(
            topo, pods=["iperf3-client"], egress_ip="203.0.113.254", destinations=["203.0.113.0/24"]
        )
        gw = _text(policy, "cnib0a1b-worker", "nft")
        assert "priority srcnat - 10" in gw
        assert (
            "ip saddr { 10.244.2.2 } ip daddr { 203.0.113.0/24 } oifname cnib0a1b-ext counter snat to 203.0.113.254"
            in gw
        )
        assert "addr add 203.0.113.254/32 dev cnib0a1b-ext" in _text(policy, "cnib0a1b-worker", "ip")
        client_node = _text(policy, "cnib0a1b-worker2", "ip")
        assert f"route add default {via} table 100" in client_node
        assert "rule add from 10.244.2.2/32 to 203.0.113.0/24 lookup 100 pref 100" in client_node
        assert "add element ip cnib0a1b_nat egress_src { 10.244.2.2 }" in _text(policy, "cnib0a1b-worker2", "nft")
        removal = _text(policy, "cnib0a1b-worker", "nft", remove=True)
        assert "delete table ip cnib0a1b_egress" in removal
        assert policy.namespaces == ()


def test_bundle_round_trips_through_disk(tmp_path):
    bundle = render_cluster(_topo("vxlan"))
    path = bundle.write(tmp_path / "cluster")
    assert path.name == "bundle.json"
    loaded = Bundle.load(path)
    assert loaded == bundle
    files = sorted(p.name for p in (tmp_path / "cluster").iterdir())
    assert files[0].startswith("00-") and "bundle.json" in files
