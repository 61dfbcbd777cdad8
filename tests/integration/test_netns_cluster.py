"""The netns library against the real kernel: build, verify the paths, destroy."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cnibench import runstate as run_state
from cnibench import spawn
from cnibench.errors import PlatformError
from cnibench.platforms.netns import ops
from cnibench.platforms.netns.render import render_cluster, render_network
from cnibench.platforms.netns.scenarios.egress import render_egress_policy
from cnibench.platforms.netns.topology import build_topology, new_prefix
from cnibench.tools import iperf3

pytestmark = pytest.mark.integration


def _topology(datapath: str):
    return build_topology(
        prefix=new_prefix(ops.list_namespaces()),
        datapath=datapath,
        workers=2,
        node_cidr="172.18.0.0/24",
        pod_cidr="10.244.0.0/16",
        external_cidr="203.0.113.0/24",
        pods=[("client", "worker2"), ("other", "worker2")],
    )


def _ip_json(netns: str, *args: str):
    return json.loads(
        subprocess.run(["ip", "-j", "-n", netns, *args], check=True, capture_output=True, text=True).stdout
    )


def _measure(topo, tmp_path: Path, tag: str, pod: str = "client") -> iperf3.Iperf3Result:
    out = tmp_path / f"{tag}.json"
    argv = iperf3.client_argv(topo.external.server_ip, protocol="tcp", duration=1, omit=0, parallel=1, bitrate="1G")
    result = spawn.exec_to_file(topo.pod(pod).netns, argv, output=out, timeout=20)
    assert result.returncode == 0, result.stderr
    return iperf3.parse_client_json(out.read_text())


def _tx_bytes(netns: str, dev: str) -> int:
    return _ip_json(netns, "-s", "link", "show", "dev", dev)[0]["stats64"]["tx"]["bytes"]


@pytest.mark.parametrize("datapath", ["hostgw", "vxlan"])
def test_cluster_egress_policy_and_teardown(datapath, tmp_path, state_dir):
    topo = _topology(datapath)
    state_file = run_state.state_file(topo.prefix, state_dir)
    cluster = render_cluster(topo).write(tmp_path / "cluster")
    policy = render_egress_policy(
        topo, pods=["client"], egress_ip="203.0.113.254", destinations=[topo.external.cidr]
    ).write(tmp_path / "policy")
    ops.apply_bundle(cluster, present=True, state_file=state_file)
    try:
        assert set(run_state.read_state(state_file)["namespaces"]) == set(topo.namespaces)
        # MTUs as rendered, read back from the kernel
        pod_link = _ip_json(topo.pod("client").netns, "link", "show", "dev", topo.eth)[0]
        assert pod_link["mtu"] == (1450 if datapath == "vxlan" else 1500)
        # the external network hangs off the gateway node only: everyone else routes to it
        route = _ip_json(topo.node("control-plane").netns, "route", "get", topo.external.server_ip)[0]
        assert route["gateway"] == topo.gateway.ip
        pid = spawn.start_daemon(
            topo.external.netns,
            iperf3.server_argv(topo.external.server_ip),
            log=tmp_path / "server.log",
            listen_port=iperf3.DEFAULT_PORT,
        )
        client_node = topo.node("worker2")

        base = _measure(topo, tmp_path, "baseline")
        assert base.source_ip_seen == client_node.ip  # the pod's own node masqueraded
        assert base.throughput_bps > 1e8

        ops.apply_bundle(policy, present=True)
        vx_before = _tx_bytes(client_node.netns, topo.vxlan_dev) if datapath == "vxlan" else 0
        egress = _measure(topo, tmp_path, "egress")
        assert egress.source_ip_seen == "203.0.113.254"  # SNAT on the gateway node
        unselected = _measure(topo, tmp_path, "other", pod="other")
        assert unselected.source_ip_seen == client_node.ip  # the policy selects pods
        if datapath == "vxlan":  # the selected pod's traffic crossed the overlay to the gateway
            sent_bytes = egress.sender_bps / 8 * 1
            assert _tx_bytes(client_node.netns, topo.vxlan_dev) - vx_before > 0.5 * sent_bytes
        snat = subprocess.run(
            ["ip", "netns", "exec", topo.gateway.netns, "nft", "-j", "list", "table", "ip", topo.egress_table],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        assert '"snat"' in snat and '"packets": 0' not in snat

        ops.apply_bundle(policy, present=False)
        ops.apply_bundle(policy, present=False)  # removal is idempotent
        assert _measure(topo, tmp_path, "after").source_ip_seen == client_node.ip
        assert spawn.listening_ports(pid) == {iperf3.DEFAULT_PORT}
    finally:
        report = ops.destroy_prefix(topo.prefix, state_file)
    assert set(report.namespaces) == set(topo.namespaces)
    assert pid in report.pids
    assert not [n for n in ops.list_namespaces() if n.startswith(topo.prefix)]
    assert not state_file.exists()
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[1][:3]


def test_a_failing_step_rolls_back_what_it_created(tmp_path, state_dir):
    topo = _topology("hostgw")
    bundle = render_cluster(topo)
    broken = bundle.apply[-1]
    path = bundle.write(tmp_path / "cluster")
    (path.parent / broken.file).write_text(broken.content + "route add 10.99.0.0/16 via 192.0.2.1\n")
    state_file = run_state.state_file(topo.prefix, state_dir)
    with pytest.raises(PlatformError) as info:
        ops.apply_bundle(path, present=True, state_file=state_file)
    assert broken.file in str(info.value)
    assert "\n" not in str(info.value)
    assert not [n for n in ops.list_namespaces() if n.startswith(topo.prefix)]
    assert run_state.read_state(state_file)["namespaces"] == []


@pytest.mark.parametrize("datapath", ["hostgw", "vxlan"])
def test_the_next_cluster_is_built_the_moment_the_last_one_is_torn_down(datapath, tmp_path, state_dir):
    """Rounds build the same cluster again on the run's node network, at once: nothing of the torn-down cluster may
    linger there (the kernel dismantles deleted namespaces later; their uplinks' peers kept the names)."""
    topo = _topology(datapath)
    state_file = run_state.state_file(topo.prefix, state_dir)
    network = render_network(topo).write(tmp_path / "network")
    cluster = render_cluster(topo, with_network=False).write(tmp_path / "cluster")
    ops.apply_bundle(network, present=True, state_file=state_file)
    try:
        for _ in range(3):
            ops.apply_bundle(cluster, present=True, state_file=state_file)
            route = _ip_json(topo.node("worker2").netns, "route", "get", topo.external.server_ip)[0]
            assert route["gateway"] == topo.gateway.ip
            ops.apply_bundle(cluster, present=False, state_file=state_file)
            bridge_ports = _ip_json(topo.underlay_netns, "link", "show", "master", topo.bridge)
            assert [p["ifname"] for p in bridge_ports if p["ifname"] != topo.client_peer] == []
    finally:
        ops.destroy_prefix(topo.prefix, state_file)
