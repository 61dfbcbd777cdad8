"""The ingress scenario's spec section and the backends' names and placement, which the platforms' adapters deploy
(:mod:`cnibench.scenarios.ingress` says what the scenario measures)."""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from cnibench.scenarios.load import REQUESTS_PER_SECOND, LoadSettings, RateUnit
from cnibench.spec.base import LaxIPv4Address

NAME = "ingress"
TRIALS = (NAME,)
GATEWAY_NAME = "gateway"
#: Seconds a repetition may run past k6's own duration before it is killed: k6 itself stops iterations up to 30 s
#: after the duration (gracefulStop) and lets a request take 60 s (its timeout), then writes its summary.
TIMEOUT_MARGIN = 100.0
#: Pods that fit on a node: kubelet's default --max-pods.
MAX_PODS_PER_NODE = 110
_PATH = re.compile(r"^/[A-Za-z0-9._~/-]*$")


class IngressSettings(LoadSettings):
    """The thesis's ingress scenario: k6 outside the cluster -> LoadBalancer IP -> gateway -> echo backends. With
    ``load: rate``, k6's constant-arrival-rate executor offers each of ``rates`` (requests/s)."""

    rate_unit: ClassVar[RateUnit] = REQUESTS_PER_SECOND

    gateway: Literal["l7", "l4"] = Field(
        "l7",
        description="l7: an HTTP proxy (nginx) routing the path to the backends, per request, like a Gateway API "
        "gateway; l4: nftables DNAT to the backends, per connection, like a LoadBalancer service.",
    )
    backends: int = Field(3, ge=1, description="Echo backend pods, spread over the worker nodes.")
    vus: int = Field(
        20,
        gt=0,
        le=5000,
        description="k6 virtual users (load: rate: the least pre-allocated VUs; more for a high rate, see the README).",
    )
    duration: int = Field(10, gt=0, le=3600, description="Seconds of load per repetition.")
    reuse_connections: bool = Field(
        True, description="k6 keeps connections open (false: noConnectionReuse, a new connection per request)."
    )
    max_failed_rate: float = Field(
        0.0, ge=0.0, le=1.0, strict=False, description="A repetition fails when more requests than this fail."
    )
    port: int = Field(80, ge=1, le=65535, description="Listener port of the gateway.")
    path: str = Field("/echo", description="Path prefix routed to the backends (an HTTPRoute PathPrefix).")
    lb_ip: LaxIPv4Address | None = Field(
        None, description="LoadBalancer IP on the node network; default: its last host (like a MetalLB pool)."
    )

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not _PATH.match(value) or "//" in value:
            raise ValueError("must be an absolute URL path such as /echo (letters, digits, . _ ~ - /)")
        return value

    @property
    def target_url(self) -> str:
        """What k6 requests: the LoadBalancer IP, the listener's port and the route's path."""
        port = "" if self.port == 80 else f":{self.port}"
        return f"http://{self.lb_ip}{port}{self.path}"


def backend_names(count: int) -> list[str]:
    return [f"echo-{i}" for i in range(1, count + 1)]


def placement(count: int, workers: list[str]) -> list[tuple[str, str]]:
    """Backends spread over the workers round-robin (a topology spread constraint of skew 1)."""
    return [(name, workers[i % len(workers)]) for i, name in enumerate(backend_names(count))]
