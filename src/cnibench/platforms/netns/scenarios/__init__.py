"""What each scenario deploys on the netns platform (one adapter module per scenario, in :data:`ADAPTERS`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnibench.registry import Registry

if TYPE_CHECKING:
    from cnibench.platforms.netns.scenarios.base import NetnsAdapter

ADAPTERS: Registry[NetnsAdapter[Any]] = Registry("scenario on the netns platform", __name__)
