"""What the runner needs to know about one planned measurement, whatever the scenario or platform."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PlannedRun:
    """One repetition, compiled: where its raw artifact will be and what to verify in it."""

    cni: str
    scenario: str
    repetition: int
    artifact: str  # absolute path of the raw tool output
    expected_seconds: float
    expect: dict[str, Any] = field(default_factory=dict)  # scenario-specific checks (e.g. source IP)
    command: dict[str, Any] = field(default_factory=dict)  # what the playbook runs (platform-specific)

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.cni, self.scenario, self.repetition)
