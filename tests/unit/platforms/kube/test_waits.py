"""The deciding parts of the run-time waits: who the server must see, a Gateway's address, pods that cannot
become ready.

No cluster can run here: these documents are built in the tests, field for field as ``kubectl get -o json`` and
``docker network inspect`` print them (only the fields cnibench reads)."""

from __future__ import annotations

from kube_documents import KIND_NODES

from cnibench.platforms.kube import waits


def test_expected_source_is_the_clients_node_or_the_egress_ip():
    nodes = waits.parse_nodes(KIND_NODES)
    common = {"nodes": nodes, "client_node": "c-worker2", "gateway_node": "c-worker"}
    assert waits.expected_source("baseline", egress_ip="172.18.255.253", **common) == "172.18.0.4"
    assert waits.expected_source("policy", egress_ip="172.18.255.253", **common) == "172.18.255.253"
    assert waits.expected_source("policy", egress_ip=None, **common) == "172.18.0.3"


def test_load_balancer_address_of_a_gateway_and_a_service():
    gateway = {"status": {"addresses": [{"type": "IPAddress", "value": "172.18.255.254"}]}}
    assert waits.load_balancer_address("Gateway", gateway) == "172.18.255.254"
    assert waits.load_balancer_address("Gateway", {"status": {}}) is None
    service = {"status": {"loadBalancer": {"ingress": [{"ip": "20.1.2.3", "ipMode": "VIP"}]}}}
    assert waits.load_balancer_address("Service", service) == "20.1.2.3"
    assert waits.load_balancer_address("Service", {"status": {"loadBalancer": {}}}) is None


def test_a_gateway_is_ready_when_programmed_not_when_addressed():
    gateway = {"status": {"addresses": [{"value": "20.1.2.3"}], "conditions": [{"type": "Accepted", "status": "True"}]}}
    assert waits.load_balancer_address("Gateway", gateway) == "20.1.2.3" and not waits.programmed(gateway)
    gateway["status"]["conditions"].append({"type": "Programmed", "status": "True"})
    assert waits.programmed(gateway)


def _pod(name: str, *, node: str | None = "c-worker", conditions=(), containers=()) -> dict:
    return {
        "metadata": {"name": name},
        "spec": {"nodeName": node} if node else {},
        "status": {"conditions": list(conditions), "containerStatuses": list(containers)},
    }


def test_a_host_port_held_by_another_pod_is_reported_with_the_scheduler_message():
    pending = _pod(
        "node-exporter-x7k2p",
        node=None,
        conditions=[
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 node(s) didn't have free ports for the requested pod ports.",
            }
        ],
    )
    problem = waits.pods_problem({"items": [pending]}, what="node_exporter (host port 19100)")
    assert problem == (
        "node_exporter (host port 19100) pod node-exporter-x7k2p cannot be scheduled: 0/3 nodes are available: "
        "3 node(s) didn't have free ports for the requested pod ports."
    )


def test_a_port_taken_by_a_process_on_the_node_is_reported_with_node_exporters_own_words():
    crashing = _pod(
        "node-exporter-9qz4d",
        conditions=[{"type": "Ready", "status": "False"}],
        containers=[
            {
                "name": "node-exporter",
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 20s restarting failed"}},
                "lastState": {
                    "terminated": {
                        "exitCode": 1,
                        "reason": "Error",
                        "message": 'time=2026-11-27T10:00:01Z level=ERROR source=tls_config.go:347 msg="listen tcp '
                        ':19100: bind: address already in use"\n',
                    }
                },
            }
        ],
    )
    problem = waits.pods_problem({"items": [crashing]}, what="node_exporter")
    assert problem is not None and problem.startswith("node_exporter pod node-exporter-9qz4d on node c-worker keeps")
    assert "address already in use" in problem
    starting = _pod("node-exporter-abcde", containers=[{"state": {"waiting": {"reason": "ContainerCreating"}}}])
    assert waits.pods_problem({"items": [starting]}, what="node_exporter") is None
