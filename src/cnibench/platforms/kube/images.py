"""kind: every image a cluster runs from Docker Hub is pulled once on this machine and loaded into each cluster
(``kind load image-archive``), instead of every node of every CNI's cluster pulling it again.

Docker Hub allows anonymous users 10 pulls per hour per IPv4 address or IPv6 /64 (docker/docs,
content/manuals/docker-hub/usage/_index.md, since docker/docs#21494 and #22134; it was 100 per 6 h before 2025): a
two-CNI run on 3 nodes would otherwise pull each image up to six times. Images are saved for this machine's platform
only and loaded as an archive: ``kind load docker-image`` fails with "content digest ... not found" for
multi-platform images when Docker uses the containerd image store (kubernetes-sigs/kind#3795, open; the workaround
documented by kind#4247 is ``docker image save --platform`` + ``kind load image-archive``).

The images cnibench builds itself (:mod:`cnibench.platforms.kube.tool_images`: the rr workload's sockperf) are built
here instead of pulled (``docker build``, for the daemon's own platform) and loaded the same way; their image ID is
recorded, as they have no registry digest.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from cnibench.errors import PlatformError
from cnibench.platforms.kube.tool_images import build_context
from cnibench.proc import CommandError, run

#: ``docker version`` reports Go's architecture names, which are the OCI platform's (linux/amd64, linux/arm64).
_ARCH = re.compile(r"^[a-z0-9]+$")


def archive_name(image: str) -> str:
    """A file name for an image reference: ``prom/prometheus:v3.14.0`` -> ``prom_prometheus_v3.14.0.tar``."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", image) + ".tar"


def server_platform() -> str:
    """The Docker daemon's platform, e.g. ``linux/amd64`` (kind's nodes run on it)."""
    arch = run(["docker", "version", "--format", "{{.Server.Arch}}"], timeout=60).stdout.strip()
    if not _ARCH.match(arch):
        raise PlatformError(f"docker version: unexpected server architecture {arch!r}")
    return f"linux/{arch}"


def ensure_pulled(image: str, platform: str) -> bool:
    """Pull ``image`` unless Docker has it already (an inspect does not count as a pull); True if it pulled."""
    try:
        run(["docker", "image", "inspect", "--format", "{{.Id}}", image], timeout=60)
        return False
    except CommandError:
        pass
    try:
        run(["docker", "pull", "--platform", platform, image], timeout=1800)
    except CommandError as exc:
        raise PlatformError(f"docker pull {image} failed: {exc.detail or exc.returncode}") from None
    return True


def ensure_built(image: str, context: Path) -> bool:
    """Build ``image`` from the Dockerfile in ``context`` unless Docker has it already (its tag carries the
    Dockerfile's hash: the same name is the same Dockerfile); True if it built. Raises PlatformError with Docker's
    complaint."""
    try:
        run(["docker", "image", "inspect", "--format", "{{.Id}}", image], timeout=60)
        return False
    except CommandError:
        pass
    try:
        run(["docker", "build", "--tag", image, str(context)], timeout=1800)
    except CommandError as exc:
        raise PlatformError(f"docker build {image} from {context} failed: {exc.detail or exc.returncode}") from None
    return True


def image_id(image: str) -> str:
    """Docker's ID of ``image`` (``sha256:<64 hex>``: its config's digest)."""
    return run(["docker", "image", "inspect", "--format", "{{.Id}}", image], timeout=60).stdout.strip()


def repo_digest(image: str) -> str | None:
    """The registry digest Docker recorded for ``image`` (``name@sha256:...``), or None for a local build."""
    out = run(["docker", "image", "inspect", "--format", "{{json .RepoDigests}}", image], timeout=60).stdout
    try:
        digests = json.loads(out) or []
    except ValueError:
        return None
    return str(digests[0]) if digests else None


def save(image: str, archive: Path, platform: str) -> None:
    """``docker image save`` of this platform only; Docker before 28 has no ``--platform`` there (and its classic
    image store keeps one platform anyway), so without it then."""
    argv = ["docker", "image", "save", "--output", str(archive), image]
    try:
        run([*argv[:3], "--platform", platform, *argv[3:]], timeout=1800)
    except CommandError as exc:
        if "unknown flag" not in (exc.stderr or ""):  # Docker < 28: "unknown flag: --platform"
            raise PlatformError(f"docker image save {image} failed: {exc.detail or exc.returncode}") from None
        run(argv, timeout=1800)


@dataclass(frozen=True)
class Preloaded:
    """What a preload recorded (environment.json): image -> registry digest (None for a local build), and the
    images built here -> their image ID."""

    digests: dict[str, str | None] = field(default_factory=dict)
    built: dict[str, str] = field(default_factory=dict)


def preload(cluster: str, images: list[str], archive_dir: Path) -> Preloaded:
    """Pull what is missing (build cnibench's own images instead: :func:`ensure_built`), save each image once
    (archives in ``archive_dir`` are reused by the run's next clusters) and load them into ``cluster``'s nodes.
    Returns the registry digests and the built images' IDs (for environment.json).

    Raises PlatformError naming the image that could not be pulled, built, saved or loaded."""
    if not images:
        return Preloaded()
    platform = server_platform()
    archive_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    digests: dict[str, str | None] = {}
    built: dict[str, str] = {}
    for image in images:
        context = build_context(image)
        if context is not None:
            ensure_built(image, context)
            built[image] = image_id(image)
        else:
            ensure_pulled(image, platform)
        digests[image] = repo_digest(image)
        archive = archive_dir / archive_name(image)
        if not archive.exists():
            partial = archive.with_suffix(".partial")
            save(image, partial, platform)
            partial.replace(archive)
        try:
            run(["kind", "load", "image-archive", str(archive), "--name", cluster], timeout=1800)
        except CommandError as exc:
            raise PlatformError(f"kind load image-archive {image} into {cluster} failed: {exc.detail}") from None
    return Preloaded(digests, built)
