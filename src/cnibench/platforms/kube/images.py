"""kind: every image a cluster runs from Docker Hub is pulled once on this machine and loaded into each cluster
(``kind load image-archive``), instead of every node of every CNI's cluster pulling it again.

Docker Hub allows anonymous users 10 pulls per hour per IPv4 address or IPv6 /64 (docker/docs,
content/manuals/docker-hub/usage/_index.md, since docker/docs#21494 and #22134; it was 100 per 6 h before 2025): a
two-CNI run on 3 nodes would otherwise pull each image up to six times. Images are saved for this machine's platform
only and loaded as an archive: ``kind load docker-image`` fails with "content digest ... not found" for
multi-platform images when Docker uses the containerd image store (kubernetes-sigs/kind#3795, open; the workaround
documented by kind#4247 is ``docker image save --platform`` + ``kind load image-archive``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from cnibench.errors import PlatformError
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


def preload(cluster: str, images: list[str], archive_dir: Path) -> dict[str, str | None]:
    """Pull what is missing, save each image once (archives in ``archive_dir`` are reused by the run's next
    clusters) and load them into ``cluster``'s nodes. Returns image -> registry digest (for environment.json).

    Raises PlatformError naming the image that could not be pulled, saved or loaded."""
    if not images:
        return {}
    platform = server_platform()
    archive_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    digests: dict[str, str | None] = {}
    for image in images:
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
    return digests
