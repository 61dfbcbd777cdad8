"""The network-policy scenario on kind, an existing cluster and AKS, rendered offline (examples/kind-network-policy.yaml
and the other platforms' examples with its section): every manifest against the pinned upstream schemas
(../shared/tools/validate_manifests.py --strict), the pods' labels, a NetworkPolicy file per size, the role's
variables (each trial's policy, the probes), every repetition under a policy behind the denied probe; rr from the
sockperf image (kind's build, or the pushed one kubeconfig and AKS need); Flannel, and rr without an image, refused in
one line, nothing created."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from kube_examples import step, write_example

from cnibench import cli, commands
from cnibench.errors import SpecError
from cnibench.platforms.kube.network_policy import ALLOW_NAME, DENY_NAME

ROOT = Path(__file__).resolve().parents[4]
VALIDATOR = ROOT.parent / "shared" / "tools" / "validate_manifests.py"
needs_shared = pytest.mark.skipif(not VALIDATOR.exists(), reason="../shared (pinned schemas and validator) not here")
EXAMPLE = "kind-network-policy.yaml"
SECTION = yaml.safe_load((ROOT / "examples" / EXAMPLE).read_text())["scenarios"]
SMALL = {"sizes": [3, 10], "workloads": ["stream", "crr"], "paths": ["pod-to-pod", "pod-to-service"],
         "placements": ["same-node", "cross-node"], "duration": 2, "omit": 1, "repetitions": 1}  # fmt: skip
PLATFORMS = {"kind": EXAMPLE, "kubeconfig": "kubeconfig.yaml", "aks": "aks.yaml"}
#: kubeconfig and AKS pull the rr image the user pushed (kind builds its own): a well-formed pinned reference.
PUSHED = "registry.example/cnibench-sockperf@sha256:" + "0123456789abcdef" * 4
PULLED = {"kubernetes__sockperf_image": PUSHED}
IMAGE: dict[str, dict[str, str]] = {"kind": {}, "kubeconfig": PULLED, "aks": PULLED}


def _render(tmp_path: Path, platform: str, section: dict[str, Any] | None = None, **changes: Any) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    scenarios = {"network-policy": section} if section is not None else SECTION
    spec = write_example(tmp_path, PLATFORMS[platform], scenarios=scenarios, **changes)
    out = tmp_path / "out"
    assert commands.render(spec, out) == 0
    return out


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _role(out: Path, cni: str) -> dict[str, Any]:
    clusters = json.loads((out / "vars.json").read_text())["cnibench_clusters"]
    (cluster,) = [c for c in clusters if c["cni"] == cni]
    return step(cluster, "network_policy")


@needs_shared
@pytest.mark.parametrize("platform", list(PLATFORMS))
def test_every_rendered_manifest_passes_the_upstream_schemas(tmp_path, platform):
    out = _render(tmp_path, platform, **IMAGE[platform])
    manifests = sorted(out.glob("rendered/*/manifests/*.yaml"))
    names = {m.name for m in manifests}
    assert {"55-network-policy-pods.yaml", "56-network-policy-service.yaml", "57-network-policy-0rules.yaml",
            "57-network-policy-1000rules.yaml"} <= names  # fmt: skip
    result = subprocess.run([sys.executable, str(VALIDATOR), "--strict", "-v", *map(str, manifests)],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 failed" in result.stdout
    policies = re.findall(r"^OK .* NetworkPolicy/(\S+)$", result.stdout, re.MULTILINE)
    cnis = len({m.parent.parent.name for m in manifests})
    assert sorted(policies) == sorted([ALLOW_NAME, DENY_NAME] * 4 * cnis)  # sizes 0, 10, 100, 1000 per CNI


def test_the_pods_carry_the_labels_the_policy_selects_and_the_intruders_do_not(tmp_path):
    out = _render(tmp_path, "kind", SMALL)
    pods = {p["metadata"]["name"]: p for p in _docs(out / "rendered/antrea/manifests/55-network-policy-pods.yaml")}
    role = {name: pod["metadata"]["labels"].get("cnibench.io/role") for name, pod in pods.items()}
    assert role == {"np-server": "server", "np-client-same": "client", "np-client-cross": "client",
                    "np-intruder-same": None, "np-intruder-cross": None}  # fmt: skip
    node = {name: pod["spec"]["nodeSelector"]["kubernetes.io/hostname"] for name, pod in pods.items()}
    worker, worker2 = "cnib0000-antrea-worker", "cnib0000-antrea-worker2"
    assert node == {"np-server": worker, "np-client-same": worker, "np-intruder-same": worker,
                    "np-client-cross": worker2, "np-intruder-cross": worker2}  # fmt: skip
    (service,) = _docs(out / "rendered/antrea/manifests/56-network-policy-service.yaml")
    assert service["metadata"]["name"] == "np-server"
    assert service["spec"]["selector"] == {"app.kubernetes.io/name": "np-server"}


def test_a_file_per_size_with_the_decoys_in_front_of_the_clients_ports(tmp_path):
    out = _render(tmp_path, "kind", SMALL)
    manifests = out / "rendered/cilium/manifests"
    assert sorted(p.name for p in manifests.glob("57-*")) == [
        "57-network-policy-0rules.yaml", "57-network-policy-10rules.yaml", "57-network-policy-3rules.yaml"
    ]  # fmt: skip
    deny, allow = _docs(manifests / "57-network-policy-10rules.yaml")
    assert deny["metadata"]["name"] == DENY_NAME and allow["metadata"]["name"] == ALLOW_NAME
    assert deny["spec"]["podSelector"] == allow["spec"]["podSelector"] == {"matchLabels": {"cnibench.io/role":
                                                                                            "server"}}  # fmt: skip
    items = allow["spec"]["ingress"]
    assert len(items) == 10 + 2  # the decoys, then the clients on iperf3's and the crr responder's ports
    assert [i["ports"][0]["port"] for i in items[-2:]] == [5201, 8080]
    assert all(i["from"] == [{"podSelector": {"matchLabels": {"cnibench.io/role": "client"}}}] for i in items[-2:])


def test_each_trial_runs_under_its_policy_and_each_repetition_behind_the_denied_probe(tmp_path):
    out = _render(tmp_path, "kind", SMALL)
    role = _role(out, "calico")
    assert role["pods"] == ["np-server", "np-client-cross", "np-client-same", "np-intruder-cross", "np-intruder-same"]
    assert role["server"] == "np-server" and role["service"] == "np-server" and role["timeout"] == 600
    assert {(p["pod"], p["port"], p["allowed"]) for p in role["probes"]} == {
        ("np-client-cross", 5201, True), ("np-client-cross", 8080, True), ("np-client-same", 5201, True),
        ("np-client-same", 8080, True), ("np-intruder-cross", 5201, False), ("np-intruder-same", 5201, False),
    }  # fmt: skip
    trials = {t["scenario"]: t for t in role["trials"]}
    assert len(trials) == 8 * 4  # 2 paths x 2 placements x (stream, crr), each at no policy, 0, 3 and 10
    first = [t["scenario"] for t in role["trials"]][:4]
    assert first == [f"pod-to-pod.same-node.tcp-single@{s}" for s in ("no-policy", "0rules", "3rules", "10rules")]
    for name, trial in trials.items():
        size = name.partition("@")[2]
        argv = trial["runs"][0]["argv"]
        client = role["pods"][trial["client_index"]]
        assert argv[argv.index("exec") + 1] == client
        if size == "no-policy":
            assert trial["policy"] is None and trial["rules"] == "no policy"
            assert "cnibench.platforms.kube.policy_launch" not in argv
            continue
        assert trial["policy"].endswith(f"/calico/manifests/57-network-policy-{size}.yaml")
        probe = json.loads(argv[argv.index("--probe") + 1])
        intruder = client.replace("client", "intruder")
        assert probe[probe.index("exec") + 1 :] == [
            intruder,
            "--container",
            "iperf3",
            "--",
            "iperf3",
            "--client",
            "@target@",
            "--port",
            "5201",
            "--time",
            "1",
            "--connect-timeout",
            "500",
            "--json",
        ]
        assert trial["via_service"] is name.startswith("pod-to-service")  # @target@: the ClusterIP, else the pod


def test_flannel_is_refused_in_one_line_naming_the_field_and_nothing_is_created(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = write_example(tmp_path, EXAMPLE, cnis=["cilium", "flannel"])
    for command in (["plan", str(spec)], ["render", str(spec), "-o", str(tmp_path / "out")], ["run", str(spec)]):
        assert cli.main(command) == 2
        err = capsys.readouterr().err
        assert re.fullmatch(
            rf"cnibench: error: {re.escape(str(spec))}: cnis\[1\] \(line \d+\): flannel has no NetworkPolicy "
            r"enforcement \(capability network_policy: Flannel does not implement NetworkPolicy; its README: \"For "
            r"network policy, other projects such as Calico can be used\"\), which the network-policy scenario "
            r"needs: leave flannel out, or run only the other scenarios\n",
            err,
        ), err
    assert [p.name for p in tmp_path.iterdir()] == ["spec.yaml"]


def test_rr_without_an_image_is_refused_on_kubeconfig_naming_the_field(tmp_path):
    spec = write_example(tmp_path, "kubeconfig.yaml", scenarios={"network-policy": {**SMALL, "workloads": ["rr"]}})
    refused = r"kubernetes\.sockperf_image.*rr on kubeconfig needs a pod image with sockperf"
    with pytest.raises(SpecError, match=refused):
        commands.render(spec, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_rr_runs_sockperf_in_the_client_and_the_policy_admits_its_port(tmp_path):
    out = _render(tmp_path, "kind", {**SMALL, "workloads": ["rr"], "paths": ["pod-to-pod"]})
    pods = _docs(next(out.glob("rendered/antrea/manifests/55-network-policy-pods.yaml")))
    server = next(p for p in pods if p["metadata"]["name"] == "np-server")
    assert {c["name"] for c in server["spec"]["containers"]} >= {"sockperf-tcp", "sockperf-udp"}
    allow = [d for d in _docs(next(out.glob("rendered/antrea/manifests/57-network-policy-3rules.yaml")))
             if d["metadata"]["name"] == ALLOW_NAME]  # fmt: skip
    ports = {(p["protocol"], p["port"]) for rule in allow[0]["spec"]["ingress"][-2:] for p in rule["ports"]}
    assert ("TCP", 11111) in ports
    for trial in _role(out, "antrea")["trials"]:
        tool = trial["runs"][0]["argv"]
        if trial["policy"] is not None:  # behind the denied probe: the tool after the launcher's "--"
            tool = tool[tool.index("--", tool.index("--probe")) + 1 :]
        assert tool[tool.index("--container") + 1] == "sockperf" and "ping-pong" in tool, tool


def test_events_are_left_out_by_default_and_refused_when_asked_for(tmp_path):
    out = _render(tmp_path / "default", "kind", SMALL)
    names = {t["scenario"] for t in _role(out, "antrea")["trials"]}
    assert names and not any(n.startswith("policy-") for n in names)  # no policy-allow, -deny, -new-pod
    spec = write_example(tmp_path, EXAMPLE, scenarios={"network-policy": {**SMALL, "events": ["policy-allow"]}})
    with pytest.raises(SpecError, match=r"scenarios\.network-policy\.events.*run on netns only: on kind"):
        commands.render(spec, tmp_path / "out")
    assert not (tmp_path / "out").exists()
