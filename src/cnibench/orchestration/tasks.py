"""What a module of the Ansible collection ``cnibench.bench`` does, as cnibench sees it: a *task*, a function from the
module's parameters to its result.

The modules themselves are thin (``module_utils/cnibench.py``: ``run_task(<name>, <argument spec>)``); each runs the
task that its platform family registers under the module's name (in ``TASKS``, beside the registry of platform
classes), typed and unit-tested there: this layer names no platform. Every result says what it is (``kind``, one of
:data:`KINDS`): the run's event handler recognises a measurement, a cluster's facts or a ready Prometheus by that
field, never by the shape of the result. A task raises :class:`~cnibench.errors.CnibenchError` when it fails (the
module turns it into ``fail_json``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

Params = dict[str, Any]
Result = dict[str, Any]
#: A module's work: its parameters in, its result out.
Task = Callable[[Params], Result]
#: What a module's result is: a repetition's measurement, facts about a CNI's cluster, Prometheus scraping every
#: node, or something that was done (applied, started, removed, waited for).
Kind = Literal["measurement", "cluster_facts", "metrics_ready", "done"]
KINDS: tuple[Kind, ...] = ("measurement", "cluster_facts", "metrics_ready", "done")


def done(changed: bool, **fields: Any) -> Result:
    """The result of a task that did something (``changed``: whether it changed anything), with its ``fields``."""
    return {"kind": "done", "changed": changed, **fields}


def cluster_facts(cni: str, facts: dict[str, Any], *, changed: bool = False, **fields: Any) -> Result:
    """The result of a task that learnt ``facts`` about the cluster of ``cni`` (recorded with the run)."""
    return {"kind": "cluster_facts", "changed": changed, "cni": cni, "facts": facts, **fields}
