"""kubectl pointed at one cluster and cnibench's namespace, and the small helpers over its JSON that the run-time
parts share (an object or None, cnibench's label, placeholders filled at run time).

A thin wrapper over the kubectl binary on purpose: the playbook's roles use ``kubernetes.core`` for what they apply;
what the Python side reads is a handful of ``kubectl get -o json`` and ``kubectl exec`` calls, with the user's own
kubeconfig handling (exec plugins, contexts) exactly as kubectl does it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cnibench.errors import PlatformError
from cnibench.platforms.kube.render import MANAGED_BY
from cnibench.proc import run

_PLACEHOLDER = re.compile(r"@[a-z_]+@")


@dataclass(frozen=True)
class Kubectl:
    """kubectl pointed at one cluster (kubeconfig and context; None: kubectl's defaults) and cnibench's namespace."""

    kubeconfig: str | None
    context: str | None
    namespace: str

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Kubectl:
        """From a module's parameters (the collection's KUBECTL_ARGS)."""
        return cls(params.get("kubeconfig"), params.get("context"), str(params["namespace"]))

    def argv(self, *args: str, namespaced: bool = True) -> list[str]:
        base = ["kubectl"]
        if self.kubeconfig:
            base += ["--kubeconfig", self.kubeconfig]
        if self.context:
            base += ["--context", self.context]
        if namespaced:
            base += ["--namespace", self.namespace]
        return [*base, *args]

    def json(self, *args: str, namespaced: bool = True, timeout: float = 60) -> Any:
        """``kubectl <args> -o json``, parsed. Raises CommandError (kubectl failed) or PlatformError (not JSON)."""
        proc = run(self.argv(*args, "-o", "json", namespaced=namespaced), timeout=timeout)
        try:
            return json.loads(proc.stdout)
        except ValueError as exc:
            raise PlatformError(f"kubectl {' '.join(args)}: not JSON: {exc}") from None


def existing(kubectl: Kubectl, resource: str, name: str, *, namespace: str | None = None) -> dict[str, Any] | None:
    """The object, or None when there is none (``--ignore-not-found`` prints nothing then)."""
    args = ["get", resource, name, "--ignore-not-found", "--output", "json"]
    if namespace is not None:
        args += ["--namespace", namespace]
    out = run(kubectl.argv(*args, namespaced=False), timeout=60).stdout.strip()
    if not out:
        return None
    obj = json.loads(out)
    return obj if isinstance(obj, dict) else None


def managed_by_cnibench(obj: dict[str, Any]) -> bool:
    """The object carries cnibench's ``app.kubernetes.io/managed-by`` label (cnibench created it)."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return all(labels.get(key) == value for key, value in MANAGED_BY.items())


def substitute(argv: Sequence[str], values: dict[str, Any]) -> list[str]:
    """Fill ``@name@`` placeholders (values known only at run time, like the Gateway's address). Raises
    PlatformError for a placeholder without a value."""
    out: list[str] = []
    for arg in argv:
        for name, value in values.items():
            arg = arg.replace(f"@{name}@", str(value))
        if _PLACEHOLDER.search(arg):
            raise PlatformError(f"no value for the placeholder in {arg!r}")
        out.append(arg)
    return out
