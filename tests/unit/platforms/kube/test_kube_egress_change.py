"""The egress-change scenario on kind and an existing cluster, rendered offline: every manifest against the pinned
upstream schemas (../shared/tools/validate_manifests.py --strict), the policy over two gateway nodes per CNI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kube_examples import step, write_example

from cnibench import commands
from cnibench.errors import SpecError
from cnibench.plan import make_plan
from cnibench.platforms import get_platform
from cnibench.spec import load_spec

ROOT = Path(__file__).resolve().parents[4]
VALIDATOR = ROOT.parent / "shared" / "tools" / "validate_manifests.py"
needs_shared = pytest.mark.skipif(not VALIDATOR.exists(), reason="../shared (pinned schemas and validator) not here")
KUBECONFIG_ADDRESSES = {"server_ip": "192.0.2.10", "egress_ip": "192.0.2.11"}


def _spec(tmp_path: Path, example: str, **section) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    return write_example(tmp_path, example, nodes__workers=3,
                         scenarios={"egress-change": {"repetitions": 1, **section}})  # fmt: skip


@needs_shared
@pytest.mark.parametrize(("example", "section"), [("kind-antrea-vs-cilium.yaml", {}),
                                                  ("kubeconfig.yaml", KUBECONFIG_ADDRESSES)])  # fmt: skip
def test_every_rendered_manifest_passes_the_upstream_schemas(tmp_path, example, section):
    out = tmp_path / "out"
    assert commands.render(_spec(tmp_path, example, **section), out) == 0
    manifests = sorted(out.glob("rendered/*/manifests/4*-egress-change-*.yaml"))
    cnis = {m.parent.parent.name for m in manifests}
    assert len(manifests) == 3 * len(cnis) and cnis <= {"antrea", "cilium"}  # client, new pod, policy per CNI
    result = subprocess.run([sys.executable, str(VALIDATOR), "--strict", "-q", *map(str, manifests)],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0 and " 0 failed" in result.stdout, result.stdout + result.stderr


def test_the_policy_spans_two_labelled_gateways_and_selects_the_new_pod(tmp_path):
    out = tmp_path / "out"
    assert commands.render(_spec(tmp_path, "kind-antrea-vs-cilium.yaml"), out) == 0
    manifests = out / "rendered" / "antrea" / "manifests"
    pool, egress = yaml.safe_load_all((manifests / "42-egress-change-policy-antrea.yaml").read_text())
    assert pool["kind"] == "ExternalIPPool" and pool["spec"]["nodeSelector"]["matchLabels"] == {
        "cnibench.io/egress-gateway": "true"}  # fmt: skip
    assert egress["spec"]["externalIPPool"] == pool["metadata"]["name"]
    (new_pod,) = yaml.safe_load_all((manifests / "41-egress-change-new-pod.yaml").read_text())
    selected = egress["spec"]["appliedTo"]["podSelector"]["matchLabels"]
    assert selected.items() <= new_pod["metadata"]["labels"].items()  # the existing policy selects the new pod
    (cegp,) = yaml.safe_load_all(
        (out / "rendered" / "cilium" / "manifests" / "42-egress-change-policy-cilium.yaml").read_text()
    )
    assert cegp["kind"] == "CiliumEgressGatewayPolicy"
    assert cegp["spec"]["egressGateway"]["nodeSelector"]["matchLabels"] == {"cnibench.io/egress-gateway": "true"}
    spec, _ = load_spec(tmp_path / "spec.yaml")
    compiled = get_platform("kind").compile(make_plan(spec), run_dir=tmp_path / "k", prefix="cnib0000")
    cluster = compiled.extravars["cnibench_clusters"][0]
    role = step(cluster, "egress_change")
    assert [t["scenario"] for t in role["trials"]] == ["egress-apply", "egress-new-pod", "egress-failover"]
    assert [t["policy_before"] for t in role["trials"]] == [False, True, True]
    assert role["server"]["kind"] == "container" and role["server"]["argv"][:2] == ["docker", "run"]
    steps = "\n".join(compiled.steps)
    assert "label two gateway-capable nodes" in steps and "not written yet" not in steps
    assert "set down from inside the node" in steps
    run = role["trials"][2]["runs"][0]
    assert run["argv"][1:3] == ["-m", "cnibench.platforms.kube.scenarios._egress_change_run"]
    assert run["argv"][3:] == ["measure", role["config"], "gateway-failover", "@gateway_nodes@"]
    assert run["stdout"].endswith("raw/antrea/egress-failover/rep-01.pcap")


def test_netns_only_fields_are_refused_on_kubernetes(tmp_path):
    with pytest.raises(SpecError, match=r"egress-change\.vrrp_advert_int \(line [0-9]+\): only on netns"):
        load_spec(_spec(tmp_path, "kind-antrea-vs-cilium.yaml", vrrp_advert_int=0.5))
    with pytest.raises(SpecError, match=r"egress-change\.server_ip.*required on kubeconfig"):
        load_spec(_spec(tmp_path / "k", "kubeconfig.yaml"))


PLATFORMS = [("kind-antrea-vs-cilium.yaml", {}, "link-down"), ("kubeconfig.yaml", KUBECONFIG_ADDRESSES, "cordon")]


@pytest.mark.parametrize(("example", "section", "failure"), PLATFORMS)
def test_the_driver_configuration_per_platform(tmp_path, example, section, failure):
    out = tmp_path / "out"
    assert commands.render(_spec(tmp_path, example, **section), out) == 0
    paths = out.glob("rendered/*/egress-change/driver.json")
    configs = {p.parent.parent.name: json.loads(p.read_text()) for p in paths}
    assert configs
    for cni, config in configs.items():
        assert config["failure"] == failure
        assert config["ports"] == {"probe": 5301, "flow": 5302, "pod": 5303}
        if failure == "link-down":  # kind: the server is a container on kind's network; the marker goes to it
            assert config["server"]["container"].endswith(f"-{cni}-egress-change")
            assert config["server"]["device"] == "eth0" and config["marker_to"] == config["server"]["ip"]
            first, second = config["preferred_gateways"]  # kind names the workers: the first two
            assert first.endswith(f"-{cni}-worker") and second.endswith(f"-{cni}-worker2")
        else:  # kubeconfig: tcpdump on this machine, the interface and broadcast found at run time
            assert config["server"] == {"container": None, "ip": "192.0.2.10", "device": None}
            assert config["marker_to"] is None and config["preferred_gateways"] is None
        owner = config["owner"]
        if cni == "antrea":
            assert owner == {"resource": "egresses.crd.antrea.io", "name": "cnibench-egress-change",
                             "field": "egressNode"}  # fmt: skip
            assert config["assign_egress_ip"] is None  # Antrea places the egress IP itself
        else:
            assert owner is None
            if failure == "link-down":  # Cilium uses the IP but does not place it: cnibench does, on kind
                assert config["assign_egress_ip"]["address"] == f"{config['egress_ip']}/16"
    (new_pod,) = yaml.safe_load_all(next(out.glob("rendered/*/manifests/41-egress-change-new-pod.yaml")).read_text())
    container = new_pod["spec"]["containers"][0]
    assert container["command"][:2] == ["iperf3", "-c"] and "5303" in container["command"]  # the probe from its start
    assert new_pod["spec"]["restartPolicy"] == "Never"


def test_aks_stays_refused_with_one_line(tmp_path):
    with pytest.raises(SpecError, match=r"scenarios\.egress-change.*not on aks: .*no external iperf3 server"):
        load_spec(_spec(tmp_path, "aks.yaml", **KUBECONFIG_ADDRESSES))
