"""Everything a kind or kubeconfig run applies, rendered from the example specs and checked offline: every manifest
against the pinned upstream schemas (../shared/tools/validate_manifests.py, strict), the Helm values against their
charts' schemas, the kind config against kind's v1alpha4 fields."""

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
from cnibench.spec import load_spec_data

ROOT = Path(__file__).resolve().parents[4]
SHARED = ROOT.parent / "shared"
VALIDATOR = SHARED / "tools" / "validate_manifests.py"
needs_shared = pytest.mark.skipif(not VALIDATOR.exists(), reason="../shared (pinned schemas and validator) not here")


def _spec(tmp_path: Path, example: str, **changes: Any) -> Path:
    return write_example(tmp_path, example, **changes)


def _render(tmp_path: Path, example: str, **changes: Any) -> Path:
    out = tmp_path / "out"
    assert commands.render(_spec(tmp_path, example, **changes), out) == 0
    return out


def _validate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(VALIDATOR), "--strict", *args], capture_output=True, text=True, check=False
    )


def _documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


# every combination a user can ask for: both CNIs, both scenarios, both gateway kinds and implementations
VARIANTS = {
    "kind-envoy-l7": ("kind-antrea-vs-cilium.yaml", {}),
    "kind-l4": ("kind-antrea-vs-cilium.yaml", {"scenarios__ingress__gateway": "l4"}),
    "kind-cilium-gateway": (
        "kind-antrea-vs-cilium.yaml",
        {"cnis": ["cilium"], "kubernetes__gateway_implementation": "cilium"},
    ),
    "kind-no-metrics": ("kind-antrea-vs-cilium.yaml", {"metrics__enabled": False}),
    "kubeconfig-cilium": ("kubeconfig.yaml", {}),
    "aks": ("aks.yaml", {}),
    "aks-l4": ("aks.yaml", {"scenarios__ingress__gateway": "l4"}),
    "kubeconfig-antrea": ("kubeconfig.yaml", {"cnis": ["antrea"], "scenarios__egress__egress_ip": "192.168.10.250"}),
    "kubeconfig-cilium-egress-ip": ("kubeconfig.yaml", {"scenarios__egress__egress_ip": "192.168.10.250"}),
    # Calico and Flannel have no egress gateway: ingress through Envoy Gateway and MetalLB
    "kind-calico-flannel": ("kind-antrea-vs-cilium.yaml", {"cnis": ["calico", "flannel"], "scenarios__egress": None}),
    "kind-calico-flannel-l4": (
        "kind-antrea-vs-cilium.yaml",
        {"cnis": ["calico", "flannel"], "scenarios__egress": None, "scenarios__ingress__gateway": "l4"},
    ),
    "kubeconfig-calico": ("kubeconfig.yaml", {"cnis": ["calico"], "scenarios__egress": None}),
    "aks-calico": ("aks.yaml", {"cnis": ["calico"]}),
}


@needs_shared
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_rendered_manifest_passes_the_upstream_schemas(tmp_path, variant):
    example, changes = VARIANTS[variant]
    out = _render(tmp_path, example, **changes)
    manifests = sorted(out.glob("rendered/*/manifests/*.yaml"))
    assert manifests
    result = _validate("-v", *map(str, manifests))
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 failed" in result.stdout and "skipped" in result.stdout


@needs_shared
def test_the_validator_catches_a_broken_manifest(tmp_path):
    """The check above can fail: a field Kubernetes does not know, in a rendered manifest, is refused."""
    out = _render(tmp_path, "kind-antrea-vs-cilium.yaml")
    policy = out / "rendered" / "cilium" / "manifests" / "31-egress-policy-cilium.yaml"
    docs = _documents(policy)
    docs[0]["spec"]["egressGateway"]["egressIPs"] = ["172.18.255.253"]
    policy.write_text(yaml.safe_dump_all(docs))
    result = _validate(str(policy))
    assert result.returncode == 1 and "egressIPs" in result.stdout


@needs_shared
def test_cilium_values_for_aks_pass_the_chart_schema(tmp_path):
    out = _render(tmp_path, "aks.yaml")
    result = _validate("--values", f"cilium-1.19.4={out / 'rendered' / 'cilium' / 'helm' / 'cilium.values.yaml'}")
    assert result.returncode == 0, result.stdout + result.stderr


@needs_shared
@pytest.mark.parametrize("variant", ["kind-envoy-l7", "kind-cilium-gateway"])
def test_cilium_and_metallb_values_pass_their_chart_schemas(tmp_path, variant):
    example, changes = VARIANTS[variant]
    out = _render(tmp_path, example, **changes)
    helm = out / "rendered" / "cilium" / "helm"
    result = _validate(
        "--values",
        f"cilium-1.19.4={helm / 'cilium.values.yaml'}",
        "--values",
        f"metallb={helm / 'metallb.values.yaml'}",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    values = yaml.safe_load((helm / "cilium.values.yaml").read_text())
    assert values["kubeProxyReplacement"] is True and values["egressGateway"]["enabled"] is True
    assert values["bpf"]["masquerade"] is True
    assert values["k8sServiceHost"] == "cnib0000-cilium-control-plane" and values["k8sServicePort"] == 6443
    assert values["gatewayAPI"]["enabled"] is (variant == "kind-cilium-gateway")


def test_kind_config_is_the_thesis_listing_with_what_each_cni_needs(tmp_path):
    out = _render(tmp_path, "kind-antrea-vs-cilium.yaml")
    antrea = yaml.safe_load((out / "rendered" / "antrea" / "kind" / "config.yaml").read_text())
    cilium = yaml.safe_load((out / "rendered" / "cilium" / "kind" / "config.yaml").read_text())
    for config in (antrea, cilium):
        assert config["kind"] == "Cluster" and config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
        assert config["networking"]["disableDefaultCNI"] is True
        assert [n["role"] for n in config["nodes"]] == ["control-plane", "worker", "worker"]
        assert all("@sha256:" in n["image"] for n in config["nodes"])
    assert "kubeProxyMode" not in antrea["networking"]
    assert cilium["networking"]["kubeProxyMode"] == "none"  # Cilium's kube-proxy replacement
    ports = [
        [(m["hostPort"], m["listenAddress"]) for m in c["nodes"][0]["extraPortMappings"]] for c in (antrea, cilium)
    ]
    assert ports == [[(80, "127.0.0.1"), (443, "127.0.0.1")]] * 2  # the thesis's mappings, on the loopback only
    (tmp_path / "off").mkdir()
    out = _render(tmp_path / "off", "kind-antrea-vs-cilium.yaml", kubernetes__kind_port_mappings=False)
    config = yaml.safe_load((out / "rendered" / "antrea" / "kind" / "config.yaml").read_text())
    assert "extraPortMappings" not in config["nodes"][0]


def test_backends_spread_over_the_workers_only(tmp_path):
    """kind keeps the control plane tainted: counted as an empty domain, it would leave a third backend Pending."""
    out = _render(tmp_path, "kind-antrea-vs-cilium.yaml")
    docs = {d["kind"]: d for d in _documents(out / "rendered" / "antrea" / "manifests" / "40-echo.yaml")}
    (spread,) = docs["StatefulSet"]["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert spread["nodeTaintsPolicy"] == "Honor" and spread["maxSkew"] == 1
    assert docs["StatefulSet"]["spec"]["replicas"] == 3


def test_keep_keeps_only_the_last_cluster(tmp_path):
    """Every cluster of a run takes the same addresses on kind's network: two kept clusters would answer for them."""
    from cnibench.plan import make_plan
    from cnibench.platforms import get_platform
    from cnibench.spec import parse_spec

    spec = parse_spec(load_spec_data(ROOT / "examples" / "kind-antrea-vs-cilium.yaml"))
    platform = get_platform("kind", keep=True)
    compiled = platform.compile(make_plan(spec), run_dir=tmp_path, prefix="cnib0000")
    assert [c["keep"] for c in compiled.extravars["cnibench_clusters"]] == [False, True]
    # what cleanup needs is in the compiled run, not in the platform (compiling is pure)
    assert compiled.kept == {"cni": "cilium", "cluster": "cnib0000-cilium"} and not vars(platform).get("notes")
    assert "kept kind cluster cnib0000-cilium" in compiled.notes[0] and "cnibench clean" in compiled.notes[0]
    assert "--keep keeps the last CNI's cluster only" in " ".join(compiled.steps)


def test_egress_policies_select_the_client_and_the_gateway_node(tmp_path):
    out = _render(tmp_path, "kind-antrea-vs-cilium.yaml")
    (cilium,) = _documents(out / "rendered" / "cilium" / "manifests" / "31-egress-policy-cilium.yaml")
    assert cilium["kind"] == "CiliumEgressGatewayPolicy"
    assert cilium["spec"]["destinationCIDRs"] == ["172.18.255.252/32"]
    assert cilium["spec"]["egressGateway"] == {
        "nodeSelector": {"matchLabels": {"cnibench.io/egress-gateway": "true"}},
        "egressIP": "172.18.255.253",
    }
    pool, egress = _documents(out / "rendered" / "antrea" / "manifests" / "31-egress-policy-antrea.yaml")
    assert pool["spec"]["ipRanges"] == [{"start": "172.18.255.253", "end": "172.18.255.253"}]
    assert (
        egress["spec"]["egressIP"] == "172.18.255.253" and egress["spec"]["externalIPPool"] == pool["metadata"]["name"]
    )


def test_render_writes_the_playbook_vars_and_the_load_script(tmp_path):
    out = _render(tmp_path, "kind-antrea-vs-cilium.yaml")
    extravars = json.loads((out / "vars.json").read_text())
    assert extravars["cnibench_platform"] == "kind" and [c["cni"] for c in extravars["cnibench_clusters"]] == [
        "antrea",
        "cilium",
    ]
    for cluster in extravars["cnibench_clusters"]:
        for path in (cluster["create"]["kind_config"], cluster["cni_chart"]["values"], cluster["namespace_manifest"]):
            assert Path(path).is_file() and Path(path).is_relative_to(out)
        # kind's kubeconfig holds credentials: never inside the results
        assert not Path(cluster["kubeconfig"]).is_relative_to(out)
        runs = [run for s in cluster["scenarios"] for trial in s.get("trials", []) for run in trial["runs"]]
        assert len(runs) == 9 and all(run["metrics"]["uplinks"] == "eth0" for run in runs)
        k6 = next(run["argv"] for run in runs if run["argv"][0] == "k6")
        assert "CNIBENCH_TARGET=http://@address@/echo" in k6
    script = (out / "rendered" / "cilium" / "ingress" / "load.js").read_text()
    assert "__ENV.CNIBENCH_TARGET" in script and '"echo-0", "echo-1", "echo-2"' in script


def test_render_refuses_a_directory_that_is_not_empty(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    from cnibench.errors import UsageError

    with pytest.raises(UsageError, match="not empty"):
        commands.render(_spec(tmp_path, "kind-antrea-vs-cilium.yaml"), tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["keep.txt"]


def test_plan_lists_every_step_of_a_kind_run(capsys):
    assert commands.plan(ROOT / "examples" / "kind-antrea-vs-cilium.yaml") == 0
    out = capsys.readouterr().out
    for cni in ("antrea", "cilium"):
        for words in (
            f"[{cni}] create kind cluster cnib0000-{cni}",
            f"[{cni}] helm install {cni}",
            f"[{cni}] deploy node_exporter",
            f"[{cni}] start the external iperf3 server",
            f"[{cni}] apply the egress policy",
            f"[{cni}] helm install MetalLB",
            f"[{cni}] helm install Envoy Gateway",
            f"[{cni}] ingress: 3 x k6",
            f"[{cni}] delete the kind cluster",
        ):
            assert words in out
    assert out.index("[cilium] install the Gateway API v1.4.1 standard CRDs (before Cilium)") < out.index(
        "[cilium] helm install cilium"
    )
    assert "nothing was created" in out


def test_cilium_on_an_existing_cluster_without_an_egress_ip_uses_the_gateway_nodes_address(tmp_path):
    out = _render(tmp_path, "kubeconfig.yaml")
    (policy,) = _documents(out / "rendered" / "cilium" / "manifests" / "31-egress-policy-cilium.yaml")
    assert "egressIP" not in policy["spec"]["egressGateway"]
    extravars = json.loads((out / "vars.json").read_text())
    (cluster,) = extravars["cnibench_clusters"]
    egress = step(cluster, "egress")
    assert egress["egress_ip"] is None and cluster["create"] is None and cluster["cni_chart"] is None
    assert egress["server"]["argv"][:3] == ["iperf3", "--server", "--json"]


def test_the_playbook_gets_decisions_not_logic(tmp_path):
    """What the roles would otherwise compute in Jinja comes ready from Python: which roles run, in which order, with
    what."""
    out = _render(tmp_path, "kind-antrea-vs-cilium.yaml")
    antrea, cilium = json.loads((out / "vars.json").read_text())["cnibench_clusters"]
    assert [s["role"] for s in antrea["scenarios"]] == [
        "cnibench.bench.egress",
        "cnibench.bench.metallb",
        "cnibench.bench.ingress",
    ]
    assert [t["scenario"] for t in step(antrea, "egress")["trials"]] == ["egress-baseline", "egress"]
    assert [t["scenario"] for t in step(antrea, "ingress")["trials"]] == ["ingress"]
    assert antrea["info"] == {"pick_gateway_node": True, "preferred_gateway": "cnib0000-antrea-worker",
                              "cni_gateway": False, "cni_egress": False, "envoy_gateway": True}  # fmt: skip
    assert antrea["create"]["role"] == "cnibench.bench.kind" and antrea["teardown"]["role"] == "cnibench.bench.teardown"
    assert antrea["teardown"]["containers"] == ["cnib0000-antrea-iperf3"]
    assert step(antrea, "egress")["gateway_labels"] == {"cnibench.io/egress-gateway": "true"}
    # Cilium's operator needs the Gateway API CRDs when it starts: a step of the ingress role before the CNI
    assert antrea["before_cni"] == []
    (crds,) = cilium["before_cni"]
    assert (crds["role"], crds["tasks_from"]) == ("cnibench.bench.ingress", "crds.yml")
    assert crds["gateway_api"] == step(cilium, "ingress")["gateway_api"] and crds["gateway_api"]["before_cni"]


def test_the_playbook_names_no_scenario_and_no_cni():
    """A new scenario is its adapter and its role; a new CNI its descriptor: the playbook includes the roles the
    steps name."""
    playbooks = ROOT / "src" / "cnibench" / "ansible" / "playbooks"
    tasks = [yaml.safe_load((playbooks / name).read_text()) for name in ("kube.yml", "tasks/kube_cluster.yml")]
    text = json.dumps(tasks).lower()  # what Ansible runs (its comments left out)
    assert "{{ step.role }}" in text
    for word in ("egress", "ingress", "gateway", "metallb", "cilium", "antrea", "kind", "aks", "terraform"):
        assert word not in text, word


# fixed offered loads (load: rate): the same objects, other tool arguments and one k6 script per rate
RATE_VARIANTS = {
    "kind-rate": (
        "kind-antrea-vs-cilium.yaml",
        {"scenarios__egress__load": "rate", "scenarios__egress__rates": ["500M", "2G"],
         "scenarios__ingress__load": "rate", "scenarios__ingress__rates": [500, 2000]},
    ),
    "aks-rate": ("aks.yaml", {"scenarios__ingress__load": "rate", "scenarios__ingress__rates": [1000]}),
}  # fmt: skip


@pytest.mark.parametrize("variant", list(RATE_VARIANTS))
def test_fixed_loads_render_tool_arguments_and_scripts_k6_reads(tmp_path, variant):
    """A fixed load on Kubernetes: the same manifests, passing the pinned upstream schemas (where ../shared is);
    iperf3 in the client pod with --bitrate, k6 with a constant-arrival-rate script per rate (checked by the real
    `k6 inspect`), each repetition idling first on this machine (the idle baseline)."""
    from cnibench.proc import tool_path

    example, changes = RATE_VARIANTS[variant]
    out = _render(tmp_path, example, **changes)
    if VALIDATOR.exists():
        result = _validate("-v", *map(str, sorted(out.glob("rendered/*/manifests/*.yaml"))))
        assert result.returncode == 0 and " 0 failed" in result.stdout, result.stdout + result.stderr
    extravars = json.loads((out / "vars.json").read_text())
    runs = [
        run
        for cluster in extravars["cnibench_clusters"]
        for s in cluster["scenarios"]
        for trial in s.get("trials", [])
        for run in trial["runs"]
    ]
    assert runs and all(run["argv"][1:3] == ["-m", "cnibench.tools.idle"] for run in runs)
    iperf = [run["argv"] for run in runs if "iperf3" in run["argv"]]
    if "scenarios__egress__load" in changes:
        bitrates = {argv[argv.index("--bitrate") + 1] for argv in iperf}
        assert bitrates == {"500000000", "2000000000"} and all(argv[5] == "kubectl" for argv in iperf)
    rates = changes["scenarios__ingress__rates"]
    scripts = sorted(out.glob("rendered/*/ingress/load@*rps.js"))
    assert {p.name for p in scripts} == {f"load@{rate}rps.js" for rate in rates}
    for script in scripts:
        proc = subprocess.run([tool_path("k6") or "k6", "inspect", str(script)], capture_output=True, text=True,
                              check=True)  # fmt: skip
        load = json.loads(proc.stdout)["scenarios"]["load"]
        assert load["executor"] == "constant-arrival-rate" and f"load@{load['rate']}rps.js" == script.name
        assert "__ENV.CNIBENCH_TARGET" in script.read_text()
