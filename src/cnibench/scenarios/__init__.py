"""Scenarios: what each one measures and verifies (one module each, registered in :data:`SCENARIOS`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from cnibench.registry import Registry

if TYPE_CHECKING:
    from cnibench.results.metric import MetricInfo
    from cnibench.scenarios.base import Scenario

#: The thesis's scenarios first (plans, summaries and reports list them in this order).
SCENARIOS: Registry[Scenario[Any, Any]] = Registry("scenario", __name__, first=("egress", "ingress"))


def scenario_of(trial: str) -> Scenario[Any, Any]:
    """The scenario a trial (``egress-baseline``, ``ingress``, ``egress@500M``) belongs to. Raises KeyError for an
    unknown one."""
    for scenario in SCENARIOS.values():
        if scenario.owns(trial):
            return scenario
    raise KeyError(f"no scenario has a trial {trial!r}")


def metrics_for(trial: str) -> tuple[MetricInfo, ...]:
    """The metrics statistics, reports and ``compare`` look at for one trial's samples."""
    return scenario_of(trial).metrics_of(trial)


def all_metrics() -> tuple[MetricInfo, ...]:
    """Every scenario's metrics, each once."""
    seen: dict[str, MetricInfo] = {}
    for scenario in SCENARIOS.values():
        for metric in (*scenario.metrics, *(scenario.rate_metrics or ())):
            seen.setdefault(metric.name, metric)
    return tuple(seen.values())


def metric_named(name: str) -> MetricInfo:
    """A metric by its sample field's name. Raises KeyError."""
    for metric in all_metrics():
        if metric.name == name:
            return metric
    raise KeyError(name)


def gateway_node(environment: dict[str, Any], cni: str, trial: str) -> str | None:
    """The node that carries a trial's gateway (the egress gateway, the LoadBalancer IP's owner), as the platform
    recorded it in the run's environment."""
    fact = scenario_of(trial).gateway_fact
    node = ((environment.get("clusters") or {}).get(cni) or {}).get(fact) if fact else None
    return str(node) if node else None


def parse_tools() -> dict[str, Scenario[Any, Any]]:
    """The tools whose raw output ``cnibench parse`` reads, each with its scenario (the first to name it)."""
    tools: dict[str, Scenario[Any, Any]] = {}
    for scenario in SCENARIOS.values():
        if scenario.parse_tool is not None:
            tools.setdefault(scenario.parse_tool, scenario)
    return tools


def trials_in(present: Iterable[str]) -> list[str]:
    """The trials among ``present``, in the scenarios' registry order (each scenario's fixed loads from the lowest
    offered rate)."""
    present = set(present)
    return [t for scenario in SCENARIOS.values() for t in scenario.ordered(sorted(present, key=_load_order))]


def _load_order(trial: str) -> tuple[float, str]:
    """Saturating trials first, then fixed loads from the lowest offered rate (the number in ``@500M``)."""
    from cnibench.scenarios.base import load_suffix

    suffix = load_suffix(trial)
    if not suffix:
        return (-1.0, trial)
    digits = "".join(ch for ch in suffix if ch.isdigit() or ch == ".")
    scale = {"K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}.get(suffix.rstrip("rps")[-1:], 1.0)
    try:
        return (float(digits) * scale, trial)
    except ValueError:
        return (0.0, trial)
