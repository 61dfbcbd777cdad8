from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cnibench.errors import SpecError
from cnibench.spec import MAX_SPEC_BYTES, apply_overrides, default_spec_data, json_schema, load_spec, parse_spec

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
    assert spec.scenarios.egress.repetitions == 1  # 6 rounds (netns) x 1


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"bogus": 1}, "bogus", "unknown key 'bogus'; valid: version, name, platform"),
        (
            {"scenarios__egress__bogus": 1},
            "scenarios.egress.bogus",
            "unknown key 'bogus'; valid: duration, repetitions, load, rates, protocol",
        ),
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
        ({"nodes__workers": 0}, "nodes.workers", "greater than or equal to 1"),
        ({"nodes__workers": 1}, "nodes.workers", "the egress scenario needs 2 workers"),
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
    assert original["scenarios"]["egress"]["repetitions"] == 1


def test_json_schema_lists_fields():
    schema = json_schema()
    assert schema["additionalProperties"] is False
    assert {"name", "platform", "cnis", "scenarios"} <= set(schema["properties"])


def test_errors_name_the_line_of_each_key_and_come_all_at_once(tmp_path):
    """Field errors, unknown keys and the unknown CNI (a cross-field check) in one pass, in the file's order."""
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "name: ok\ncnis: [hostgw, flannel]\nscenarios:\n  egress:\n    duration: 0\n  ingress:\n    gatway: l7\n"
        "metrics:\n  scrape: 1s\n"
    )
    with pytest.raises(SpecError) as info:
        load_spec(spec)
    assert str(info.value) == (
        f"{spec}: cnis[1] (line 2): unknown CNI 'flannel' for platform netns; valid: hostgw, vxlan; "
        "scenarios.egress.duration (line 5): Input should be greater than 0; "
        "scenarios.ingress.gatway (line 7): unknown key 'gatway'; did you mean 'gateway'?; "
        "metrics.scrape (line 9): unknown key 'scrape'; did you mean 'scrape_interval'?"
    )


def test_a_cross_field_error_names_the_line_of_its_key(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "name: ok\ncnis: [hostgw]\nscenarios:\n  egress:\n    omit: 1\nnetwork:\n  node_cidr: 10.0.0.0/30\n"
    )
    with pytest.raises(SpecError, match=r"network\.node_cidr \(line 7\): must be /27 or larger"):
        load_spec(spec)


def test_an_unknown_key_far_from_any_valid_one_lists_them():
    with pytest.raises(SpecError, match=r"nodes\.zzz: unknown key 'zzz'; valid: workers$"):
        parse_spec(_with(nodes__zzz=1), "my.yaml")


def _run_refused(tmp_path, monkeypatch, capsys, spec) -> str:
    """`cnibench run SPEC` from an empty directory: exit 2, one line naming the file, nothing created."""
    from cnibench import cli

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert cli.main(["run", str(spec)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"cnibench: error: {spec}: "), err
    assert list(work.iterdir()) == []
    return err


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"name: caf\xe9\ncnis: [hostgw]\n", "not UTF-8 text: byte 0xe9 at line 1"),
        (b"# x\n" * (MAX_SPEC_BYTES // 4 + 1), "larger than 1 MiB, the limit for a spec file"),
        (b"\xff\xfe", "not UTF-8 text: byte 0xff at line 1"),
    ],
)
def test_a_file_that_is_not_a_spec_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, content, words):
    spec = tmp_path / "spec.yaml"
    spec.write_bytes(content)
    assert words in _run_refused(tmp_path, monkeypatch, capsys, spec)


def test_a_directory_is_not_a_spec(tmp_path, monkeypatch, capsys):
    (tmp_path / "specs").mkdir()
    assert "is a directory, not a spec file" in _run_refused(tmp_path, monkeypatch, capsys, tmp_path / "specs")


def test_an_endless_file_is_read_only_up_to_the_limit(tmp_path, monkeypatch, capsys):
    assert "larger than 1 MiB" in _run_refused(tmp_path, monkeypatch, capsys, Path("/dev/zero"))


def test_an_unreadable_spec_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(default_spec_data()))
    spec.chmod(0o600)
    if os.geteuid() != 0:
        spec.chmod(0o000)
        assert "cannot read spec: Permission denied" in _run_refused(tmp_path, monkeypatch, capsys, spec)
        return
    # root reads every file: the reader is another user (tmp_path's parents are root's alone: a relative path)
    tmp_path.chmod(0o711)
    nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    proc = subprocess.run(
        [*nobody, sys.executable, "-m", "cnibench", "plan", "spec.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr == "cnibench: error: spec.yaml: cannot read spec: Permission denied\n"


def test_json_schema_names_its_dialect_and_accepts_the_examples():
    from jsonschema import Draft202012Validator, ValidationError, validators

    schema = json_schema()
    assert next(iter(schema)) == "$schema"
    assert validators.validator_for(schema) is Draft202012Validator
    Draft202012Validator.check_schema(schema)
    examples = sorted((ROOT / "examples").glob("*.yaml"))
    assert len(examples) >= 4
    for example in examples:
        Draft202012Validator(schema).validate(yaml.safe_load(example.read_text()))
    with pytest.raises(ValidationError, match="Additional properties"):
        Draft202012Validator(schema).validate({**default_spec_data(), "bogus": 1})


def test_reference_and_margin_are_checked_with_the_rest(tmp_path, capsys):
    """The CNI every other is compared with must be one of cnis; the equivalence margin is a fraction in (0, 1)."""
    from cnibench import cli

    path = tmp_path / "bad.yaml"
    path.write_text(
        "version: 1\nname: x\ncnis: [hostgw, vxlan]\nreference: cilium\nmargin: 1.5\nscenarios: {egress: {}}\n"
    )
    assert cli.main(["plan", str(path)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert "reference (line 4): 'cilium' is not one of cnis (hostgw, vxlan)" in err
    assert "margin (line 5): Input should be less than 1" in err
    good = tmp_path / "good.yaml"
    good.write_text(
        "version: 1\nname: x\ncnis: [hostgw, vxlan]\nreference: vxlan\nmargin: 0.02\nscenarios: {egress: {}}\n"
    )
    spec, _ = load_spec(good)
    assert spec.reference == "vxlan" and spec.margin == 0.02


# ---- issue 25: YAML merge keys, an integer bitrate, overrides, independent errors all at once ---------------------


def test_a_yaml_merge_key_merges_and_keys_beside_it_win(tmp_path):
    spec_file = tmp_path / "merge.yaml"
    spec_file.write_text(
        "version: 1\nname: merge\nplatform: netns\ncnis: [hostgw]\n"
        "scenarios:\n"
        "  egress: &short\n    duration: 2\n    omit: 1\n    repetitions: 1\n"
        "  east-west:\n    <<: *short\n    repetitions: 2\n    paths: [pod-to-pod]\n"
    )
    spec, _ = load_spec(spec_file)
    east_west = spec.scenarios.get("east-west")
    assert (east_west.duration, east_west.omit, east_west.repetitions) == (2, 1, 2)
    spec_file.write_text(spec_file.read_text().replace("    paths: [pod-to-pod]\n", "    omitt: 3\n"))
    with pytest.raises(SpecError, match=r"scenarios\.east-west\.omitt \(line 13\): unknown key 'omitt'"):
        load_spec(spec_file)


def test_a_merged_key_that_is_wrong_names_the_line_it_came_from(tmp_path):
    spec_file = tmp_path / "merge.yaml"
    spec_file.write_text(
        "version: 1\nname: merge\nplatform: netns\ncnis: [hostgw]\n"
        "scenarios:\n"
        "  egress: &short\n    duration: 2\n    omit: 1\n"
        "  ingress:\n    <<: *short\n    vus: 0\n"
    )
    with pytest.raises(SpecError) as raised:
        load_spec(spec_file)
    assert "scenarios.ingress.vus (line 11): Input should be greater than 0" in str(raised.value)
    assert "scenarios.ingress.omit (line 8): unknown key 'omit'" in str(raised.value)  # ingress has no warm-up


@pytest.mark.parametrize(("section", "extra"), [("egress", {"protocol": "udp"}), ("east-west", {"protocols": ["udp"]})])
def test_an_integer_bitrate_is_its_text(section, extra):
    data = default_spec_data()
    data["scenarios"][section] = {**data["scenarios"].get(section, {}), **extra, "bitrate": 0}
    assert parse_spec(data).scenarios.get(section).bitrate == "0"
    data["scenarios"][section]["bitrate"] = 1000000
    assert parse_spec(data).scenarios.get(section).bitrate == "1000000"
    data["scenarios"][section]["bitrate"] = 1.5
    with pytest.raises(SpecError, match=rf"scenarios\.{section}\.bitrate: Input should be a valid string"):
        parse_spec(data)


def test_an_override_out_of_range_names_the_option_not_a_line(capsys):
    from cnibench.cli import main

    assert main(["plan", str(ROOT / "examples" / "local.yaml"), "--repeat", "99999999", "--rounds", "51"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"cnibench: error: {ROOT / 'examples' / 'local.yaml'}: rounds (from --rounds 51): Input should be less than "
        "or equal to 50; scenarios.egress.repetitions (from --repeat 99999999): Input should be less than or equal "
        "to 1000; scenarios.ingress.repetitions (from --repeat 99999999): Input should be less than or equal to "
        "1000\n"
    )


def test_independent_cross_field_errors_come_in_one_attempt(tmp_path):
    """Three errors that three different checks find (the egress adapter's, the ingress adapter's, the ingress
    scenario's) are reported together: before, one per attempt."""
    spec_file = tmp_path / "three.yaml"
    spec_file.write_text(
        "version: 1\nname: three\nplatform: netns\ncnis: [hostgw, vxlan]\n"
        "scenarios:\n  egress:\n    egress_ip: 10.244.1.5\n  ingress:\n    lb_ip: 10.0.0.1\n    backends: 500\n"
    )
    with pytest.raises(SpecError) as raised:
        load_spec(spec_file)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(
        f"{spec_file}: scenarios.egress.egress_ip (line 7): 10.244.1.5 is inside network.pod_cidr"
    )
    assert "; scenarios.ingress.lb_ip (line 9): 10.0.0.1 must be a free address of network.node_cidr" in message
    assert message.endswith("; scenarios.ingress.backends (line 10): 500 backends do not fit on 2 workers "
                            "(110 pods per node: at most 220)")  # fmt: skip
