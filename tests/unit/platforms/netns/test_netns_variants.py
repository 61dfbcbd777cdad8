"""netns variants: a variant's settings reach the rendered cluster (MTU, ethtool steps) only for a variant, and the
configuration checks find a pod MTU the underlay cannot carry."""

from __future__ import annotations

from cnibench.platforms.netns.effective import (
    effective_problems,
    kernel_encryption,
    no_encryption,
    planned,
    planned_problems,
)
from cnibench.platforms.netns.render import render_cluster
from cnibench.platforms.netns.topology import Topology, build_topology


def _topo(**settings: object) -> Topology:
    return build_topology(prefix="cnib0001", datapath="vxlan", workers=2, node_cidr="172.18.0.0/24",
                          pod_cidr="10.244.0.0/16", external_cidr="203.0.113.0/24",
                          pods=[("a", "worker"), ("b", "worker2")], settings=settings)  # fmt: skip


def test_a_plain_datapath_renders_no_ethtool_step_and_its_topology_has_no_settings():
    topo = _topo()
    assert not [s for s in render_cluster(topo).apply if s.kind == "ethtool"]
    assert "datapath_settings" not in topo.to_dict() and planned_problems(topo) == []


def test_checksum_offload_off_is_an_ethtool_step_per_node_and_survives_the_topology_file():
    topo = _topo(checksum_offload=False)
    steps = [s for s in render_cluster(topo).apply if s.kind == "ethtool"]
    assert [s.content.strip() for s in steps] == ["-K cnib0001-vx tx off"] * 3
    again = Topology.from_dict(topo.to_dict())
    assert again.datapath.expected_offloads() == {"tx-checksumming": False}
    assert planned(again)["settings"] == {"mtu": 1450, "checksum_offload": False, "policy_representation": "chain"}


def test_a_pod_mtu_above_the_path_mtu_is_found_before_and_after_the_build():
    topo = _topo(mtu=1500)
    assert topo.pod_mtu == 1500 and planned(topo)["path_mtu"] == 1450
    assert planned_problems(topo)[0].startswith("pod MTU 1500 is above the underlay MTU 1500 minus 50 bytes")
    links = {n.netns: {topo.eth: 1500} for n in topo.nodes} | {p.netns: {topo.eth: 1500} for p in topo.pods}
    found = effective_problems(topo, links, {})
    assert len(found) == 2 and found[0].startswith("pod a on worker: pod MTU 1500")


def test_an_offload_read_back_that_is_not_the_variants_is_a_problem():
    topo = _topo(checksum_offload=False)
    links = {p.netns: {topo.eth: 1450} for p in topo.pods}
    found = effective_problems(topo, links, {topo.nodes[0].netns: {"tx-checksumming": True}})
    assert found == ["control-plane: tx-checksumming is on on the overlay device, the variant asks for off"]


def test_compare_flags_runs_whose_datapath_configuration_differs():
    from cnibench.datapath_config import config_differences

    a, b = planned(_topo()), planned(_topo(mtu=1400))
    assert config_differences("vxlan", a, b) == [
        "vxlan datapath pod_mtu: 1450 vs 1400",
        "vxlan datapath settings: {'mtu': 1450, 'checksum_offload': True, 'policy_representation': 'chain'} vs "
        "{'mtu': 1400, 'checksum_offload': True, 'policy_representation': 'chain'}",
    ]
    assert config_differences("vxlan", a, None) == []  # an older run recorded none


def test_the_kernels_encryption_is_read_from_its_own_config(tmp_path):
    import gzip

    config = tmp_path / "config.gz"
    config.write_bytes(gzip.compress(b"CONFIG_XFRM=y\n# CONFIG_INET_ESP is not set\n# CONFIG_WIREGUARD is not set\n"))
    modules = tmp_path / "module"
    modules.mkdir()
    assert kernel_encryption(config, modules) == {"WireGuard": "no", "IPsec ESP": "no"}
    line = no_encryption(kernel_encryption(config, modules))
    assert "has neither WireGuard (CONFIG_WIREGUARD is not set) nor IPsec ESP (CONFIG_INET_ESP is not set)" in line
    config.write_bytes(gzip.compress(b"CONFIG_WIREGUARD=m\nCONFIG_INET_ESP=y\n"))
    assert kernel_encryption(config, modules) == {"WireGuard": "m", "IPsec ESP": "y"}
    (modules / "wireguard").mkdir()
    assert kernel_encryption(tmp_path / "absent.gz", modules) == {"WireGuard": "loaded", "IPsec ESP": "unknown"}
    assert "cnibench builds none on netns" in no_encryption({"WireGuard": "y", "IPsec ESP": "no"})


def test_an_encryption_variant_on_netns_is_refused_in_one_line_saying_why():
    import pytest

    from cnibench.errors import SpecError
    from cnibench.spec import default_spec_data, parse_spec

    data = default_spec_data()
    data["cnis"] = ["vxlan", {"name": "vxlan-wg", "cni": "vxlan", "set": {"encryption": "wireguard"}}]
    with pytest.raises(SpecError) as caught:
        parse_spec(data, "spec.yaml")
    text = str(caught.value)
    assert "cnis[1].set.encryption: vxlan has no setting 'encryption': the netns datapaths have no encryption" in text
    assert text.endswith("; valid: mtu, checksum_offload, policy_representation") and "\n" not in text
    assert no_encryption(kernel_encryption()) in text  # what this kernel was found to have, whatever it is
