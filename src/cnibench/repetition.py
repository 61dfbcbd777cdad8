"""One repetition, compiled: what the playbook runs (a typed command, not a dict), where its raw artifact will be,
and what to verify in it. The contract between a platform (which compiles it), the playbook (which runs it), the
event handler (which matches the module's result to it) and its scenario (which turns the artifact into a sample).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict


class Expectation(BaseModel):
    """What a repetition's raw artifact is checked against (the source the server must see, the backends that must
    answer...): each scenario declares its own frozen subclass (its ``expectation_model``). What only the cluster
    knows at run time (the client's node, the seconds a policy took) arrives with the measuring module's result and
    is merged in with :meth:`merged`, validated like the rest: an unknown key is an error, not a silent extra."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def merged(self, update: Mapping[str, Any]) -> Expectation:
        """A copy with ``update``'s values (keys of this model only; raises pydantic's ValidationError otherwise)."""
        return type(self).model_validate({**self.model_dump(), **update})


@dataclass(frozen=True)
class MetricsWindow:
    """After its tool, the repetition's measurement window is queried from Prometheus and the raw answers are saved
    in ``out`` (a directory). The window leaves out the tool's first ``warmup_s`` seconds; ``access`` says how this
    platform reaches Prometheus (netns: the namespace and URL; Kubernetes: the Service, port and node_exporter).
    ``deferred``: cnibench queries it while the next repetition runs (the platform's Prometheus outlives the
    repetitions: :meth:`~cnibench.platforms.base.Platform.metrics_collector`), not the measuring module."""

    out: Path
    warmup_s: float
    scrape_interval_s: float
    access: Mapping[str, Any] = field(default_factory=dict)
    deferred: bool = False
    #: a fixed-load repetition's first ``idle_s`` seconds are its idle baseline (the tool waits: MeasureCommand)
    idle_s: float = 0.0

    def to_vars(self) -> dict[str, Any]:
        """The module parameter ``metrics`` (netns_exec, kube_measure)."""
        return {
            **self.access,
            "offset": self.warmup_s,
            "scrape_interval_s": self.scrape_interval_s,
            "out": str(self.out),
            "idle_s": self.idle_s,
        }


@dataclass(frozen=True)
class MeasureCommand:
    """What the playbook runs for one repetition: ``argv`` (no shell) in network namespace ``netns`` (empty: on this
    machine), standard output to ``stdout``, killed after ``timeout_s`` seconds, without the environment variables
    whose names start with one of ``unset_env`` and with ``no_proxy`` addresses reached directly."""

    argv: tuple[str, ...]
    stdout: Path
    timeout_s: float
    netns: str = ""
    unset_env: tuple[str, ...] = ()
    no_proxy: tuple[str, ...] = ()
    metrics: MetricsWindow | None = None
    #: seconds the command idles before the tool starts (a fixed load's idle baseline: cnibench.scenarios.load)
    idle_s: float = 0.0

    @property
    def tool(self) -> str:
        """The tool's name (``iperf3``, ``k6``, ``kubectl``), for messages."""
        return Path(self.argv[0]).name if self.argv else "tool"

    @property
    def shown(self) -> str:
        """The command as ``plan`` shows it (the tool's name without its path, quoted as a shell would need)."""
        return shlex.join([self.tool, *self.argv[1:]])

    @property
    def run_argv(self) -> tuple[str, ...]:
        """What runs: ``argv``, after ``idle_s`` seconds of idling when it has an idle baseline."""
        if not self.idle_s:
            return self.argv
        from cnibench.tools.idle import idle_argv

        return idle_argv(self.idle_s, self.argv)

    def to_vars(self, label: str) -> dict[str, Any]:
        """One item of a trial's ``runs`` in the playbook's variables."""
        return {
            "label": label,
            "netns": self.netns,
            "argv": list(self.run_argv),
            "stdout": str(self.stdout),
            "timeout": self.timeout_s,
            "metrics": self.metrics.to_vars() if self.metrics is not None and not self.metrics.deferred else None,
            "unset_env": list(self.unset_env),
            "no_proxy": list(self.no_proxy),
        }


@dataclass(frozen=True)
class Repetition:
    """One repetition of one trial (``scenario``: the trial's name, e.g. ``egress-baseline``) of one CNI: where its
    raw artifact will be, how long its tool runs (seconds, the warm-up included), the warm-up (seconds, left out of
    the metrics), what its scenario checks in it (``expect``; the cluster may add to it at run time, in the module's
    result), the command, the round it runs in and the playbook loop that runs it."""

    cni: str
    scenario: str
    repetition: int
    artifact: Path
    command: MeasureCommand
    expected_seconds: float = 0.0
    warmup_s: float = 0.0
    expect: Expectation = field(default_factory=Expectation)
    round: int = 1
    #: the playbook loop that runs it: its trial's own, or its scenario's where the platform alternates a paired
    #: scenario's trials in one loop (egress and its baseline on netns); empty: the trial's
    loop: str = ""

    def __post_init__(self) -> None:
        if not self.loop:
            object.__setattr__(self, "loop", self.scenario)

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.cni, self.scenario, self.repetition)

    @property
    def label(self) -> str:
        return f"{self.cni} {self.scenario} {self.repetition}"

    def common(self, *, started_at: float | None, ended_at: float | None) -> dict[str, Any]:
        """The fields every sample of this repetition has, whatever its scenario."""
        return {
            "cni": self.cni,
            "scenario": self.scenario,
            "repetition": self.repetition,
            "round": self.round,
            "started_at": started_at,
            "ended_at": ended_at,
        }

    def read_artifact(self, run_dir: Path) -> tuple[str | None, str]:
        """The raw artifact's path relative to the run directory (None if the tool wrote none) and its text."""
        shown, data = self.read_artifact_bytes(run_dir)
        return shown, data.decode("utf-8", errors="replace")

    def read_artifact_bytes(self, run_dir: Path) -> tuple[str | None, bytes]:
        """The raw artifact's path relative to the run directory (None if the tool wrote none) and its bytes (a
        binary artifact, such as a pcap)."""
        path = self.artifact
        if not path.exists():
            return None, b""
        shown = str(path.relative_to(run_dir)) if path.is_relative_to(run_dir) else str(path)
        return shown, path.read_bytes()

    def to_vars(self) -> dict[str, Any]:
        return self.command.to_vars(self.label)
