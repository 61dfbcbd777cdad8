"""The pod image cnibench ships as a Dockerfile (the rr workload's sockperf): its base pinned by digest and its
package by version, the same as :mod:`cnibench.pins` and as the sockperf the netns platform runs here; its local name
on kind; and that the package ships it."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from cnibench import pins
from cnibench.platforms.kube import tool_images

ROOT = Path(__file__).resolve().parents[4]
#: A Debian image of one day (a dated tag, never re-pushed) by its index digest.
DATED_DEBIAN = re.compile(r"^debian:bookworm-20[0-9]{6}-slim@sha256:[0-9a-f]{64}$")
#: A Debian package version: [epoch:]upstream[-revision] (Debian Policy 5.6.12).
DEBIAN_VERSION = re.compile(r"^([0-9]+:)?[0-9][A-Za-z0-9.+~]*(-[A-Za-z0-9.+~]+)?$")


def test_the_dockerfile_pins_the_base_by_digest_and_sockperf_by_version_as_pins_says():
    images, packages = tool_images.dockerfile_pins(tool_images.dockerfile("sockperf").read_text())
    assert images == [pins.SOCKPERF_BASE_IMAGE] and DATED_DEBIAN.match(pins.SOCKPERF_BASE_IMAGE)
    assert packages == {"sockperf": pins.SOCKPERF_PACKAGE_VERSION}
    assert DEBIAN_VERSION.match(pins.SOCKPERF_PACKAGE_VERSION)


def test_the_shape_checks_refuse_what_is_not_pinned():
    text = "FROM debian:bookworm-slim\nRUN apt-get install -y sockperf\n"
    images, packages = tool_images.dockerfile_pins(text)
    assert not DATED_DEBIAN.match(images[0]) and packages == {}
    assert not DEBIAN_VERSION.match("latest")


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="not Debian")
def test_the_pinned_package_is_the_sockperf_netns_runs_here():
    """netns runs Debian 12's sockperf on this machine: the pods run the same package version."""
    found = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "sockperf"], capture_output=True, text=True,
                           check=False)  # fmt: skip
    if found.returncode != 0:
        pytest.skip("sockperf is not installed here")
    assert found.stdout.strip() == pins.SOCKPERF_PACKAGE_VERSION


def test_kinds_local_name_carries_the_version_and_the_dockerfiles_hash(tmp_path, monkeypatch):
    image = tool_images.local_image("sockperf")
    assert re.fullmatch(r"localhost/cnibench/sockperf:3\.7-1-[0-9a-f]{12}", image)
    assert tool_images.build_context(image) == tool_images.dockerfile("sockperf").parent
    assert tool_images.build_context("nicolaka/netshoot:v0.16") is None
    edited = tmp_path / "sockperf"
    edited.mkdir()
    (edited / "Dockerfile").write_text(tool_images.dockerfile("sockperf").read_text() + "# edited\n")
    monkeypatch.setitem(tool_images.TOOLS, "sockperf", (edited, pins.SOCKPERF_PACKAGE_VERSION))
    assert tool_images.local_image("sockperf") != image  # an edited Dockerfile is another image


def test_the_package_ships_the_dockerfile():
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["cnibench"]
    shipped = str(tool_images.dockerfile("sockperf").relative_to(ROOT / "src" / "cnibench"))
    assert any(fnmatch.fnmatch(shipped, pattern) for pattern in globs)
