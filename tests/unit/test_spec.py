from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cnibench.errors import SpecError
from cnibench.spec import apply_overrides, default_spec_data, json_schema, load_spec, parse_spec

ROOT = Path(__file__).resolve().parents[2]


def _with(**changes: object) -> dict:
    data = default_spec_data()
    for dotted, value in changes.items():
        target = data
        *path, last = dotted.split("__")
        for key in path:
            target = target.setdefault(key, {})
        target[last] = value
    return data


def test_default_spec_is_the_shipped_example():
    shipped = yaml.safe_load((ROOT / "examples" / "local.yaml").read_text())
    assert shipped == default_spec_data()


def test_default_spec_resolves_egress_ip_to_last_host_of_external_cidr():
    spec, source = load_spec(None)
    assert source == "built-in default spec"
    assert spec.platform == "netns"
    assert spec.cnis == ["hostgw", "vxlan"]
    assert spec.scenarios.egress is not None
    assert str(spec.scenarios.egress.egress_ip) == "203.0.113.254"
    assert spec.scenarios.egress.repetitions == 3


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"bogus": 1}, "bogus", "Extra inputs"),
        ({"scenarios__egress__bogus": 1}, "scenarios.egress.bogus", "Extra inputs"),
        ({"scenarios__egress__duration": 0}, "scenarios.egress.duration", "greater than 0"),
        ({"scenarios__egress__duration": -5}, "scenarios.egress.duration", "greater than 0"),
        ({"scenarios__egress__duration": "10"}, "scenarios.egress.duration", "valid integer"),
        ({"scenarios__egress__repetitions": 0}, "scenarios.egress.repetitions", "greater than or equal to 1"),
        ({"scenarios__egress__parallel": True}, "scenarios.egress.parallel", "valid integer"),
        ({"scenarios__egress__protocol": "sctp"}, "scenarios.egress.protocol", "'tcp' or 'udp'"),
        ({"scenarios__egress__egress_ip": "300.1.1.1"}, "scenarios.egress.egress_ip", "IPv4 address"),
        ({"scenarios__egress__egress_ip": "10.244.3.7"}, "scenarios.egress.egress_ip", "inside network.pod_cidr"),
        ({"scenarios__egress__egress_ip": "172.18.0.9"}, "scenarios.egress.egress_ip", "inside network.node_cidr"),
        ({"scenarios__egress__egress_ip": "203.0.113.2"}, "scenarios.egress.egress_ip", "server address"),
        ({"scenarios__egress__egress_ip": "224.0.0.5"}, "scenarios.egress.egress_ip", "not a unicast"),
        ({"scenarios__egress__external_cidr": "10.0.0.0/33"}, "scenarios.egress.external_cidr", "IPv4 network"),
        ({"scenarios__egress__external_cidr": "10.244.8.0/24"}, "scenarios.egress.external_cidr", "overlaps"),
        ({"scenarios__egress__bitrate": "fast"}, "scenarios.egress.bitrate", "K, M or G"),
        ({"name": "Local_Test"}, "name", "DNS-1123"),
        ({"name": "-local"}, "name", "DNS-1123"),
        ({"name": "a" * 64}, "name", "DNS-1123"),
        ({"cnis": ["hostgw", "calico"]}, "cnis[1]", "unknown CNI 'calico' for platform netns; valid: hostgw, vxlan"),
        ({"cnis": []}, "cnis", "at least 1"),
        ({"cnis": ["vxlan", "vxlan"]}, "cnis", "only once"),
        ({"platform": "kind2"}, "platform", "unknown platform 'kind2'; valid: netns"),
        ({"nodes__workers": 1}, "nodes.workers", "greater than or equal to 2"),
        ({"network__pod_cidr": "172.18.0.0/16"}, "network.pod_cidr", "overlaps node_cidr"),
        ({"network__pod_cidr": "10.244.0.0/24"}, "network.pod_cidr", "/20 or larger"),
        ({"scenarios": {}}, "scenarios", "at least one scenario"),
    ],
)
def test_bad_input_is_one_line_naming_file_and_field(changes, field, words):
    with pytest.raises(SpecError) as info:
        parse_spec(_with(**changes), "my.yaml")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"my.yaml: {field}: "), message
    assert words in message
    assert info.value.exit_code == 2


def test_several_errors_stay_on_one_line():
    data = _with(name="BAD", scenarios__egress__duration=0)
    with pytest.raises(SpecError) as info:
        parse_spec(data, "x.yaml")
    text = str(info.value)
    assert "\n" not in text and "name:" in text and "scenarios.egress.duration:" in text


def test_egress_ip_outside_external_cidr_is_allowed():
    spec = parse_spec(_with(scenarios__egress__egress_ip="198.51.100.7"))
    assert str(spec.scenarios.egress.egress_ip) == "198.51.100.7"


def test_yaml_errors_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ncnis: [hostgw\n")
    with pytest.raises(SpecError, match=r"bad\.yaml: not valid YAML \(line \d+\)"):
        load_spec(bad)


def test_duplicate_keys_are_refused(tmp_path):
    dup = tmp_path / "dup.yaml"
    dup.write_text("name: a\nname: b\ncnis: [hostgw]\nscenarios: {egress: {}}\n")
    with pytest.raises(SpecError, match="duplicate key 'name'"):
        load_spec(dup)


def test_missing_file_and_non_mapping(tmp_path):
    with pytest.raises(SpecError, match="cannot read spec"):
        load_spec(tmp_path / "nope.yaml")
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(SpecError, match="must be a YAML mapping"):
        load_spec(listy)


def test_overrides_apply_to_every_scenario(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(default_spec_data()))
    spec, _ = load_spec(path, repetitions=7, duration=4)
    assert spec.scenarios.egress.repetitions == 7
    assert spec.scenarios.egress.duration == 4
    original = default_spec_data()
    assert apply_overrides(original, repetitions=2) is not original
    assert original["scenarios"]["egress"]["repetitions"] == 3


def test_json_schema_lists_fields():
    schema = json_schema()
    assert schema["additionalProperties"] is False
    assert {"name", "platform", "cnis", "scenarios"} <= set(schema["properties"])
