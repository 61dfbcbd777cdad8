"""Where clusters run. ``netns`` is the embedded local platform; ``kind`` and ``kubeconfig`` run on Kubernetes."""

from __future__ import annotations

from cnibench.platforms.base import Platform


def get_platform(name: str, *, keep: bool = False) -> Platform:
    """The platform called ``name``; ``keep`` leaves what a Kubernetes run created in place (``--keep``)."""
    if name == "netns":
        from cnibench.platforms.netns.platform import NetnsPlatform

        return NetnsPlatform()
    from cnibench.platforms.kube.platform import KubePlatform

    return KubePlatform(name, keep=keep)
