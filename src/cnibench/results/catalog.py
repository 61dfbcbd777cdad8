"""The sample metrics that statistics, reports and comparisons look at: label, unit and which way is better."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class MetricInfo:
    name: str  # the sample field
    label: str
    unit: str
    scale: float  # value / scale is shown in ``unit``
    better: Literal["higher", "lower"]
    scenarios: tuple[str, ...]
    digits: int = 2

    def show(self, value: float | None) -> str:
        return "-" if value is None else f"{value / self.scale:,.{self.digits}f}"


EGRESS = ("egress-baseline", "egress")
INGRESS = ("ingress",)

METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("throughput_bps", "throughput", "Gbit/s", 1e9, "higher", EGRESS),
    MetricInfo("rtt_mean_us", "TCP RTT (mean)", "µs", 1.0, "lower", EGRESS, 0),
    MetricInfo("retransmits", "retransmits", "", 1.0, "lower", EGRESS, 0),
    MetricInfo("jitter_ms", "UDP jitter", "ms", 1.0, "lower", EGRESS, 3),
    MetricInfo("lost_percent", "UDP loss", "%", 1.0, "lower", EGRESS),
    MetricInfo("requests_per_s", "requests/s", "req/s", 1.0, "higher", INGRESS, 0),
    MetricInfo("latency_p50_ms", "latency p50", "ms", 1.0, "lower", INGRESS),
    MetricInfo("latency_p95_ms", "latency p95", "ms", 1.0, "lower", INGRESS),
    MetricInfo("latency_p99_ms", "latency p99", "ms", 1.0, "lower", INGRESS),
    MetricInfo("failed_rate", "failed requests", "%", 0.01, "lower", INGRESS),
    MetricInfo("jain_fairness", "backend fairness (Jain)", "", 1.0, "higher", INGRESS, 3),
)
BY_NAME = {m.name: m for m in METRICS}


def metrics_for(scenario: str) -> list[MetricInfo]:
    return [m for m in METRICS if scenario in m.scenarios]


def gateway_node(environment: dict[str, Any], cni: str, scenario: str) -> str | None:
    """The node that carries a scenario's gateway (egress gateway or the LoadBalancer IP's owner), as the
    platform recorded it in the run's environment."""
    facts = (environment.get("clusters") or {}).get(cni) or {}
    node = facts.get("ingress_gateway_node" if scenario in INGRESS else "egress_gateway_node")
    return str(node) if node else None
