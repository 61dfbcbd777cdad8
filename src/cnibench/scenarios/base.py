"""What the runner needs to know about one planned measurement, whatever the scenario or platform."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class PlannedRun:
    """One repetition, compiled: where its raw artifact will be and what to verify in it."""

    cni: str
    scenario: str
    repetition: int
    artifact: str  # absolute path of the raw tool output
    expected_seconds: float
    warmup_s: float = 0.0  # seconds at the start of the run that are not measured (metrics leave them out)
    expect: dict[str, Any] = field(default_factory=dict)  # scenario-specific checks (e.g. source IP)
    command: dict[str, Any] = field(default_factory=dict)  # what the playbook runs (platform-specific)

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.cni, self.scenario, self.repetition)

    def common(self, *, started_at: float | None, ended_at: float | None) -> dict[str, Any]:
        """The fields every sample of this repetition has, whatever its scenario."""
        return {
            "cni": self.cni,
            "scenario": self.scenario,
            "repetition": self.repetition,
            "started_at": started_at,
            "ended_at": ended_at,
        }

    def read_artifact(self, run_dir: Path) -> tuple[str | None, str]:
        """The raw artifact's path relative to the run directory (None if the tool wrote none) and its text."""
        path = Path(self.artifact)
        if not path.exists():
            return None, ""
        shown = str(path.relative_to(run_dir)) if path.is_relative_to(run_dir) else str(path)
        return shown, path.read_text(encoding="utf-8", errors="replace")
