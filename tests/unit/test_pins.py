"""The pinned versions and upstream facts in :mod:`cnibench.pins`, cross-checked against the pinned sources where
they are here offline: ../shared/schemas (the upstream files cnibench's manifests are validated against, with their
SOURCES.md) and ../shared/FACTS.md (facts checked against upstream, with their source). The kind Dockerfile itself is
not among them: its fact is recorded in pins.py with its source (kind images/base/Dockerfile at v0.31.0, commit
a323333f, line 173) and checked here against FACTS.md's record of it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cnibench import pins

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
pytestmark = pytest.mark.skipif(not (SHARED / "schemas" / "SOURCES.md").is_file(), reason="../shared not here")


def _pinned_set() -> dict[str, str]:
    """SOURCES.md's "Pinned set" line: project -> version (``**Cilium 1.19.4**`` -> cilium: 1.19.4)."""
    text = (SHARED / "schemas" / "SOURCES.md").read_text()
    line = text[text.index("Pinned set:") : text.index("## Files")]
    found = re.findall(r"\*\*([A-Za-z][A-Za-z ]*?) v?([0-9]+\.[0-9]+(?:\.[0-9]+)?)\*\*", line)
    return {name.strip().lower(): version for name, version in found}


@pytest.mark.parametrize(
    ("project", "pinned"),
    [
        ("cilium", pins.CILIUM),
        ("gateway api", pins.GATEWAY_API),
        ("antrea", pins.ANTREA),
        ("metallb", pins.METALLB),
        ("calico", pins.CALICO),
        ("flannel", pins.FLANNEL),
        ("envoy gateway", pins.ENVOY_GATEWAY),
    ],
)
def test_chart_versions_are_the_pinned_schemas(project, pinned):
    assert _pinned_set()[project] == pinned


def test_the_values_schemas_of_the_pinned_charts_are_there():
    assert (SHARED / "schemas" / "cilium" / "helm" / f"values.schema-{pins.CILIUM}.json").is_file()
    assert (SHARED / "schemas" / "metallb" / "helm" / f"values.schema-{pins.METALLB}.json").is_file()


def test_kind_node_image_cni_plugins_match_the_recorded_fact():
    """FACTS.md: "kind v0.31.0's base image has CNI plugins v1.8.0 (`images/base/Dockerfile`)"."""
    facts = " ".join((SHARED / "FACTS.md").read_text().split())
    found = re.search(r"kind v([0-9.]+)'s base image has CNI plugins v([0-9.]+)", facts)
    assert found is not None, "FACTS.md no longer records kind's CNI plugins"
    assert (found.group(1), found.group(2)) == (pins.KIND_VERSION, pins.KIND_NODE_CNI_PLUGINS_VERSION)
    assert pins.KIND_NODE_IMAGE.startswith("kindest/node:v1.35.0@sha256:")  # kind v0.31.0's default (image.go)


def test_envoy_proxy_image_is_known_for_the_pinned_envoy_gateway():
    assert pins.ENVOY_GATEWAY in pins.ENVOY_PROXY_BY_GATEWAY


def test_plugins_cnibench_mounts_are_the_ones_kinds_node_image_lacks():
    from cnibench.platforms.kube.cnis import CNIS

    mounted = {name for cni in CNIS.values() for name in cni.kind_cni_plugins}
    assert mounted and not mounted & set(pins.KIND_NODE_CNI_PLUGINS)  # Flannel's bridge: not in kind's image
