"""The east-west scenario's matrix: its axes (workload x path x placement x protocol x streams), each trial's name
and code, and the spec section that chooses from it (:mod:`cnibench.scenarios.east_west` says what each means and
cites the codes' source). The platforms' adapters build their endpoints from these names."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from cnibench.scenarios.load import BITS_PER_SECOND, LoadSettings, RateUnit
from cnibench.spec.base import FieldError, LaxIPv4Address, whole_number_text
from cnibench.tools.workload import WORKLOADS, WorkloadSettings

NAME = "east-west"
Path_ = Literal["pod-to-pod", "pod-to-service", "host-to-host"]
Placement = Literal["same-node", "cross-node"]
Protocol = Literal["tcp", "udp"]
Streams = Literal["single", "multi"]
PATHS: tuple[Path_, ...] = ("pod-to-pod", "pod-to-service", "host-to-host")
PLACEMENTS: tuple[Placement, ...] = ("same-node", "cross-node")
PROTOCOLS: tuple[Protocol, ...] = ("tcp", "udp")
STREAMS: tuple[Streams, ...] = ("single", "multi")
#: The path letter of a code: InfraBuilder's D(irect) and S(ervice); H(ost) is cnibench's.
PATH_LETTER = {"pod-to-pod": "D", "pod-to-service": "S", "host-to-host": "H"}
SAME_NODE_SUFFIX = "-SN"
#: The request/response workloads' code suffixes and trial-name modes (issue 28): ``DT-RR`` is pod-to-pod TCP_RR,
#: ``ST-CRR`` pod-to-Service TCP_CRR; the stream workload keeps InfraBuilder's codes (``DTS``).
WORKLOAD_SUFFIX = {"rr": "RR", "crr": "CRR"}
#: The protocols each workload runs (crr opens a TCP connection per transaction: no UDP form).
WORKLOAD_PROTOCOLS: dict[str, tuple[Protocol, ...]] = {"stream": PROTOCOLS, "rr": PROTOCOLS, "crr": ("tcp",)}
#: iperf3's own limit on -P: "number of parallel streams too large (maximum = 128)" (iperf3 3.12, MAX_STREAMS in
#: src/iperf.h; the same in 3.16 and 3.21).
MAX_STREAMS = 128
#: InfraBuilder's multi-stream trials ran -P 8.
DEFAULT_PARALLEL = 8
#: Seconds a repetition may run past iperf3's own duration before it is killed (as egress).
TIMEOUT_MARGIN = 20.0
#: The pods (their names on every platform) and what each serves.
SERVER_POD = "ew-server"
CLIENT_POD = {"same-node": "ew-client-same", "cross-node": "ew-client-cross"}
HOST_SERVER = "ew-host-server"
HOST_CLIENT = {"same-node": "ew-host-client-same", "cross-node": "ew-host-client-cross"}
SERVICE = "ew-server"
_BITRATE = re.compile(r"^[0-9]+(\.[0-9]+)?[KMG]?$")


def trial_name(path: str, placement: str, protocol: str, streams: str, workload: str = "stream") -> str:
    """``pod-to-pod.cross-node.tcp-single``: a trial's name (and its raw artifacts' directory); a request/response
    workload's replaces the streams: ``pod-to-service.cross-node.tcp-crr``."""
    return f"{path}.{placement}.{protocol}-{streams if workload == 'stream' else workload}"


def code(path: str, placement: str, protocol: str, streams: str, workload: str = "stream") -> str:
    """The trial's code: InfraBuilder's for cross-node (``DTS``, ``SUM``; ``H`` for host-to-host), with ``-SN`` for
    the same-node variants (``DTS-SN``); a request/response workload's is path and protocol letters, a dash and
    ``RR`` or ``CRR`` (``DT-RR``, ``SU-RR``, ``HT-CRR``, ``DT-RR-SN``), as issue 28 names them."""
    if workload == "stream":
        letters = PATH_LETTER[path] + protocol[0].upper() + streams[0].upper()
    else:
        letters = PATH_LETTER[path] + protocol[0].upper() + "-" + WORKLOAD_SUFFIX[workload]
    return letters + (SAME_NODE_SUFFIX if placement == "same-node" else "")


@dataclass(frozen=True)
class Point:
    """One point of the matrix: a trial."""

    path: str
    placement: str
    protocol: str
    streams: str  # "single" for rr and crr: one transaction outstanding
    workload: str = "stream"

    @property
    def trial(self) -> str:
        return trial_name(self.path, self.placement, self.protocol, self.streams, self.workload)

    @property
    def code(self) -> str:
        return code(self.path, self.placement, self.protocol, self.streams, self.workload)

    @property
    def mode(self) -> str:
        """``tcp-single``, ``udp-multi``, ``tcp-rr``, ``tcp-crr``..."""
        return f"{self.protocol}-{self.streams if self.workload == 'stream' else self.workload}"


#: Every point, in run order: the stream matrix first (path, then placement, then protocol and streams: the order
#: before the workload axis, so that every recorded run reads the same), then rr and crr, each path by placement
#: by protocol. Every server is started once per cluster (:mod:`cnibench.platforms.netns.scenarios.east_west`).
_STREAM_POINTS = tuple(Point(*p) for p in itertools.product(PATHS, PLACEMENTS, PROTOCOLS, STREAMS))
ALL_POINTS: tuple[Point, ...] = _STREAM_POINTS + tuple(
    Point(path, placement, protocol, "single", workload)
    for workload in WORKLOADS[1:]
    for path, placement in itertools.product(PATHS, PLACEMENTS)
    for protocol in WORKLOAD_PROTOCOLS[workload]
)
TRIALS: tuple[str, ...] = tuple(p.trial for p in ALL_POINTS)
POINTS: dict[str, Point] = {p.trial: p for p in ALL_POINTS}
#: A sample's trial: a point of the matrix, with its offered rate at a fixed load (``...tcp-single@500M``).
TRIAL_PATTERN = "^(" + "|".join(re.escape(t) for t in TRIALS) + r")(@[0-9.]+[KMGT]?)?$"


def _unique(value: list[str], what: str) -> list[str]:
    if not value:
        raise ValueError(f"at least one {what} is needed")
    if len(set(value)) != len(value):
        raise ValueError(f"each {what} may appear only once")
    return value


class EastWestSettings(LoadSettings, WorkloadSettings):
    """East-west traffic inside the cluster: the matrix of workload x path x placement x protocol x streams to run
    (streams for the ``stream`` workload only; ``rr`` and ``crr`` have one transaction outstanding, ``crr`` is TCP
    only). With ``load: rate``, iperf3 offers each of ``rates`` (bit/s, TCP or UDP: ``--bitrate``, split evenly over
    a trial's streams, since iperf3 applies it per stream) in every trial of the matrix (``stream`` only)."""

    rate_unit: ClassVar[RateUnit] = BITS_PER_SECOND

    paths: list[Path_] = Field(
        list(PATHS), description="pod-to-pod, pod-to-service (ClusterIP) and/or host-to-host (host network)."
    )
    placements: list[Placement] = Field(
        list(PLACEMENTS), description="same-node (client on the server's node) and/or cross-node."
    )
    protocols: list[Protocol] = Field(
        ["tcp"], description="tcp and/or udp (udp needs bitrate with load: saturate; with load: rate, rates)."
    )
    streams: list[Streams] = Field(
        ["single", "multi"], description="single (one stream) and/or multi (parallel streams, -P)."
    )
    parallel: int = Field(
        DEFAULT_PARALLEL, ge=2, description=f"Streams of a multi trial (iperf3 -P, at most {MAX_STREAMS})."
    )
    bitrate: str | None = Field(
        None,
        description="UDP target bitrate per stream (iperf3 -b, e.g. 500M or 1G; 0 = unlimited). Required with udp "
        "and load: saturate; not used with load: rate (rates set the offered bitrate).",
    )
    duration: int = Field(10, gt=0, le=3600, description="Measured seconds per repetition (-t).")
    omit: int = Field(2, ge=0, le=600, description="Warm-up seconds left out of the result (-O).")
    server_node: str | None = Field(
        None,
        description="Node of the server (and of the same-node client). Default: netns and kind the first worker; "
        "kubeconfig and AKS: the first schedulable worker by name, picked at run time.",
    )
    client_node: str | None = Field(
        None, description="Node of the cross-node client. Default: the next worker after the server's."
    )
    cluster_ip: LaxIPv4Address | None = Field(
        None,
        description="netns only: the Service's ClusterIP (default 10.96.0.100, in kind's service subnet). On "
        "Kubernetes the cluster assigns it.",
    )

    @field_validator("paths", "placements", "protocols", "streams")
    @classmethod
    def _each_once(cls, value: list[str], info: ValidationInfo) -> list[str]:
        what = {"paths": "path", "placements": "placement", "protocols": "protocol"}.get(str(info.field_name), "value")
        return _unique(value, what)

    @field_validator("parallel")
    @classmethod
    def _parallel(cls, value: int) -> int:
        if value > MAX_STREAMS:
            raise ValueError(f"{value} streams: iperf3 allows at most {MAX_STREAMS} (-P)")
        return value

    @field_validator("bitrate", mode="before")
    @classmethod
    def _bitrate_number(cls, value: Any) -> Any:
        """``bitrate: 0`` (unlimited) or ``bitrate: 1000000`` as YAML integers: the same as quoted."""
        return whole_number_text(value)

    @field_validator("bitrate")
    @classmethod
    def _bitrate(cls, value: str | None) -> str | None:
        if value is not None and not _BITRATE.match(value):
            raise ValueError("must be a number with an optional K, M or G suffix, e.g. 500M")
        return value

    @model_validator(mode="after")
    def _matrix(self) -> EastWestSettings:
        if self.load == "rate" and self.workloads != ["stream"]:
            raise FieldError(
                ("workloads",),
                "load: rate offers bit/s to the stream workload only; rr and crr run one transaction outstanding "
                "as fast as it goes: use workloads: [stream] with load: rate",
            )
        if self.load == "rate" and self.bitrate is not None:
            raise FieldError(("bitrate",), "not used with load: rate (rates set the offered bitrate)")
        stream_udp = "stream" in self.workloads and "udp" in self.protocols
        if self.load == "saturate" and stream_udp and self.bitrate is None:
            raise FieldError(("bitrate",), "required with protocol udp (iperf3 -b per stream, e.g. 1G; 0 = unlimited)")
        if "cross-node" in self.placements and self.server_node and self.server_node == self.client_node:
            raise FieldError(
                ("client_node",), f"cross-node needs a client node other than server_node {self.server_node}"
            )
        return self

    def points(self) -> list[Point]:
        """The trials the spec chose, in run order."""
        return [
            p
            for p in ALL_POINTS
            if p.workload in self.workloads
            and p.path in self.paths
            and p.placement in self.placements
            and p.protocol in self.protocols
            and (p.workload != "stream" or p.streams in self.streams)
        ]

    def streams_of(self, point: Point) -> int:
        return self.parallel if point.streams == "multi" else 1


def mode_text(protocol: str, streams: int) -> str:
    """``tcp``, ``tcp -P 8``: a trial's protocol and streams as the summary shows them."""
    return protocol + (f" -P {streams}" if streams > 1 else "")


def pick_nodes(settings: EastWestSettings, workers: Sequence[str], scenario: str = NAME) -> tuple[str, str]:
    """The server's node and the cross-node client's: the spec's, else the first worker and the next one. Raises
    :class:`FieldError` naming the field (of ``scenario``'s section) when a named node is not a worker or cross-node
    has no second worker."""
    where = ("scenarios", scenario)
    for field in ("server_node", "client_node"):
        name = getattr(settings, field)
        if name is not None and name not in workers:
            raise FieldError((*where, field), f"no worker {name!r}; the workers: {', '.join(workers)}")
    server = settings.server_node or workers[0]
    others = [w for w in workers if w != server]
    client = settings.client_node or (others[0] if others else server)
    if "cross-node" in settings.placements and client == server:
        raise FieldError(
            (*where, "placements"),
            f"cross-node needs two workers and the cluster has one ({server}): use same-node only, or add a worker",
        )
    return server, client
