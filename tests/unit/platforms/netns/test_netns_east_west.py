"""The east-west scenario on netns, compiled (pure) and its Service's nftables rules checked by nft itself."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from cnibench.errors import SpecError
from cnibench.plan import make_plan
from cnibench.platforms.netns.platform import NetnsPlatform, topology_for
from cnibench.platforms.netns.render import Bundle
from cnibench.spec import default_spec_data, parse_spec


def _data(**east_west: Any) -> dict[str, Any]:
    return {
        "name": "ew",
        "platform": "netns",
        "cnis": ["hostgw", "vxlan"],
        "rounds": 1,
        "metrics": {"enabled": False},
        "scenarios": {"east-west": {"duration": 2, "omit": 1, "repetitions": 1, **east_west}},
    }


def _compile(tmp_path, data):
    plan = make_plan(parse_spec(data))
    return plan, NetnsPlatform().compile(plan, run_dir=tmp_path, prefix="cnib0000")


def test_only_what_the_scenarios_need_is_built(tmp_path):
    spec = parse_spec(_data())
    plan = make_plan(spec)
    topo = topology_for(spec, "hostgw", "cnib0000", {t.scenario for t in plan.trials})
    assert topo.external is None and "cnib0000-ext" not in topo.cluster_namespaces
    assert [(p.name, p.node) for p in topo.pods] == [
        ("ew-server", "worker"), ("ew-client-same", "worker"), ("ew-client-cross", "worker2"),
    ]  # fmt: skip
    host_only = parse_spec(_data(paths=["host-to-host"]))
    assert topology_for(host_only, "hostgw", "cnib0000", {t.scenario for t in make_plan(host_only).trials}).pods == ()
    # egress still gets its external network behind the gateway node
    egress = parse_spec(default_spec_data())
    topo = topology_for(egress, "hostgw", "cnib0000", {"egress"})
    assert topo.external is not None and topo.external.netns in topo.cluster_namespaces


def test_compile_places_servers_service_and_clients(tmp_path):
    _, compiled = _compile(tmp_path, _data(protocols=["tcp", "udp"], bitrate="100M"))
    cluster = compiled.extravars["cnibench_clusters"][0]
    servers = {d["name"]: d for d in cluster["daemons"]}
    assert servers["ew-server"]["netns"] == "cnib0000-pod-ew-server" and "10.244.1.2" in servers["ew-server"]["argv"]
    assert servers["ew-host-server"]["netns"] == "cnib0000-worker" and "172.18.0.3" in servers["ew-host-server"]["argv"]
    assert cluster["bundles"][1].endswith("rendered/hostgw/east-west/service/bundle.json")
    [scenario] = cluster["scenarios"]
    assert scenario["scenario"] == "east-west" and len(scenario["runs"]) == 24
    reps = {r.scenario: r for r in compiled.repetitions if r.cni == "hostgw"}
    cases = {
        "pod-to-pod.cross-node.tcp-single": ("cnib0000-pod-ew-client-cross", "10.244.1.2", "10.244.2.2", "DTS"),
        "pod-to-service.same-node.udp-multi": ("cnib0000-pod-ew-client-same", "10.96.0.100", "10.244.1.3", "SUM-SN"),
        "host-to-host.cross-node.tcp-multi": ("cnib0000-worker2", "172.18.0.3", "172.18.0.4", "HTM"),
        "host-to-host.same-node.tcp-single": ("cnib0000-worker", "172.18.0.3", "172.18.0.3", "HTS-SN"),
    }
    for trial, (netns, target, client_ip, code) in cases.items():
        rep = reps[trial]
        argv = rep.command.argv
        assert rep.command.netns == netns and argv[argv.index("--client") + 1] == target, trial
        assert rep.expect.client_ip == client_ip and rep.expect.code == code
    assert reps["pod-to-service.same-node.udp-multi"].expect.backend_ip == "10.244.1.2"
    multi = reps["pod-to-service.same-node.udp-multi"].command.argv
    assert multi[multi.index("--parallel") + 1] == "8" and multi[multi.index("--bitrate") + 1] == "100M"
    text = "\n".join(compiled.steps)
    assert "Service ew-server: ClusterIP 10.96.0.100:5201 (tcp, udp) -> 10.244.1.2" in text
    assert "external network" not in text


def test_the_service_is_kube_proxy_like_dnat_on_every_node(tmp_path):
    _, compiled = _compile(tmp_path, _data(paths=["pod-to-service"]))
    compiled.write()
    bundle = Bundle.load(tmp_path / "rendered" / "vxlan" / "east-west" / "service" / "bundle.json")
    assert [s.netns for s in bundle.apply] == ["cnib0000-control-plane", "cnib0000-worker", "cnib0000-worker2"]
    rules = bundle.apply[2].content
    assert "type nat hook prerouting priority dstnat" in rules and "type nat hook output priority -100" in rules
    assert "10.96.0.100 . tcp . 5201 : goto service-ew-server-tcp-5201" in rules
    assert "meta l4proto udp counter dnat to 10.244.1.2:5201" in rules
    # pod sources keep their address: only off-cluster sources and hairpin traffic are marked for masquerade
    assert "ip saddr != 10.244.0.0/16 jump mark-for-masquerade" in rules
    assert "ip saddr 10.244.1.2 jump mark-for-masquerade" in rules
    assert json.loads((tmp_path / "rendered" / "vxlan" / "east-west" / "service" / "bundle.json").read_text())["remove"]


@pytest.mark.skipif(shutil.which("nft") is None, reason="nft not installed")
def test_nft_accepts_the_service_rules(tmp_path):
    """``nft --check`` parses and validates the ruleset against the kernel without applying it (as root)."""
    _, compiled = _compile(tmp_path, _data(paths=["pod-to-service"]))
    compiled.write()
    bundle = Bundle.load(tmp_path / "rendered" / "hostgw" / "east-west" / "service" / "bundle.json")
    path = tmp_path / "service.nft"
    path.write_text(bundle.apply[0].content)
    result = subprocess.run(["nft", "--check", "--file", str(path)], capture_output=True, text=True, check=False)
    if "Operation not permitted" in result.stderr:
        pytest.skip("nft --check needs root")
    assert result.returncode == 0, result.stderr


def test_a_cluster_ip_inside_the_node_or_pod_network_is_refused():
    with pytest.raises(SpecError, match=r"scenarios\.east-west\.cluster_ip: 10\.244\.9\.9 is inside network\.pod_cidr"):
        parse_spec(_data(cluster_ip="10.244.9.9"))
    with pytest.raises(SpecError, match=r"scenarios\.east-west\.cluster_ip: 172\.18\.0\.50 is inside network\.node"):
        parse_spec(_data(cluster_ip="172.18.0.50"))


def test_rr_and_crr_start_sockperf_and_nginx_give_the_service_their_ports_and_watch_both_nodes(tmp_path):
    """The rr/crr servers beside iperf3's, the Service's extra ports (checked by nft itself) and every repetition
    inside the conntrack launcher, sampling the client's node and the server's."""
    data = _data(workloads=["rr", "crr"], paths=["pod-to-service", "host-to-host"], placements=["cross-node"])
    _, compiled = _compile(tmp_path, data)
    compiled.write()
    cluster = compiled.extravars["cnibench_clusters"][0]
    servers = {d["name"]: d for d in cluster["daemons"]}
    for where in ("ew-server", "ew-host-server"):
        assert "--tcp" in servers[f"{where}-sockperf-tcp"]["argv"] and servers[f"{where}-sockperf-tcp"]["listen_port"]
        assert "--tcp" not in servers[f"{where}-sockperf-udp"]["argv"]
        assert servers[f"{where}-nginx"]["listen_port"] == 8080
    rules = Bundle.load(tmp_path / "rendered" / "hostgw" / "east-west" / "service" / "bundle.json").apply[0].content
    for port, proto in ((11111, "tcp"), (11112, "udp"), (8080, "tcp"), (5201, "udp")):
        assert f"10.96.0.100 . {proto} . {port} : goto service-ew-server-{proto}-{port}" in rules
    [scenario] = cluster["scenarios"]
    codes = [r["label"].split()[1] for r in scenario["runs"]]
    assert codes == ["pod-to-service.cross-node.tcp-rr", "host-to-host.cross-node.tcp-rr",
                     "pod-to-service.cross-node.tcp-crr", "host-to-host.cross-node.tcp-crr"]  # fmt: skip
    argv = scenario["runs"][0]["argv"]
    launcher = argv.index("cnibench.platforms.netns.conntrack_watch")
    assert argv[launcher + 1] == "run" and "--node=worker=cnib0000-worker" in argv
    assert "--node=worker2=cnib0000-worker2" in argv and "sockperf" in argv[argv.index("--") + 1]
    crr = scenario["runs"][2]["argv"]
    assert crr[crr.index("--") + 1].endswith("ab") and crr[-1] == "http://10.96.0.100:8080/data?size=1"
    path = tmp_path / "service.nft"
    path.write_text(rules)
    result = subprocess.run(["nft", "--check", "--file", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0 or "Operation not permitted" in result.stderr, result.stderr
