"""The run's record while it runs: ``results.json`` rewritten atomically after every change, so each finished
repetition is on disk before the next one starts, and ``environment.json`` beside it."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from cnibench.files import atomic_write_text
from cnibench.results.model import RESULTS_FILE, RunResults, RunStatus, Sample, write_results


class Recorder:
    """Holds the run's record and rewrites ``results.json`` atomically after every change."""

    def __init__(self, run_dir: Path, base: RunResults) -> None:
        self.path = run_dir / RESULTS_FILE
        self.env_path = run_dir / "environment.json"
        self.results = base
        self._lock = threading.Lock()
        self.save()

    def save(self) -> None:
        write_results(self.path, self.results)

    def add(self, sample: Sample) -> None:
        with self._lock:
            self.results = self.results.model_copy(update={"samples": [*self.results.samples, sample]})
            self.save()

    def cluster_facts(self, cni: str, facts: dict[str, Any]) -> None:
        with self._lock:
            environment = dict(self.results.environment)
            clusters = dict(environment.get("clusters", {}))
            clusters[cni] = {**clusters.get(cni, {}), **facts}
            environment["clusters"] = clusters
            self.results = self.results.model_copy(update={"environment": environment})
            atomic_write_text(self.env_path, json.dumps(environment, indent=2) + "\n")
            self.save()

    def finish(self, status: RunStatus, error: str | None) -> RunResults:
        with self._lock:
            self.results = self.results.model_copy(update={"status": status, "error": error, "ended_at": time.time()})
            self.save()
            return self.results
