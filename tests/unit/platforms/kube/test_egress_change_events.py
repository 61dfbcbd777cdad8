"""The egress-change driver's pure parts on Kubernetes: places and their PIDs (run for real through a prefix that
runs here), the tools' argv, the active gateway, the failure and its undo from real ``ip -j`` outputs."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from cnibench.errors import PlatformError
from cnibench.platforms.kube.scenarios._egress_change_events import (
    Place,
    active_gateway,
    agent_pods,
    capture_interface,
    client_seconds,
    cordon_argvs,
    docker_place,
    keep_ipv6_argv,
    link_down_argvs,
    link_up_argvs,
    pick_gateways,
    pod_place,
    probe_argv,
    read_pid,
    route_restore_argv,
    status_field,
)

DATA = Path(__file__).resolve().parents[3] / "data" / "ip"


def test_a_remote_process_says_its_pid_first_and_is_stopped_by_it(tmp_path):
    # `env` stands in for `docker exec NAME` / `kubectl exec POD --`: a prefix that runs the command elsewhere
    place = Place(("env",))
    log = tmp_path / "log"
    with log.open("wb") as out:
        proc = subprocess.Popen(place.argv(["sleep", "30"]), stdout=out, stderr=out)
    deadline = time.monotonic() + 5
    while "cnibench-pid" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.01)
    pid = read_pid(log.read_text().splitlines()[0])
    assert pid == proc.pid  # sh exec'd the tool: the PID it printed is the tool's
    subprocess.run(place.kill_argv(pid), check=True)
    assert proc.wait(5) == -15  # SIGTERM, by that PID


def test_places_wrap_their_commands():
    assert Place().argv(["tcpdump", "-i", "eth0"]) == ["tcpdump", "-i", "eth0"]
    argv = docker_place("srv").argv(["iperf3", "-s"])
    assert argv[:5] == ["docker", "exec", "srv", "sh", "-c"] and argv[-3:] == ["sh", "iperf3", "-s"]
    assert pod_place(["kubectl", "--namespace", "cnibench"], "probe-client").kill_argv(7) == [
        "kubectl", "--namespace", "cnibench", "exec", "probe-client", "--",
        "sh", "-c", 'kill -TERM "$1"', "sh", "7",
    ]  # fmt: skip
    with pytest.raises(PlatformError, match="could not start the process: OCI runtime exec failed"):
        read_pid("OCI runtime exec failed: exec failed: unable to start container process\n")


def test_the_probe_runs_past_the_window_at_the_spec_rate():
    assert client_seconds(2.0, 5) == 9
    argv = probe_argv("172.18.255.252", 5301, 9, bitrate=512000, size=64)
    assert argv == ["iperf3", "-c", "172.18.255.252", "-p", "5301", "-t", "9", "-u", "-b", "512000", "-l", "64",
                    "--pacing-timer", "100"]  # fmt: skip


def test_the_capture_interface_and_its_broadcast_from_real_ip_output():
    addresses = json.loads((DATA / "address.json").read_text())
    assert capture_interface(addresses, "172.18.0.3") == ("eth0", "172.18.255.255")  # no brd in the JSON: derived
    with pytest.raises(PlatformError, match=r"no interface of this machine has server_ip 192\.0\.2\.10"):
        capture_interface(addresses, "192.0.2.10")


def test_the_routes_a_link_down_removes_are_put_back():
    routes = json.loads((DATA / "route-dev-eth0.json").read_text())
    assert link_down_argvs() == [["ip", "link", "set", "eth0", "down"]]
    assert keep_ipv6_argv() == ["sysctl", "-q", "-w", "net.ipv6.conf.eth0.keep_addr_on_down=1"]
    assert link_up_argvs(routes) == [
        ["ip", "link", "set", "eth0", "up"],
        ["ip", "route", "replace", "default", "via", "172.18.0.1", "dev", "eth0"],
        ["ip", "route", "replace", "10.244.2.0/24", "via", "172.18.0.4", "dev", "eth0", "proto", "static",
         "metric", "100"],
    ]  # fmt: skip  # the connected route (proto kernel) comes back with the link by itself
    assert route_restore_argv({"dst": "172.18.0.0/16", "dev": "eth0", "protocol": "kernel"}) is None


def test_the_active_gateway_is_the_owner_the_cni_reports_or_the_first_by_name():
    assert active_gateway(["w2", "w1"], None) == "w1"  # Cilium: the first matching node by name
    assert active_gateway(["w1", "w2"], "w2") == "w2"  # Antrea: status.egressNode
    with pytest.raises(PlatformError, match="the egress IP is on w3, not on a gateway node"):
        active_gateway(["w1", "w2"], "w3")
    assert status_field({"status": {"egressNode": "w2"}}, "egressNode") == "w2"
    assert status_field({"status": {}}, "egressNode") is None and status_field(None, "egressNode") is None


def test_kubeconfig_fails_a_node_by_cordoning_it_and_deleting_its_agent():
    pods = {"items": [
        {"metadata": {"namespace": "kube-system", "name": "antrea-agent-x7",
                      "ownerReferences": [{"kind": "DaemonSet", "name": "antrea-agent"}]}},
        {"metadata": {"namespace": "kube-system", "name": "kube-proxy-q",
                      "ownerReferences": [{"kind": "DaemonSet", "name": "kube-proxy"}]}},
        {"metadata": {"namespace": "cnibench", "name": "probe-client"}},
    ]}  # fmt: skip
    agents = agent_pods(pods, "antrea-agent")
    assert agents == [("kube-system", "antrea-agent-x7")]
    assert cordon_argvs(["kubectl"], "w1", agents) == [
        ["kubectl", "cordon", "w1"],
        ["kubectl", "delete", "pod", "--namespace", "kube-system", "antrea-agent-x7", "--wait=false"],
    ]


def test_two_gateways_and_a_third_worker_for_the_probe():
    assert pick_gateways(["c", "a", "b"], None) == ["a", "b"]
    assert pick_gateways(["w", "w2", "w3"], ["w2", "w3"]) == ["w2", "w3"]
    with pytest.raises(PlatformError, match=r"needs three ready, schedulable workers .* found 2: a, b"):
        pick_gateways(["a", "b"], None)
    with pytest.raises(PlatformError, match="node x is not a ready, schedulable worker"):
        pick_gateways(["a", "b", "c"], ["a", "x"])
