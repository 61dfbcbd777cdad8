"""The CNIs cnibench benchmarks on Kubernetes: one descriptor module each, registered in :data:`CNIS` (discovered:
adding a CNI is adding its module, its pin in :mod:`cnibench.pins` and its tests)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnibench.registry import Registry

if TYPE_CHECKING:
    from cnibench.platforms.kube.cnis.base import Cni

CNIS: Registry[Cni] = Registry("CNI", __name__)
