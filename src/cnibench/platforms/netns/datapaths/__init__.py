"""The netns platform's datapaths, the CNI-neutral baselines it compares (one module each, in :data:`DATAPATHS`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnibench.registry import Registry

if TYPE_CHECKING:
    from cnibench.platforms.netns.datapaths.base import Datapath

DATAPATHS: Registry[Datapath] = Registry("datapath", __name__)
