"""Where clusters run: one class per platform, in :data:`PLATFORMS` (``netns``: the embedded local platform;
``kind``, ``kubeconfig``, ``aks``: Kubernetes). A platform's family's package registers it when imported."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnibench.registry import Registry

if TYPE_CHECKING:
    from cnibench.platforms.base import Platform

PLATFORMS: Registry[type[Platform]] = Registry("platform", __name__, first=("netns",))


def get_platform(name: str, *, keep: bool = False) -> Platform:
    """The platform called ``name`` (``keep``: leave what a run created in place). Raises UnknownName."""
    return PLATFORMS.get(name)(keep=keep)
