"""A datapath's configuration as the run records it and the checks made on it before anything is measured: the
MTU a pod interface may have under an encapsulation, and the differences ``compare`` flags between two runs.
Platform-blind: the netns platform and the Kubernetes platforms fill in the figures."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: What a wrong MTU did to a published WireGuard run (cilium PR #30329: 102 Mbit/s, 656 once fixed).
MTU_EVIDENCE = "a WireGuard run with the wrong MTU measured 102 instead of 656 Mbit/s (cilium PR #30329)"

#: The environment key (per CNI, under ``clusters``) holding the configuration ``compare`` compares.
CONFIG_KEY = "datapath_config"
#: The environment key (per CNI, under ``clusters``) holding the configuration read back from the running datapath
#: (a Kubernetes variant's encryption as its agents report it); ``compare`` compares it too.
EFFECTIVE_KEY = "effective_config"
#: The environment key (per CNI, under ``clusters``) holding the warnings about it.
WARNINGS_KEY = "configuration_warnings"
#: The environment key (per CNI, under ``clusters``) holding what was wrong with the configuration read back.
EFFECTIVE_WARNINGS_KEY = "effective_warnings"


def path_mtu(underlay_mtu: int, overhead: int) -> int:
    """The largest pod packet (bytes) that crosses the underlay whole after ``overhead`` bytes of encapsulation."""
    return underlay_mtu - overhead


def mtu_problem(pod_mtu: int, underlay_mtu: int, overhead: int, encapsulation: str = "encapsulation") -> str | None:
    """A line when ``pod_mtu`` is above the underlay's MTU minus ``overhead`` bytes of ``encapsulation`` (a
    full-size pod packet no longer fits once encapsulated: it is fragmented or dropped), else None."""
    fits = path_mtu(underlay_mtu, overhead)
    if pod_mtu <= fits:
        return None
    return (
        f"pod MTU {pod_mtu} is above the underlay MTU {underlay_mtu} minus {overhead} bytes of {encapsulation} "
        f"({fits}): full-size packets are fragmented or dropped and the numbers measure that, not the datapath "
        f"({MTU_EVIDENCE})"
    )


def config_differences(name: str, a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> list[str]:
    """What differs between two recorded configurations of CNI ``name`` (:data:`CONFIG_KEY`), one line per key:
    ``vxlan datapath pod_mtu: 1450 vs 1400``. Nothing when either run did not record one (an older run)."""
    if not isinstance(a, Mapping) or not isinstance(b, Mapping):
        return []
    return [
        f"{name} datapath {key}: {a.get(key)} vs {b.get(key)}"
        for key in sorted(set(a) | set(b))
        if a.get(key) != b.get(key)
    ]


def describe(config: Mapping[str, Any]) -> str:
    """A configuration in one line for the report: ``key value, key value`` in its order."""
    return ", ".join(f"{key} {_text(value)}" for key, value in config.items())


def _text(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)
