"""CNI variants on Kubernetes: every knob's mapping onto the chart values, checked against the pinned chart values
schema (Cilium) or the values file's documented choices (Antrea has no schema); the upstream-forbidden combinations
refused with the field named; the variants rendered for kind and AKS passing the pinned schemas."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cnibench import commands
from cnibench.errors import SpecError
from cnibench.knobs import chart_values
from cnibench.platforms.kube.cnis import CNIS
from cnibench.platforms.kube.cnis.base import Capability, KindValues
from cnibench.spec import load_spec_data, parse_spec

ROOT = Path(__file__).resolve().parents[5]
SHARED = ROOT.parent / "shared"
VALIDATOR = SHARED / "tools" / "validate_manifests.py"
needs_shared = pytest.mark.skipif(not VALIDATOR.exists(), reason="../shared (pinned schemas and validator) not here")
KIND = KindValues("1.19.4", "cnib0000-x-control-plane", 6443, False, "10.244.0.0/16")


def _validate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(VALIDATOR), "--strict", "-q", *args], capture_output=True, text=True,
                          check=False, timeout=300)  # fmt: skip


def _values(knob_values: list[tuple[str, object]]) -> list[object]:
    return [value for _, value in knob_values]


def _every_value(cni: str) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for knob in CNIS.get(cni).knobs:
        choices = (True, False) if knob.kind is bool else knob.choices or (knob.minimum, knob.maximum)
        out += [(knob.name, choice) for choice in choices]
    return out


@needs_shared
def test_every_cilium_knob_value_maps_onto_values_the_chart_schema_accepts(tmp_path):
    args = []
    for index, (knob, value) in enumerate(_every_value("cilium")):
        cni = CNIS.get("cilium").variant(f"v{index}", {knob: value})
        path = tmp_path / f"{knob}-{value}.yaml"
        path.write_text(yaml.safe_dump(cni.with_knobs(cni.kind_values(KIND))))
        args += ["--values", f"cilium-1.19.4={path}"]
    result = _validate(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(args) // 2} passed" in result.stdout


@needs_shared
def test_a_wrong_mapping_is_caught_by_the_schema(tmp_path):
    """The schema check above can fail: a value of the wrong type under a knob's key is refused."""
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"encryption": {"enabled": "wireguard"}}))
    assert _validate("--values", f"cilium-1.19.4={path}").returncode != 0


def test_cilium_knobs_map_onto_the_documented_keys():
    cilium = CNIS.get("cilium")
    assert chart_values(cilium.knobs, {"encryption": "wireguard"}) == {
        "encryption": {"enabled": True, "type": "wireguard"}
    }
    assert chart_values(cilium.knobs, {"routing": "tunnel-geneve"}) == {
        "routingMode": "tunnel",
        "tunnelProtocol": "geneve",
    }
    native = cilium.variant("c-native", {"routing": "native"})
    values = native.with_knobs(native.kind_values(KIND))
    assert values is not None
    assert (values["routingMode"], values["autoDirectNodeRoutes"], values["ipv4NativeRoutingCIDR"]) == (
        "native",
        True,
        "10.244.0.0/16",
    )
    # docs security/network/encryption-ipsec: --set encryption.enabled=true --set encryption.type=ipsec; the Secret's
    # name and key as cnibench creates it (the chart's own defaults, said explicitly)
    ipsec = {"secretName": "cilium-ipsec-keys", "keyFile": "keys"}
    assert chart_values(cilium.knobs, {"encryption": "ipsec"}) == {
        "encryption": {"enabled": True, "type": "ipsec", "ipsec": ipsec}
    }
    assert chart_values(cilium.knobs, {"hubble": "relay"}) == {"hubble": {"enabled": True, "relay": {"enabled": True}}}


def test_antrea_knobs_map_onto_its_values_file_choices():
    """Antrea's chart has no values schema: each knob maps onto a key of build/charts/antrea/values.yaml (v2.7.0)
    with one of the values its comment lists (trafficEncryptionMode: none, ipsec, wireGuard; trafficEncapMode:
    encap, noEncap, hybrid, networkPolicyOnly; tunnelType: geneve, vxlan, gre, stt)."""
    documented = {
        "trafficEncryptionMode": {"none", "ipsec", "wireGuard"},
        "trafficEncapMode": {"encap", "noEncap", "hybrid", "networkPolicyOnly"},
        "tunnelType": {"geneve", "vxlan", "gre", "stt"},
    }
    antrea = CNIS.get("antrea")
    for knob, value in _every_value("antrea"):
        mapped = chart_values(antrea.knobs, {knob: value})
        assert len(mapped) == 1
        ((key, chart_value),) = mapped.items()
        assert chart_value in documented[key], (knob, value, mapped)


def test_a_variant_without_kube_proxy_replacement_keeps_kube_proxy_and_loses_the_egress_gateway():
    plain, off = CNIS.get("cilium"), CNIS.get("cilium").variant("cilium-kpr-off", {"kube_proxy_replacement": False})
    assert plain.kube_proxy_replacement and not off.kube_proxy_replacement
    assert Capability.EGRESS_GATEWAY in plain.capabilities and Capability.EGRESS_GATEWAY not in off.capabilities
    assert (off.name, off.base) == ("cilium-kpr-off", "cilium") and CNIS.get("cilium").name == "cilium"


def _spec(example: str, cnis: list[object]) -> dict[str, object]:
    data = load_spec_data(ROOT / "examples" / example)
    data["cnis"] = cnis
    return data


@pytest.mark.parametrize(
    ("example", "entry", "message"),
    [
        (
            "kind-variants.yaml",
            {"name": "a", "cni": "antrea", "set": {"encryption": "wireguard", "encap_mode": "noEncap"}},
            "cnis[1].set.encryption: wireguard with encap_mode noEncap: Antrea's encryption only works with encap mode",
        ),
        (
            "kind-variants.yaml",
            {"name": "c", "cni": "cilium", "set": {"encryption": "aes"}},
            "cnis[1].set.encryption: 'aes' is not valid; valid: none, wireguard, ipsec",
        ),
        (
            "kind-variants.yaml",
            {"name": "c", "cni": "cilium", "set": {"tunnel": "vxlan"}},
            "cnis[1].set.tunnel: cilium has no setting 'tunnel'; valid: encryption, routing, kube_proxy_replacement, "
            "hubble, mtu",
        ),
        (
            "aks.yaml",
            {"name": "c", "cni": "cilium", "set": {"routing": "native"}},
            "cnis[1].set.routing: AKS bring-your-own-CNI (aksbyocni.enabled) requires tunnel routing",
        ),
    ],
)
def test_bad_variants_are_refused_in_one_line_naming_the_field(example, entry, message):
    with pytest.raises(SpecError) as caught:
        parse_spec(_spec(example, ["antrea", entry]), "spec.yaml")
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_the_egress_scenario_refuses_a_variant_without_the_egress_gateway():
    data = _spec(
        "kind-antrea-vs-cilium.yaml",
        ["cilium", {"name": "cilium-kpr-off", "cni": "cilium", "set": {"kube_proxy_replacement": False}}],
    )
    with pytest.raises(SpecError, match=r"cnis\[1\].*kube-proxy replacement"):
        parse_spec(data, "spec.yaml")


def test_a_pod_mtu_above_the_underlay_minus_wireguard_is_warned_about_before_anything_runs():
    data = _spec(
        "kind-variants.yaml",
        ["cilium", {"name": "cilium-wg", "cni": "cilium", "set": {"encryption": "wireguard", "mtu": 1450}}],
    )
    spec = parse_spec(data, "spec.yaml")
    warnings = spec.platform_class.configuration_warnings(spec)
    assert (
        warnings
        == [
            w
            for w in warnings
            if w.startswith("cilium-wg: pod MTU 1450 is above the underlay MTU 1500 minus 130 bytes")
        ]
        and len(warnings) == 1
    )


@needs_shared
@pytest.mark.parametrize("example", ["kind-variants.yaml", "aks.yaml"])
def test_the_variants_rendered_for_kind_and_aks_pass_the_pinned_schemas(tmp_path, example):
    data = load_spec_data(ROOT / "examples" / "kind-variants.yaml")
    if example == "aks.yaml":
        aks = load_spec_data(ROOT / "examples" / "aks.yaml")
        aks["cnis"] = data["cnis"]
        data = aks
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    assert commands.render(spec_path, out) == 0
    names = ["cilium", "cilium-wg", "cilium-ipsec", "cilium-kpr-off", "antrea", "antrea-wg"]
    assert sorted(p.name for p in (out / "rendered").iterdir()) == sorted(names)
    result = _validate(*(str(p) for p in sorted((out / "rendered").glob("*/manifests"))))
    assert result.returncode == 0, result.stdout + result.stderr
    values = [f"cilium-1.19.4={out / 'rendered' / n / 'helm' / f'{n}.values.yaml'}" for n in names if "cilium" in n]
    result = _validate(*(arg for v in values for arg in ("--values", v)))
    assert result.returncode == 0, result.stdout + result.stderr
    antrea_wg = yaml.safe_load((out / "rendered" / "antrea-wg" / "helm" / "antrea-wg.values.yaml").read_text())
    assert antrea_wg["trafficEncryptionMode"] == "wireGuard"
    ipsec = yaml.safe_load((out / "rendered" / "cilium-ipsec" / "helm" / "cilium-ipsec.values.yaml").read_text())
    assert (ipsec["encryption"]["type"], ipsec["encryption"]["ipsec"]["secretName"]) == ("ipsec", "cilium-ipsec-keys")


def test_the_ipsec_key_is_created_at_run_time_and_is_nowhere_in_the_rendered_run(tmp_path):
    """The plan creates Secret cilium-ipsec-keys before Cilium's chart, with a key the playbook's step generates: no
    rendered file and no playbook variable holds a key (only the template with {hex}); every encrypted variant is
    read back after its CNI is installed."""
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(load_spec_data(ROOT / "examples" / "kind-variants.yaml")))
    out = tmp_path / "out"
    assert commands.render(spec_path, out) == 0
    everything = "\n".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())
    assert "{hex}" in everything  # the template travels, in the playbook's variables
    assert not re.search(r"rfc4106\(gcm\(aes\)\) [0-9a-f]{40}", everything)
    clusters = {c["cni"]: c for c in json.loads((out / "vars.json").read_text())["cnibench_clusters"]}
    assert [s["name"] for s in clusters["cilium-ipsec"]["cni_chart"]["key_secrets"]] == ["cilium-ipsec-keys"]
    assert all(not c["cni_chart"]["key_secrets"] for name, c in clusters.items() if name != "cilium-ipsec")
    checked = {name: (c["encryption"] or {}).get("requested") for name, c in clusters.items()}
    assert checked == {"cilium": None, "cilium-wg": "wireguard", "cilium-ipsec": "ipsec", "cilium-kpr-off": None,
                       "antrea": None, "antrea-wg": "wireguard"}  # fmt: skip
