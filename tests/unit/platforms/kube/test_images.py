"""kind's image preload with stand-ins for docker and kind (neither can run here) that keep an image store in a file
and log every call: a two-CNI run pulls each image once and loads it into each cluster."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from cnibench.errors import PlatformError
from cnibench.platforms.kube import images

FAKE = r'''#!{python}
"""docker or kind as far as the preload uses them; state in $FAKE_STORE, calls in $FAKE_LOG."""
import json, os, sys
name, args = os.path.basename(sys.argv[0]), sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(name + " " + " ".join(args) + "\n")
store = os.environ["FAKE_STORE"]
pulled = set(open(store).read().split()) if os.path.exists(store) else set()
if name == "kind":
    sys.exit(0 if args[:2] == ["load", "image-archive"] and os.path.exists(args[2]) else 1)
if args[:1] == ["version"]:
    print("amd64")
elif args[:2] == ["image", "inspect"]:
    image = args[-1]
    if image not in pulled:
        print("Error response from daemon: No such image: " + image, file=sys.stderr)
        sys.exit(1)
    local = image.startswith("localhost/")  # a local build has no registry digest; its ID is its config's digest
    if "RepoDigests" in args[3]:
        print(json.dumps([] if local else [image.split(":")[0] + "@sha256:" + "ab" * 32]))
    else:
        print("sha256:" + ("cd" if local else "01") * 32)
elif args[:1] == ["build"]:
    if not os.path.isfile(os.path.join(args[-1], "Dockerfile")):
        print("ERROR: failed to solve: failed to read dockerfile: open Dockerfile: no such file", file=sys.stderr)
        sys.exit(1)
    pulled.add(args[args.index("--tag") + 1])
    open(store, "w").write("\n".join(sorted(pulled)))
elif args[:1] == ["pull"]:
    if "missing" in args[-1]:
        print("Error response from daemon: manifest unknown", file=sys.stderr)
        sys.exit(1)
    pulled.add(args[-1])
    open(store, "w").write("\n".join(sorted(pulled)))
elif args[:2] == ["image", "save"]:
    if os.environ.get("FAKE_OLD_DOCKER") and "--platform" in args:
        print("unknown flag: --platform", file=sys.stderr)
        sys.exit(125)
    open(args[args.index("--output") + 1], "w").write("tar")
'''


@pytest.fixture
def fakes(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("docker", "kind"):
        (bindir / name).write_text(FAKE.format(python=sys.executable))
        (bindir / name).chmod(0o755)
    log = tmp_path / "calls.log"
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_LOG", str(log))
    monkeypatch.setenv("FAKE_STORE", str(tmp_path / "store"))
    return log


def test_a_two_cni_run_pulls_each_image_once_and_loads_it_into_each_cluster(tmp_path, fakes):
    archives = tmp_path / "state" / "images"
    shared = ["nicolaka/netshoot:v0.16", "prom/prometheus:v3.14.0"]
    first = images.preload("cnib0000-antrea", ["antrea/antrea-agent-ubuntu:v2.7.0", *shared], archives)
    second = images.preload("cnib0000-cilium", shared, archives)
    calls = fakes.read_text().splitlines()
    pulls = [c for c in calls if c.startswith("docker pull")]
    assert pulls == [
        "docker pull --platform linux/amd64 antrea/antrea-agent-ubuntu:v2.7.0",
        "docker pull --platform linux/amd64 nicolaka/netshoot:v0.16",
        "docker pull --platform linux/amd64 prom/prometheus:v3.14.0",
    ]
    saves = [c for c in calls if c.startswith("docker image save")]
    assert len(saves) == 3 and all("--platform linux/amd64" in c for c in saves)  # kind#3795: one platform only
    loads = [c.split()[3:] for c in calls if c.startswith("kind load")]
    assert [(Path(a).name, name) for a, _, name in loads] == [
        ("antrea_antrea-agent-ubuntu_v2.7.0.tar", "cnib0000-antrea"),
        ("nicolaka_netshoot_v0.16.tar", "cnib0000-antrea"),
        ("prom_prometheus_v3.14.0.tar", "cnib0000-antrea"),
        ("nicolaka_netshoot_v0.16.tar", "cnib0000-cilium"),
        ("prom_prometheus_v3.14.0.tar", "cnib0000-cilium"),
    ]
    assert first.digests["nicolaka/netshoot:v0.16"] == "nicolaka/netshoot@sha256:" + "ab" * 32
    assert second.digests == {image: first.digests[image] for image in shared} and not first.built


def test_the_sockperf_image_is_built_from_the_packaged_dockerfile_once_and_loaded_into_each_cluster(tmp_path, fakes):
    from cnibench.platforms.kube.tool_images import dockerfile, local_image

    image = local_image("sockperf")
    archives = tmp_path / "images"
    first = images.preload("cnib0000-antrea", [image, "nicolaka/netshoot:v0.16"], archives)
    second = images.preload("cnib0000-cilium", [image], archives)
    calls = fakes.read_text().splitlines()
    assert [c for c in calls if c.startswith("docker build")] == [
        f"docker build --tag {image} {dockerfile('sockperf').parent}"
    ]
    assert not [c for c in calls if c.startswith("docker pull") and c.endswith(image)]  # never pulled: no registry
    assert first.built == second.built == {image: "sha256:" + "cd" * 32} and first.digests[image] is None
    archive = images.archive_name(image)
    loads = [c.split()[-1] for c in calls if c.startswith("kind load") and Path(c.split()[3]).name == archive]
    assert loads == ["cnib0000-antrea", "cnib0000-cilium"]


def test_docker_before_28_saves_without_platform(tmp_path, fakes, monkeypatch):
    monkeypatch.setenv("FAKE_OLD_DOCKER", "1")
    images.preload("c", ["traefik/whoami:v1.11.0"], tmp_path / "images")
    saves = [c for c in fakes.read_text().splitlines() if c.startswith("docker image save")]
    assert len(saves) == 2 and "--platform" not in saves[1]
    assert (tmp_path / "images" / "traefik_whoami_v1.11.0.tar").is_file()


def test_an_image_that_cannot_be_pulled_is_named(tmp_path, fakes):
    with pytest.raises(PlatformError, match=r"docker pull example/missing:v1 failed: .*manifest unknown"):
        images.preload("c", ["example/missing:v1"], tmp_path / "images")
