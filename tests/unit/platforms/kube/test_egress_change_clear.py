"""The egress-change role's clear-up on Kubernetes: the undo the driver noted before failing a gateway is run even when
the driver could not (it was killed), then the new pod and the policy are deleted and (after the last trial) the
gateway labels removed. kubectl cannot reach a cluster here: a stand-in records what it was asked."""

from __future__ import annotations

from cnibench.platforms.kube.scenarios._egress_change_run import clear, write_state

RECORDER = """#!/bin/sh
echo "$*" >> "$KUBECTL_LOG"
case "$*" in *delete*) echo "deleted: $*";; esac
"""


def test_clear_undoes_a_noted_failure_then_deletes_and_unlabels(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl").write_text(RECORDER)
    (bin_dir / "kubectl").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("KUBECTL_LOG", str(tmp_path / "kubectl.log"))
    state = tmp_path / "state" / "egress-change.json"
    undone = tmp_path / "undone"
    write_state(state, [["touch", str(undone)], ["kubectl", "uncordon", "w1"]])  # as the driver notes it
    config = {
        "kubectl": {"kubeconfig": "/k", "context": None, "namespace": "cnibench"},
        "state": str(state),
        "new_pod_manifest": "/r/41.yaml",
        "policy": "/r/42.yaml",
        "gateway_label": "cnibench.io/egress-gateway",
    }
    done = clear(config, ["w1", "w2"])
    assert undone.exists() and not state.exists()  # the noted undo ran (in reverse order), and is forgotten
    calls = (tmp_path / "kubectl.log").read_text().splitlines()
    assert calls == [
        "uncordon w1",
        "--kubeconfig /k --namespace cnibench delete --filename /r/41.yaml --ignore-not-found",
        "--kubeconfig /k --namespace cnibench delete --filename /r/42.yaml --ignore-not-found",
        "--kubeconfig /k label node w1 cnibench.io/egress-gateway-",
        "--kubeconfig /k label node w2 cnibench.io/egress-gateway-",
    ]
    assert done[0] == "undid the gateway's failure" and done[-1] == "node w2 unlabelled"
    assert clear(config) == [line for line in done if line.startswith("deleted")]  # again: nothing noted, no labels
