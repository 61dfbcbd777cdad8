"""The netns platform (network namespaces on this machine)."""

from cnibench.platforms.netns import platform as _platform  # noqa: F401 - registers the platform
