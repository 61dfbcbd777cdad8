"""Where clusters run: one class per platform, in :data:`PLATFORMS` (``netns``: the embedded local platform;
``kind``, ``kubeconfig``, ``aks``: Kubernetes), and the work of the Ansible collection's modules, in :data:`TASKS`.
A platform's family is a package (``platforms/<family>/``) whose modules register its platforms and its tasks when
imported: the registries discover them, no list names them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnibench.registry import Registry

if TYPE_CHECKING:
    from cnibench.orchestration.tasks import Task
    from cnibench.platforms.base import Platform

#: The platforms, the default first, then the Kubernetes ones from the local to the paid one.
PLATFORMS: Registry[type[Platform]] = Registry(
    "platform", __name__, first=("netns", "kube.kind", "kube.kubeconfig", "kube.aks"), nested=True
)
#: Ansible module name -> the function that does its work (``platforms/<family>/tasks.py``; only those modules are
#: imported: a module call imports what its own task needs, not every platform).
TASKS: Registry[Task] = Registry("Ansible task", __name__, nested=True, module="tasks")


def get_platform(name: str, *, keep: bool = False) -> Platform:
    """The platform called ``name`` (``keep``: leave what a run created in place). Raises UnknownName."""
    return PLATFORMS.get(name)(keep=keep)
