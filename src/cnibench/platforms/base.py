"""What the runner needs from a platform: checks, a pure compile step, run bookkeeping and cleanup."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cnibench.doctor import Check
from cnibench.plan import Plan
from cnibench.scenarios.base import PlannedRun


class Renderable(Protocol):
    def write(self, directory: Path) -> Path: ...


@dataclass(frozen=True)
class Compiled:
    """A run, ready for Ansible. Compiling has no side effects; :meth:`write` puts the rendered files in place."""

    playbook: str
    extravars: dict[str, Any]
    runs: list[PlannedRun]
    steps: list[str]  # what the run will do, in words, from the same data the playbook gets
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)  # per CNI, known before the run (MTUs, ...)
    renders: dict[Path, Renderable] = field(default_factory=dict)  # directory -> what is rendered into it

    def write(self) -> None:
        for directory, item in self.renders.items():
            item.write(directory)


class Platform(Protocol):
    name: str

    def checks(self) -> list[Check]: ...

    def compile(self, plan: Plan, *, run_dir: Path, prefix: str) -> Compiled:
        """Turn a plan into the playbook's inputs. Pure: ``cnibench plan`` calls it too."""
        ...

    def reserve(self, run_dir: Path, owner_pid: int) -> str:
        """Pick the run's prefix and record its owner before anything is created; return the prefix."""
        ...

    def note_playbook(self, prefix: str, pid: int) -> None:
        """Record the run's ansible-playbook process, for ``clean`` after a crash."""
        ...

    def cleanup(self, prefix: str) -> list[str]:
        """Remove whatever the run with ``prefix`` left behind; return what was removed."""
        ...
