"""What each scenario deploys on the Kubernetes platforms (one adapter module per scenario, in :data:`ADAPTERS`),
each with its role in the collection (the playbook includes the role a step names: it names no scenario)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnibench.registry import Registry

if TYPE_CHECKING:
    from cnibench.platforms.kube.scenarios.base import KubeAdapter

ADAPTERS: Registry[KubeAdapter[Any]] = Registry("scenario on the Kubernetes platforms", __name__)
