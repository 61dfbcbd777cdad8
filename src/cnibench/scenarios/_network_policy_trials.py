"""The network-policy scenario's spec section and its trials' names (:mod:`cnibench.scenarios.network_policy` says
what they measure).

**Names.** The scenario runs points of the east-west matrix (:mod:`cnibench.scenarios._east_west_matrix`: the pod
paths, same or cross node, TCP, workloads ``stream``, ``rr``, ``crr``) at several policy sizes; each (point, size) is
its own trial, the point's name and code with the size after ``@``:

* ``@no-policy``: no policy at all (the baseline every size is judged against):
  ``pod-to-pod.cross-node.tcp-rr@no-policy``, ``DT-RR@no-policy``;
* ``@0rules``: default-deny plus the one allow rule that matches the clients (one per server port);
* ``@<N>rules``: the same with N non-matching rules in front of it: ``pod-to-service.same-node.tcp-crr@100rules``,
  ``ST-CRR-SN@100rules``.

``@`` is the separator every scenario's trial variants use (:data:`cnibench.scenarios.base.LOAD_SEP`); a size is
not an offered load, and east-west's trials never end in ``rules`` or ``no-policy``.

The latency trials of the same scenario (programming latency: allow after deny, deny after allow, a new pod under
default-deny) are named in :data:`EVENT_TRIALS`, without a size.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator

from cnibench.scenarios._east_west_matrix import ALL_POINTS, EastWestSettings, Path_, Point, Streams
from cnibench.scenarios._east_west_rr import CRR_PORT, RR_PORTS
from cnibench.scenarios._policy_latency import EVENT_TRIALS as LATENCY_TRIALS
from cnibench.scenarios._policy_latency import PolicyLatencySettings
from cnibench.scenarios._policy_rules import MAX_RULES, Protocol
from cnibench.spec.base import FieldError
from cnibench.tools import iperf3
from cnibench.tools.workload import Workload

NAME = "network-policy"
NO_POLICY = "no-policy"
RULES = "rules"
#: The east-west paths a NetworkPolicy applies to (host-to-host is the host network: no pod, no policy).
POLICY_PATHS: tuple[Path_, ...] = ("pod-to-pod", "pod-to-service")
#: The points of the east-west matrix this scenario runs: pod paths, TCP (the denied probe and crr are TCP).
POLICY_POINTS: tuple[Point, ...] = tuple(p for p in ALL_POINTS if p.path in POLICY_PATHS and p.protocol == "tcp")
POINTS: dict[str, Point] = {p.trial: p for p in POLICY_POINTS}
#: The programming-latency trials (issue 30, item 2), run without a size: :mod:`cnibench.scenarios._policy_latency`.
EVENT_TRIALS: tuple[str, ...] = LATENCY_TRIALS
SIZE_RE = re.compile(rf"@({NO_POLICY}|(0|[1-9][0-9]*){RULES})")
#: A sample's trial: a point and its size, or an event trial.
TRIAL_PATTERN = (
    "^(("
    + "|".join(re.escape(p.trial) for p in POLICY_POINTS)
    + ")"
    + SIZE_RE.pattern
    + ("|" + "|".join(re.escape(t) for t in EVENT_TRIALS) if EVENT_TRIALS else "")
    + ")$"
)
#: The default sizes (issue 30: "N from the spec, default [10, 100, 1000]").
DEFAULT_SIZES = (10, 100, 1000)


def suffix(size: int | None) -> str:
    """``@no-policy`` (None) or ``@100rules``."""
    return f"@{NO_POLICY}" if size is None else f"@{size}{RULES}"


def trial_name(point: Point, size: int | None) -> str:
    """``pod-to-pod.cross-node.tcp-rr@100rules``."""
    return point.trial + suffix(size)


def trial_code(point: Point, size: int | None) -> str:
    """``DT-RR@100rules``, ``DTS-SN@no-policy``."""
    return point.code + suffix(size)


def split(trial: str) -> tuple[Point, int | None]:
    """A size trial's point and size (None: no policy). Raises KeyError for a trial that is not one."""
    base, sep, tail = trial.partition("@")
    if base not in POINTS or not sep or not SIZE_RE.fullmatch("@" + tail):
        raise KeyError(f"{trial!r} is no network-policy size trial")
    return POINTS[base], None if tail == NO_POLICY else int(tail[: -len(RULES)])


def order_key(trial: str) -> tuple[int, int]:
    """A size trial's place: its point's in the matrix, then no policy, 0 and the sizes ascending. Raises KeyError
    for a trial that is not one."""
    point, size = split(trial)
    return list(POINTS).index(point.trial), -1 if size is None else size


def is_size_trial(trial: str) -> bool:
    try:
        split(trial)
    except KeyError:
        return False
    return True


class NetworkPolicySettings(EastWestSettings, PolicyLatencySettings):
    """The points of the east-west matrix to run (its fields, restricted to the pod paths and TCP, saturating) and
    the policy sizes: every point runs with no policy, with default-deny plus the matching allow rule (``0``), and
    with each size's non-matching rules in front of it (``sizes``)."""

    paths: list[Path_] = Field(
        list(POLICY_PATHS), description="pod-to-pod and/or pod-to-service (ClusterIP: the policy applies after DNAT)."
    )
    streams: list[Streams] = Field(["single"], description="stream workload: single and/or multi (-P parallel).")
    workloads: list[Workload] = Field(
        ["stream", "rr", "crr"],
        description="stream (iperf3), rr (sockperf ping-pong), crr (ab + nginx): one connection per transaction.",
    )
    duration: int = Field(
        5, gt=0, le=3600, description="Measured seconds per repetition (an idle window as long first)."
    )
    omit: int = Field(1, ge=0, le=600, description="stream: warm-up seconds left out (-O).")
    sizes: list[Annotated[int, Field(ge=0, le=MAX_RULES)]] = Field(
        list(DEFAULT_SIZES),
        description=f"Non-matching rules in front of the matching one, each its own trial (0..{MAX_RULES}; no "
        "policy and 0 always run).",
    )

    @field_validator("sizes")
    @classmethod
    def _unique_sizes(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("each size may appear only once")
        return value

    @model_validator(mode="before")
    @classmethod
    def _tcp_saturating(cls, data: Any) -> Any:
        """udp and load: rate are refused first, before east-west's own checks would ask for what goes with them
        (a bitrate, rates), which this scenario never takes."""
        if isinstance(data, dict):
            if isinstance(data.get("protocols"), list) and "udp" in data["protocols"]:
                raise FieldError(("protocols",), "the network-policy scenario runs TCP only (its denied probe and crr)")
            if data.get("load", "saturate") != "saturate":
                raise FieldError(("load",), "the network-policy scenario saturates; its trials' variants are sizes")
        return data

    @model_validator(mode="after")
    def _policy_points(self) -> NetworkPolicySettings:
        if "host-to-host" in self.paths:
            raise FieldError(("paths",), "host-to-host is the host network: no pod, no NetworkPolicy; valid: "
                             + ", ".join(POLICY_PATHS))  # fmt: skip
        return self

    def all_sizes(self) -> list[int | None]:
        """None (no policy), 0, then the spec's sizes in ascending order."""
        return [None, 0, *sorted(s for s in self.sizes if s != 0)]

    def points(self) -> list[Point]:
        return [p for p in super().points() if p in POLICY_POINTS]


def server_ports(workloads: set[str]) -> list[tuple[Protocol, int]]:
    """The server pod's ports the trials use, which the policy admits the clients to, the same on every platform:
    iperf3's (always: the denied probe's target too), sockperf's TCP port (rr), the crr responder's (crr)."""
    ports: list[tuple[Protocol, int]] = [("TCP", iperf3.DEFAULT_PORT)]
    if "rr" in workloads:
        ports.append(("TCP", RR_PORTS["tcp"]))
    if "crr" in workloads:
        ports.append(("TCP", CRR_PORT))
    return ports
