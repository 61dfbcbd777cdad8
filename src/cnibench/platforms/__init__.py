"""Where clusters run. ``netns`` is the embedded local platform."""

from __future__ import annotations

from cnibench.platforms.base import Platform


def get_platform(name: str) -> Platform:
    from cnibench.platforms.netns.platform import NetnsPlatform

    platforms: dict[str, Platform] = {"netns": NetnsPlatform()}
    return platforms[name]
