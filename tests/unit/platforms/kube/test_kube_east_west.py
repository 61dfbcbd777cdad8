"""The east-west scenario on kind, an existing cluster and AKS, rendered offline: every manifest against the pinned
upstream schemas (../shared/tools/validate_manifests.py --strict), the pinning, the Service, the host network, and the
role's variables (the same result keys as on netns)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from kube_examples import step, write_example

from cnibench import commands
from cnibench.errors import SpecError
from cnibench.plan import make_plan
from cnibench.platforms import get_platform
from cnibench.platforms.netns.platform import NetnsPlatform
from cnibench.spec import parse_spec

ROOT = Path(__file__).resolve().parents[4]
VALIDATOR = ROOT.parent / "shared" / "tools" / "validate_manifests.py"
needs_shared = pytest.mark.skipif(not VALIDATOR.exists(), reason="../shared (pinned schemas and validator) not here")
FULL = {"protocols": ["tcp", "udp"], "streams": ["single", "multi"], "bitrate": "100M", "duration": 2, "omit": 1}
VARIANTS = {
    "kind": ("kind-antrea-vs-cilium.yaml", {}),
    "kubeconfig": ("kubeconfig.yaml", {}),
    "aks": ("aks.yaml", {}),
}


def _render(tmp_path: Path, example: str, **changes: Any) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    spec = write_example(tmp_path, example, scenarios={"east-west": FULL}, **changes)
    out = tmp_path / "out"
    assert commands.render(spec, out) == 0
    return out


def _pods(out: Path, cni: str) -> dict[str, dict[str, Any]]:
    path = out / "rendered" / cni / "manifests" / "50-east-west-pods.yaml"
    return {d["metadata"]["name"]: d for d in yaml.safe_load_all(path.read_text()) if d}


@needs_shared
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_rendered_manifest_of_the_full_matrix_passes_the_upstream_schemas(tmp_path, variant):
    example, changes = VARIANTS[variant]
    out = _render(tmp_path, example, **changes)
    manifests = sorted(out.glob("rendered/*/manifests/*.yaml"))
    assert any(m.name == "51-east-west-service.yaml" for m in manifests)
    result = subprocess.run([sys.executable, str(VALIDATOR), "--strict", "-v", *map(str, manifests)],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 failed" in result.stdout


def test_kind_pins_every_pod_to_its_node_by_name(tmp_path):
    out = _render(tmp_path, "kind-antrea-vs-cilium.yaml")
    pods = _pods(out, "antrea")
    node = {name: pod["spec"].get("nodeSelector", {}).get("kubernetes.io/hostname") for name, pod in pods.items()}
    worker, worker2 = "cnib0000-antrea-worker", "cnib0000-antrea-worker2"
    assert node == {
        "ew-server": worker, "ew-client-cross": worker2, "ew-client-same": worker,
        "ew-host-server": worker, "ew-host-client-cross": worker2, "ew-host-client-same": worker,
    }  # fmt: skip
    host = {name for name, pod in pods.items() if pod["spec"].get("hostNetwork")}
    assert host == {"ew-host-server", "ew-host-client-cross", "ew-host-client-same"}
    assert all(pods[name]["spec"]["dnsPolicy"] == "ClusterFirstWithHostNet" for name in host)
    (service,) = yaml.safe_load_all(
        (out / "rendered" / "antrea" / "manifests" / "51-east-west-service.yaml").read_text()
    )
    assert service["spec"]["type"] == "ClusterIP" and service["spec"]["selector"] == {
        "app.kubernetes.io/name": "ew-server"
    }
    assert {(p["protocol"], p["port"]) for p in service["spec"]["ports"]} == {("TCP", 5201), ("UDP", 5201)}


def test_an_existing_cluster_places_clients_relative_to_the_server_or_on_named_nodes(tmp_path):
    pods = _pods(_render(tmp_path / "a", "kubeconfig.yaml"), "cilium")
    same = pods["ew-client-same"]["spec"]["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    cross = pods["ew-client-cross"]["spec"]["affinity"]["podAntiAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]
    for terms in (same, cross):
        assert terms == [{"labelSelector": {"matchLabels": {"app.kubernetes.io/name": "ew-server"}},
                          "topologyKey": "kubernetes.io/hostname"}]  # fmt: skip
    named = {**FULL, "server_node": "node-a", "client_node": "node-b"}
    (tmp_path / "b").mkdir()
    spec = write_example(tmp_path / "b", "kubeconfig.yaml", scenarios={"east-west": named})
    assert commands.render(spec, tmp_path / "b" / "out") == 0
    pods = _pods(tmp_path / "b" / "out", "cilium")
    assert pods["ew-client-cross"]["spec"]["nodeSelector"] == {"kubernetes.io/hostname": "node-b"}
    assert pods["ew-host-server"]["spec"]["nodeSelector"] == {"kubernetes.io/hostname": "node-a"}


def test_the_role_gets_the_trials_and_the_same_result_keys_as_netns(tmp_path):
    out = _render(tmp_path, "kind-antrea-vs-cilium.yaml")
    antrea = json.loads((out / "vars.json").read_text())["cnibench_clusters"][0]
    ew = step(antrea, "east_west")
    assert ew["pods"][0] == "ew-server" and ew["service"] == "ew-server" and ew["target"] == "target"
    assert len(ew["trials"]) == 24
    by_name = {t["scenario"]: t for t in ew["trials"]}
    service = by_name["pod-to-service.cross-node.udp-multi"]
    assert service["via_service"] and ew["pods"][service["client_index"]] == "ew-client-cross"
    assert ew["pods"][service["server_index"]] == "ew-server"
    host = by_name["host-to-host.same-node.tcp-single"]
    assert (ew["pods"][host["client_index"]], ew["pods"][host["server_index"]]) == ("ew-host-client-same",
                                                                                     "ew-host-server")  # fmt: skip
    argv = service["runs"][0]["argv"]
    assert argv[:1] == ["kubectl"] and "exec" in argv and "ew-client-cross" in argv and "@target@" in argv
    assert antrea["info"]["pick_gateway_node"] is False  # no egress: no gateway label
    # the keys a sample's expectations have are the same on every platform (kube fills the addresses at run time)
    kube_spec = parse_spec(yaml.safe_load((tmp_path / "spec.yaml").read_text()))
    kube_reps = (
        get_platform("kind").compile(make_plan(kube_spec), run_dir=tmp_path / "k", prefix="cnib0000").repetitions
    )
    netns_data = {"name": "ew", "cnis": ["hostgw"], "scenarios": {"east-west": FULL}}
    netns_reps = NetnsPlatform().compile(make_plan(parse_spec(netns_data)), run_dir=tmp_path / "n",
                                         prefix="cnib0000").repetitions  # fmt: skip
    assert {r.scenario for r in kube_reps} == {r.scenario for r in netns_reps}
    assert {(type(r.expect), frozenset(r.expect.model_fields_set)) for r in kube_reps} == {
        (type(r.expect), frozenset(r.expect.model_fields_set)) for r in netns_reps
    }


def test_a_cluster_ip_is_refused_on_kubernetes(tmp_path):
    spec = write_example(tmp_path, "kind-antrea-vs-cilium.yaml", scenarios={"east-west": {"cluster_ip": "10.96.0.9"}})
    with pytest.raises(SpecError, match=r"scenarios\.east-west\.cluster_ip.*only on netns"):
        parse_spec(yaml.safe_load(spec.read_text()))


def test_an_existing_clusters_teardown_names_egress_leftovers_only_with_egress(tmp_path):
    ew = write_example(tmp_path, "kubeconfig.yaml", scenarios={"east-west": FULL})
    steps = get_platform("kubeconfig").compile(make_plan(parse_spec(yaml.safe_load(ew.read_text()))),
                                                 run_dir=tmp_path / "a", prefix="cnib0000").steps  # fmt: skip
    teardown = [s for s in steps if "] delete namespace" in s]
    assert teardown and "gateway label" not in teardown[0] and "iperf3 server" not in teardown[0]
    egress = write_example(tmp_path, "kubeconfig.yaml")
    steps = get_platform("kubeconfig").compile(make_plan(parse_spec(yaml.safe_load(egress.read_text()))),
                                                 run_dir=tmp_path / "b", prefix="cnib0000").steps  # fmt: skip
    assert any("remove the gateway label, stop the iperf3 server" in s for s in steps)


@needs_shared
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_crr_renders_a_whoami_beside_each_iperf3_server_and_the_service_port(tmp_path, variant):
    example, changes = VARIANTS[variant]
    crr = {"workloads": ["stream", "crr"], "protocols": ["tcp"], "duration": 2, "omit": 1}
    spec = write_example(tmp_path, example, scenarios={"east-west": crr}, **changes)
    out = tmp_path / "out"
    assert commands.render(spec, out) == 0
    cni = next(p.name for p in (out / "rendered").iterdir())
    pods = _pods(out, cni)
    for server in ("ew-server", "ew-host-server"):
        (sidecar,) = [c for c in pods[server]["spec"]["containers"] if c["name"] == "crr"]
        assert sidecar["image"].startswith("traefik/whoami:") and sidecar["args"] == ["--port", "8080"]
    service = yaml.safe_load((out / "rendered" / cni / "manifests" / "51-east-west-service.yaml").read_text())
    assert {"name": "crr", "port": 8080, "targetPort": 8080, "protocol": "TCP"} in service["spec"]["ports"]
    manifests = sorted(out.glob("rendered/*/manifests/*.yaml"))
    result = subprocess.run([sys.executable, str(VALIDATOR), "--strict", "-q", *map(str, manifests)],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


#: An image the user built from cnibench's Dockerfile and pushed (kubeconfig and AKS need one).
PUSHED = "registry.example/cnibench-sockperf@sha256:" + "0123456789abcdef" * 4
RR = {"workloads": ["stream", "rr"], "protocols": ["tcp", "udp"], "bitrate": "100M", "duration": 2, "omit": 1}
RR_VARIANTS = {
    "kind": ("kind-antrea-vs-cilium.yaml", {}),
    "kubeconfig": ("kubeconfig.yaml", {"kubernetes__sockperf_image": PUSHED}),
    "aks": ("aks.yaml", {"kubernetes__sockperf_image": PUSHED}),
}


@needs_shared
@pytest.mark.parametrize("variant", list(RR_VARIANTS))
def test_rr_renders_sockperf_servers_and_clients_beside_iperf3_and_the_manifests_pass_the_schemas(tmp_path, variant):
    from cnibench.platforms.kube.tool_images import local_image
    from cnibench.tools import sockperf

    example, changes = RR_VARIANTS[variant]
    spec = write_example(tmp_path, example, scenarios={"east-west": RR}, **changes)
    out = tmp_path / "out"
    assert commands.render(spec, out) == 0
    cni = next(p.name for p in sorted((out / "rendered").iterdir()))
    pods = _pods(out, cni)
    image = local_image("sockperf") if variant == "kind" else PUSHED
    for server in ("ew-server", "ew-host-server"):
        by_name = {c["name"]: c for c in pods[server]["spec"]["containers"]}
        for proto, port in (("tcp", 11111), ("udp", 11112)):
            c = by_name[f"sockperf-{proto}"]
            assert c["image"] == image and c["command"] == sockperf.server_argv("$(POD_IP)", protocol=proto, port=port)
            assert c["env"] == [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]
            assert c["ports"] == [{"name": f"sockperf-{proto}", "containerPort": port, "protocol": proto.upper()}]
            # kind's local build is in no registry: never pulled; a pushed image: Kubernetes' default (digest)
            assert c.get("imagePullPolicy") == ("Never" if variant == "kind" else None)
    for client in ("ew-client-same", "ew-client-cross", "ew-host-client-same", "ew-host-client-cross"):
        names = [c["name"] for c in pods[client]["spec"]["containers"]]
        assert names == ["iperf3", "sockperf"]
    service = yaml.safe_load((out / "rendered" / cni / "manifests" / "51-east-west-service.yaml").read_text())
    ports = {(p["name"], p["port"], p["protocol"]) for p in service["spec"]["ports"]}
    assert {("sockperf-tcp", 11111, "TCP"), ("sockperf-udp", 11112, "UDP")} <= ports
    # the client: the same sockperf argv as netns, exec'd in the sockperf container
    ew = step(json.loads((out / "vars.json").read_text())["cnibench_clusters"][0], "east_west")
    by_trial = {t["scenario"]: t for t in ew["trials"]}
    argv = by_trial["pod-to-service.cross-node.udp-rr"]["runs"][0]["argv"]
    at = argv.index("--", argv.index("exec"))  # after the idle window's own argv (the CPU cost's baseline)
    assert argv[at - 2 : at] == ["--container", "sockperf"] and "ew-client-cross" in argv
    assert argv[at + 1 :] == sockperf.client_argv("@target@", protocol="udp", duration=2, message_size=64,
                                                  port=11112, full_log=None)  # fmt: skip
    stream = by_trial["pod-to-pod.same-node.tcp-single"]["runs"][0]["argv"]
    at = stream.index("--", stream.index("exec"))
    assert stream[at - 2 : at] == ["--container", "iperf3"]
    manifests = sorted(out.glob("rendered/*/manifests/*.yaml"))
    result = subprocess.run([sys.executable, str(VALIDATOR), "--strict", "-q", *map(str, manifests)],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_kind_builds_the_rr_image_and_records_how_an_existing_cluster_records_the_spec_s(tmp_path):
    from cnibench.platforms.kube.tool_images import local_image

    spec = parse_spec(yaml.safe_load(write_example(tmp_path, "kind-antrea-vs-cilium.yaml",
                                                   scenarios={"east-west": RR}).read_text()))  # fmt: skip
    compiled = get_platform("kind").compile(make_plan(spec), run_dir=tmp_path / "k", prefix="cnib0000")
    image = local_image("sockperf")
    facts = compiled.facts["antrea"]["sockperf_image"]
    assert facts["image"] == image and facts["base"].startswith("debian:bookworm-") and "@sha256:" in facts["base"]
    assert facts["package"] == "sockperf=3.7-1" and len(facts["dockerfile_sha256"]) == 64
    kind = compiled.extravars["cnibench_clusters"][0]["create"]
    assert image in kind["preload"]["images"]
    assert any(f"build {image} once on this machine" in s for s in compiled.steps)
    (tmp_path / "b").mkdir()
    data = yaml.safe_load(write_example(tmp_path / "b", "kubeconfig.yaml", scenarios={"east-west": RR},
                                        kubernetes__sockperf_image=PUSHED).read_text())  # fmt: skip
    compiled = get_platform("kubeconfig").compile(make_plan(parse_spec(data)), run_dir=tmp_path / "c",
                                                  prefix="cnib0000")  # fmt: skip
    assert compiled.facts["cilium"]["sockperf_image"] == {"image": PUSHED, "source": "kubernetes.sockperf_image"}


@pytest.mark.parametrize("example", ["kubeconfig.yaml", "aks.yaml"])
def test_rr_without_a_pushed_image_is_refused_on_kubeconfig_and_aks_naming_the_field(tmp_path, example):
    spec = write_example(tmp_path, example, scenarios={"east-west": {**RR, "workloads": ["rr"]}})
    with pytest.raises(SpecError) as info:
        parse_spec(yaml.safe_load(spec.read_text()))
    assert "kubernetes.sockperf_image" in str(info.value) and "dockerfiles/sockperf/Dockerfile" in str(info.value)


@pytest.mark.parametrize("image", ["registry.example/cnibench-sockperf:3.7-1", "sockperf@sha256:abc"])
def test_a_sockperf_image_not_pinned_by_digest_is_refused(tmp_path, image):
    spec = write_example(tmp_path, "kubeconfig.yaml", scenarios={"east-west": RR}, kubernetes__sockperf_image=image)
    with pytest.raises(SpecError, match=r"kubernetes\.sockperf_image.*pinned by digest"):
        parse_spec(yaml.safe_load(spec.read_text()))


@pytest.mark.parametrize("command", ["plan", "render", "run"])
def test_the_cli_refuses_rr_on_aks_without_an_image_in_one_line_exit_2_nothing_created(
    tmp_path, capsys, monkeypatch, command
):
    from cnibench import cli

    monkeypatch.chdir(tmp_path)
    spec = write_example(tmp_path, "aks.yaml", scenarios={"east-west": {**RR, "workloads": ["rr"]}})
    before = sorted(tmp_path.rglob("*"))
    argv = [command, str(spec), *(["-o", str(tmp_path / "out")] if command == "render" else [])]
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1, captured.err
    line = captured.err.strip()
    assert "kubernetes.sockperf_image" in line and "rr on aks needs a pod image with sockperf" in line
    assert "dockerfiles/sockperf/Dockerfile" in line and "name@sha256:<64 hex>" in line
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.parametrize(("golden", "status"), [("tcp-pingpong-m64-t5.out", "ok"), ("tcp-refused.out", "failed")])
def test_a_kube_rr_artifact_is_sockperfs_stdout_read_by_the_netns_parser(tmp_path, data_dir, golden, status):
    """kubectl exec writes sockperf's stdout as the repetition's artifact (no netns launcher around it): the sample
    has the same figures sockperf.parse reads from it, or fails with sockperf's own complaint."""
    from cnibench.scenarios.east_west import EAST_WEST
    from cnibench.tools import sockperf

    spec = parse_spec(yaml.safe_load(write_example(tmp_path, "kind-antrea-vs-cilium.yaml",
                                                   scenarios={"east-west": RR}).read_text()))  # fmt: skip
    run_dir = tmp_path / "run"
    reps = get_platform("kind").compile(make_plan(spec), run_dir=run_dir, prefix="cnib0000").repetitions
    rep = next(r for r in reps if r.scenario == "pod-to-pod.cross-node.tcp-rr")
    assert rep.artifact.name.endswith(".sockperf.out")
    artifact = rep.artifact if rep.artifact.is_absolute() else run_dir / rep.artifact
    artifact.parent.mkdir(parents=True, exist_ok=True)
    text = (data_dir / "sockperf" / golden).read_text()
    artifact.write_text(text)
    sample = EAST_WEST.make_sample(rep, run_dir=run_dir, started_at=None, ended_at=None)
    assert sample.status == status and sample.code == "DT-RR"
    if status == "ok":
        parsed = sockperf.parse(text)
        assert sample.transactions_per_s == parsed.transactions_per_s and sample.latency_p99_us == parsed.latency_p99_us
        assert sample.little_ok
    else:
        assert "sockperf measured nothing: ERROR: Can" in (sample.error or "")


@pytest.mark.parametrize("variant", list(RR_VARIANTS))
def test_node_exporters_conntrack_collector_is_on_exactly_in_runs_with_rr_or_crr(tmp_path, variant):
    """The Kubernetes conntrack figures' source: node_exporter on the host network and host PID with the host's /proc
    (run as rendered in tests/integration/test_kube_conntrack_exporter.py)."""
    example, changes = RR_VARIANTS[variant]
    collectors = {}
    for workloads in (["stream"], ["rr"], ["crr"]):
        where = tmp_path / "-".join(workloads)
        where.mkdir()
        settings = {"workloads": workloads, "protocols": ["tcp"], "duration": 2, "omit": 1}
        spec = write_example(where, example, scenarios={"east-west": settings}, **changes)
        assert commands.render(spec, where / "out") == 0
        for path in sorted((where / "out" / "rendered").glob("*/manifests/20-monitoring.yaml")):
            ds = next(d for d in yaml.safe_load_all(path.read_text()) if d and d["kind"] == "DaemonSet")
            pod = ds["spec"]["template"]["spec"]
            assert pod["hostNetwork"] and pod["hostPID"] and "--path.procfs=/host/proc" in pod["containers"][0]["args"]
            collectors[(workloads[0], path.parts[-3])] = "--collector.conntrack" in pod["containers"][0]["args"]
    assert collectors and all(on == (workload != "stream") for (workload, _), on in collectors.items())
