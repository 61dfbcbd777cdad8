"""What the runner needs from a platform: checks, a compile step, the steps it will take, and a cleanup."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cnibench.doctor import Check
from cnibench.plan import Plan
from cnibench.scenarios.base import PlannedRun


@dataclass(frozen=True)
class Compiled:
    """A run, ready for Ansible: the playbook, its extra vars, and every planned repetition."""

    playbook: str
    extravars: dict[str, Any]
    runs: list[PlannedRun]
    facts: dict[str, Any] = field(default_factory=dict)  # per-CNI facts known before the run (MTUs, ...)


class Platform(Protocol):
    name: str

    def checks(self) -> list[Check]: ...

    def steps(self, plan: Plan) -> list[str]:
        """Human-readable steps of a run, for ``cnibench plan``."""
        ...

    def compile(self, plan: Plan, *, run_dir: Path, prefix: str, state_file: Path) -> Compiled: ...

    def cleanup(self, prefix: str, state_file: Path) -> list[str]:
        """Remove whatever a run with ``prefix`` left behind; return what was removed."""
        ...
