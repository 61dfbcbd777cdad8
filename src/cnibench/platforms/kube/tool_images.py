"""The pod images cnibench builds itself: a tool no maintained public image carries (sockperf, the ``rr`` workload's).

Each is a Dockerfile in the package (``platforms/kube/dockerfiles/<tool>/Dockerfile``), from a base pinned by digest
with the tool's Debian package at a pinned version (:mod:`cnibench.pins`). Where it comes from on each platform:

* **kind**: cnibench builds it on this machine (``docker build``: :func:`cnibench.platforms.kube.images.preload`)
  under a local name, :func:`local_image` (``localhost/cnibench/sockperf:3.7-1-<12 hex>``: the package version and
  the start of the Dockerfile's SHA-256, so an edited Dockerfile is a new image), loads it into the nodes like the
  pulled images and records its image ID in environment.json. Its pods never pull it (``imagePullPolicy: Never``):
  the name is in no registry (``localhost/`` makes it one no pull could ever reach on Docker Hub).
* **kubeconfig, AKS**: the nodes pull from a registry, not from this machine: the user builds the Dockerfile, pushes
  it and names it in the spec (``kubernetes.sockperf_image``, ``name@sha256:<64 hex>``); without it ``rr`` is
  refused (:data:`SOCKPERF_NEEDED`). kind uses that image too when it is given (pulled and preloaded).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from cnibench import pins

DOCKERFILES = Path(__file__).resolve().parent / "dockerfiles"
#: tool -> (its build context, the Debian package version its Dockerfile installs)
TOOLS = {"sockperf": (DOCKERFILES / "sockperf", pins.SOCKPERF_PACKAGE_VERSION)}
LOCAL_PREFIX = "localhost/cnibench/"
#: The refusal on a platform whose nodes cannot get an image from this machine (``{platform}``: its name).
SOCKPERF_NEEDED = (
    "rr on {platform} needs a pod image with sockperf the nodes can pull: build "
    "src/cnibench/platforms/kube/dockerfiles/sockperf/Dockerfile, push it to a registry the cluster reaches and set "
    "this to name@sha256:<64 hex> (README: rr on Kubernetes)"
)
_FROM = re.compile(r"^FROM\s+(?P<image>\S+)\s*$", re.MULTILINE)
_PACKAGE = re.compile(r"\b(?P<name>[a-z0-9][a-z0-9+.-]+)=(?P<version>[0-9][A-Za-z0-9.+~-]*)\b")


def dockerfile(tool: str) -> Path:
    """The Dockerfile of ``tool`` (a key of :data:`TOOLS`). Raises KeyError for another tool."""
    return TOOLS[tool][0] / "Dockerfile"


def dockerfile_sha256(tool: str) -> str:
    """The SHA-256 (hex) of ``tool``'s Dockerfile as shipped: what the local image's tag and the run's record name."""
    return hashlib.sha256(dockerfile(tool).read_bytes()).hexdigest()


def local_image(tool: str) -> str:
    """The name kind's build of ``tool`` gets: ``localhost/cnibench/sockperf:3.7-1-<first 12 hex of the
    Dockerfile's SHA-256>``."""
    return f"{LOCAL_PREFIX}{tool}:{TOOLS[tool][1]}-{dockerfile_sha256(tool)[:12]}"


def build_context(image: str) -> Path | None:
    """The build context of ``image`` when it is one of cnibench's local builds (:func:`local_image`), else None
    (a registry's image: pulled)."""
    for tool, (context, _) in TOOLS.items():
        if image == local_image(tool):
            return context
    return None


def dockerfile_pins(text: str) -> tuple[list[str], dict[str, str]]:
    """A Dockerfile's ``FROM`` images and the ``name=version`` packages it installs: what the tests hold against
    :mod:`cnibench.pins`."""
    images = [m.group("image") for m in _FROM.finditer(text)]
    code = " ".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    packages = {m.group("name"): m.group("version") for m in _PACKAGE.finditer(code)}
    return images, packages


def sockperf_facts(image: str, *, built_here: bool) -> dict[str, str]:
    """What environment.json records about the rr image before the run: the image, and for a local build its
    Dockerfile's hash, base and package (kind adds the built image's ID at run time)."""
    if not built_here:
        return {"image": image, "source": "kubernetes.sockperf_image"}
    return {
        "image": image,
        "source": "built here from the package's Dockerfile",
        "dockerfile": str(dockerfile("sockperf").relative_to(DOCKERFILES.parents[2])),
        "dockerfile_sha256": dockerfile_sha256("sockperf"),
        "base": pins.SOCKPERF_BASE_IMAGE,
        "package": f"sockperf={pins.SOCKPERF_PACKAGE_VERSION}",
    }
