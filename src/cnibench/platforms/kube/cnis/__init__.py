"""The CNIs cnibench benchmarks on Kubernetes: one descriptor module each, registered in :data:`CNIS` (discovered:
adding a CNI is adding its module, its pin in :mod:`cnibench.pins` and its tests)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnibench.registry import Registry

if TYPE_CHECKING:
    from cnibench.platforms.kube.cnis.base import Cni
    from cnibench.spec import Spec

CNIS: Registry[Cni] = Registry("CNI", __name__)


def spec_cni(spec: Spec, name: str) -> Cni:
    """The CNI ``name`` of ``spec`` (one of its :attr:`~cnibench.spec.model.Spec.cni_names`): its descriptor, as the
    variant's when it is one."""
    return CNIS.get(spec.base_cni(name)).variant(name, spec.cni_settings(name))
