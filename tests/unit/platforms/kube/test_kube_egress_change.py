"""The egress-change scenario on kind and an existing cluster, rendered offline: every manifest against the pinned
upstream schemas (../shared/tools/validate_manifests.py --strict), the policy over two gateway nodes per CNI."""

from __future__ import annotations

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
    assert role["trials"] == ["egress-apply", "egress-new-pod", "egress-failover"]
    assert "docker network disconnect" in role["failure"]
    steps = "\n".join(compiled.steps)
    assert "label two gateway-capable nodes" in steps and "not written yet" in steps


def test_netns_only_fields_are_refused_on_kubernetes(tmp_path):
    with pytest.raises(SpecError, match=r"egress-change\.vrrp_advert_int \(line [0-9]+\): only on netns"):
        load_spec(_spec(tmp_path, "kind-antrea-vs-cilium.yaml", vrrp_advert_int=0.5))
    with pytest.raises(SpecError, match=r"egress-change\.server_ip.*required on kubeconfig"):
        load_spec(_spec(tmp_path / "k", "kubeconfig.yaml"))
