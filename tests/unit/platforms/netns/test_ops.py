"""Applying a bundle's steps side by side where their namespaces differ, in order where they share one (the system
part is the integration tests'; here the order and the failures, with the steps' work replaced)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from cnibench.errors import PlatformError
from cnibench.platforms.netns import ops
from cnibench.platforms.netns.render import Step, render_cluster
from cnibench.platforms.netns.topology import build_topology


def _step(netns: str | None, name: str, content: str = "link set lo up\n", kind: str = "ip") -> Step:
    return Step(kind, netns, name, content)  # type: ignore[arg-type]


def test_steps_wait_for_the_earlier_steps_of_their_namespaces_and_for_those_that_run_alone():
    steps = [
        _step(None, "00-namespaces", "netns add a\nnetns add b\n"),
        _step("a", "01-a", "link add name eth type veth peer name p netns net\n"),
        _step("b", "02-b"),
        _step("net", "03-ports"),
        _step("b", "04-b-nft", kind="nft"),
        _step(None, "90-destroy", "a\nb\n", kind="destroy"),
    ]
    assert ops.touched(steps[1]) == {"a", "net"}  # a peer created in another namespace touches it too
    assert ops.touched(steps[0]) is None and ops.touched(steps[5]) is None
    assert ops.step_dependencies(steps) == [set(), {0}, {0}, {0, 1}, {0, 2}, {0, 1, 2, 3, 4}]


def test_a_clusters_nodes_and_pods_are_configured_side_by_side_after_their_links():
    topo = build_topology(
        prefix="cnib0a1b", datapath="vxlan", workers=2, node_cidr="172.18.0.0/24", pod_cidr="10.244.0.0/16",
        external_cidr="203.0.113.0/24", pods=[("iperf3-client", "worker2")],
    )  # fmt: skip
    steps = list(render_cluster(topo, with_network=False).apply)
    deps = ops.step_dependencies(steps)
    index = {s.file.split("-", 1)[1].rsplit(".", 1)[0]: i for i, s in enumerate(steps)}
    # every node's sysctls only after the namespaces exist, not after each other
    assert deps[index["worker-sysctl"]] == {index["namespaces"]}
    # the pod's address after its node created its veth into it, not after the other nodes' addresses
    pod = deps[index["pod-iperf3-client"]]
    assert index["worker2-links"] in pod and index["worker-addresses"] not in pod
    # links into the node network one after the other; a node's addresses after its links
    assert index["worker-links"] in deps[index["worker2-links"]]
    assert index["worker2-links"] in deps[index["worker2-addresses"]]


def test_results_come_in_the_bundles_order_and_independent_steps_overlap(monkeypatch, tmp_path):
    running, most = [0], [0]
    lock = threading.Lock()

    def apply(step: Step, directory: Path) -> list[str]:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05 if step.netns == "a" else 0.01)
        with lock:
            running[0] -= 1
        return [step.file]

    monkeypatch.setattr(ops, "_apply_step", apply)
    steps = [_step("a", "01-a"), _step("b", "02-b"), _step("c", "03-c"), _step("a", "04-a")]
    assert ops.apply_steps(steps, tmp_path) == [["01-a"], ["02-b"], ["03-c"], ["04-a"]]
    assert most[0] == 3
    assert ops.apply_steps(steps, tmp_path, workers=1) == [["01-a"], ["02-b"], ["03-c"], ["04-a"]]


def test_the_first_failing_step_in_the_bundles_order_is_raised_and_nothing_starts_after_a_failure(
    monkeypatch, tmp_path
):
    started: list[str] = []
    failing = {"01-a", "02-b"}

    def apply(step: Step, directory: Path) -> list[str]:
        started.append(step.file)
        time.sleep(0.05 if step.file == "01-a" else 0.0)
        if step.file in failing:
            raise PlatformError(f"{step.file} failed")
        return [step.file]

    monkeypatch.setattr(ops, "_apply_step", apply)
    steps = [_step("a", "01-a"), _step("b", "02-b"), _step("a", "03-a")]
    with pytest.raises(PlatformError, match=r"^01-a failed$"):  # 02-b failed first, but 01-a comes first
        ops.apply_steps(steps, tmp_path)
    assert sorted(started) == ["01-a", "02-b"]
    # 03-a could start once 01-a succeeded; 02-b had failed by then
    started.clear()
    failing = {"02-b"}
    with pytest.raises(PlatformError, match=r"^02-b failed$"):
        ops.apply_steps(steps, tmp_path)
    assert sorted(started) == ["01-a", "02-b"]
