# The one helper every module of the collection goes through: the modules are thin, the work is a function of the
# cnibench package (a task: see cnibench.orchestration.tasks; each family of platforms registers its own in
# cnibench.platforms.TASKS, typed and unit-tested) that takes the module's parameters and returns its result. This
# helper looks it up (one clear failure when cnibench is not importable by the module's interpreter), turns
# cnibench's errors into fail_json, and tags every result with what it is (`kind`), which is how cnibench's event
# handler recognises a result: never by its shape.
from __future__ import annotations

from typing import Any

from ansible.module_utils.basic import AnsibleModule

#: kubeconfig file and context (None: kubectl's defaults) and cnibench's namespace.
KUBECTL_ARGS = {
    "kubeconfig": {"type": "str"},
    "context": {"type": "str"},
    "namespace": {"type": "str", "required": True},
}


def run_task(
    name: str, argument_spec: dict[str, Any], *, check_mode: bool = False, required_if: list[Any] | None = None
) -> None:
    """Run the task registered as ``name`` (:data:`cnibench.platforms.TASKS`) with the module's parameters.

    The function returns the result's fields (``changed`` among them) and its ``kind``; a ``CnibenchError`` (or an
    ``OSError`` starting a tool) becomes ``fail_json`` with its message.
    """
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=check_mode, required_if=required_if)
    try:
        from cnibench.errors import CnibenchError
        from cnibench.platforms import TASKS
    except ImportError as exc:
        module.fail_json(msg=f"cnibench is not importable by {module._name}'s interpreter: {exc}")
    try:
        result = TASKS.get(name)(module.params)
    except CnibenchError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg=f"{name}: {exc}")
    module.exit_json(**result)
