"""kubectl pointed at the run's cluster, and the placeholders filled at run time.

No cluster can run here: these documents are built in the tests, field for field as ``kubectl get -o json`` and
``docker network inspect`` print them (only the fields cnibench reads)."""

from __future__ import annotations

import pytest

from cnibench.errors import PlatformError
from cnibench.platforms.kube import kubectl


def test_placeholders_are_filled_and_a_missing_one_is_an_error():
    argv = ["k6", "run", "--env", "CNIBENCH_TARGET=http://@address@/echo", "load.js"]
    assert kubectl.substitute(argv, {"address": "172.18.255.254"})[3] == "CNIBENCH_TARGET=http://172.18.255.254/echo"
    with pytest.raises(PlatformError, match="no value for the placeholder"):
        kubectl.substitute(argv, {})


def test_kubectl_points_at_the_run_cluster():
    run_cluster = kubectl.Kubectl("/state/kubeconfig-cilium", "kind-c", "cnibench")
    assert run_cluster.argv("get", "pods") == [
        "kubectl", "--kubeconfig", "/state/kubeconfig-cilium", "--context", "kind-c", "--namespace", "cnibench",
        "get", "pods",
    ]  # fmt: skip
    assert kubectl.Kubectl(None, None, "x").argv("get", "nodes", namespaced=False) == ["kubectl", "get", "nodes"]
