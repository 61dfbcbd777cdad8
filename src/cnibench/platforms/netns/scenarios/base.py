"""What a scenario deploys on the netns platform: an adapter per scenario (registered in
:data:`cnibench.platforms.netns.scenarios.ADAPTERS`) that places its pods, picks and checks its addresses, renders
what its trials apply and start, and compiles its repetitions, on a :class:`ClusterBuild` the platform hands it."""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from cnibench.platforms.files import Files
from cnibench.proc import tool_path
from cnibench.repetition import MetricsWindow, Repetition
from cnibench.scenarios import scenario_of
from cnibench.scenarios.load import without_idle
from cnibench.spec.model import ScenarioSettings
from cnibench.tools import nginx

if TYPE_CHECKING:
    from cnibench.platforms.base import Renderable
    from cnibench.platforms.netns.addresses import AddressPlan
    from cnibench.platforms.netns.topology import Topology
    from cnibench.spec.model import Spec

S = TypeVar("S", bound=ScenarioSettings)
#: Seconds a server may take to listen on its port.
DAEMON_START_TIMEOUT = 10.0


def resolved(argv: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Tools by absolute path: ``ip netns exec`` searches the PATH of a shell the user may not have."""
    return (tool_path(argv[0]) or argv[0], *argv[1:])


@dataclass
class ClusterBuild:
    """One CNI's cluster in one round while the run is compiled: what the adapters add (servers, scenarios with
    their repetitions in ``order``, steps, rendered files)."""

    spec: Spec
    cni: str
    round: int
    topo: Topology
    run_dir: Path
    renders: dict[Path, Renderable]
    #: (trial, repetition number) in run order on this cluster (the plan's block)
    order: tuple[tuple[str, int], ...] = ()
    #: how cnibench reaches the run's Prometheus (None: metrics disabled)
    metrics_access: dict[str, Any] | None = None
    scrape_interval_s: float = 1.0
    #: what the cluster's build applies (after the cluster itself) and starts: every scenario's servers and
    #: bundles, up front (idle servers cost nothing; setting each scenario up and down would cost every round)
    bundles: list[str] = field(default_factory=list)
    daemons: list[dict[str, Any]] = field(default_factory=list)
    scenarios: list[dict[str, Any]] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)

    @property
    def rendered(self) -> Path:
        """Where this CNI's files are rendered (the same for every round: a fresh cluster is built the same way)."""
        return self.run_dir / "rendered" / self.cni

    def log(self, name: str) -> Path:
        return self.run_dir / "logs" / self.cni / f"{name}.log"

    def daemon(self, name: str, netns: str, argv: list[str], port: int | None) -> dict[str, Any]:
        """A long-running server the playbook starts (owned by its PID), as the playbook's variables."""
        return {
            "name": name,
            "netns": netns,
            "argv": list(resolved(argv)),
            "listen_port": port,
            "log": str(self.log(name)),
            "timeout": DAEMON_START_TIMEOUT,
        }

    def nginx(self, name: str, netns: str, port: int, conf: Callable[[Path, Path], str]) -> dict[str, Any]:
        """An nginx server with its own rendered config (``conf(prefix, error_log)``), as a daemon."""
        prefix = self.run_dir / "nginx" / self.cni / name
        log = self.log(name)
        self.renders[prefix] = Files({"nginx.conf": conf(prefix, log)}, dirs=["tmp"])
        return {**self.daemon(name, netns, nginx.argv(prefix / "nginx.conf", prefix, log), port), "log": str(log)}

    def finish(self, repetitions: list[Repetition]) -> list[Repetition]:
        """The repetitions as they run: in this round, tools by absolute path, their metrics windows queried by
        cnibench while the next repetition runs (the run's Prometheus outlives the clusters)."""
        out = []
        for rep in repetitions:
            if self.metrics_access is None:
                rep = without_idle(rep)  # no CPU cost without metrics: no idle baseline
            command = dataclasses.replace(rep.command, argv=resolved(rep.command.argv))
            if self.metrics_access is not None:
                window = MetricsWindow(
                    out=rep.artifact.parent / f"rep-{rep.repetition:02d}.metrics",
                    warmup_s=rep.warmup_s,
                    scrape_interval_s=self.scrape_interval_s,
                    access=self.metrics_access,
                    deferred=True,
                    idle_s=rep.command.idle_s,
                )
                command = dataclasses.replace(command, metrics=window)
            # egress and its baseline alternate in one loop here (NetnsPlatform.pairs_trials)
            loop = scenario_of(rep.scenario).name
            out.append(dataclasses.replace(rep, command=command, round=self.round, loop=loop))
        return out

    def add_scenario(
        self,
        name: str,
        repetitions: list[Repetition],
        *,
        bundles: list[str],
        daemons: list[dict[str, Any]],
        around: Mapping[str, list[str]] | None = None,
    ) -> list[Repetition]:
        """One scenario for the playbook: its repetitions in the plan's order; ``bundles`` applied and ``daemons``
        started when the cluster is built; ``around``: per trial, bundles applied before and removed after each of
        its repetitions. Returns the repetitions in run order."""
        position = {item: index for index, item in enumerate(self.order)}
        ordered = sorted(repetitions, key=lambda r: position.get((r.scenario, r.repetition), len(position)))
        around = around or {}
        self.bundles += bundles
        self.daemons += daemons
        self.scenarios.append(
            {
                "cni": self.cni,
                "round": self.round,
                "scenario": name,
                "runs": [{**rep.to_vars(), "bundles": around.get(rep.scenario, [])} for rep in ordered],
            }
        )
        return ordered


class NetnsAdapter(ABC, Generic[S]):
    """A scenario on the netns platform."""

    scenario: ClassVar[str]

    def pods(self, settings: S, workers: list[str], gateway: str) -> list[tuple[str, str]]:
        """``(pod, node)`` pairs the scenario's trials need."""
        return []

    def needs_client(self, settings: S) -> bool:
        """Whether it needs the host in front of the cluster (a load generator there)."""
        return False

    def needs_external(self, settings: S) -> bool:
        """Whether it needs the external network behind the gateway node (a server outside the cluster)."""
        return False

    def resolve(self, settings: S, addresses: AddressPlan) -> S:
        """``settings`` with the addresses the platform picks filled in (a new model, pure)."""
        return settings

    def check(self, settings: S, spec: Spec, addresses: AddressPlan) -> None:
        """Its addresses against the plan; raises :class:`~cnibench.spec.base.FieldError`."""

    @abstractmethod
    def compile(self, settings: S, cluster: ClusterBuild, numbers: Mapping[str, range]) -> list[Repetition]:
        """Render what its trials apply and start, add them to ``cluster`` and return their repetitions (``numbers``:
        each trial's repetition numbers on this cluster), in run order."""
