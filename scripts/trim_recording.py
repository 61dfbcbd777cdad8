"""Turn a real run's Ansible events into a recording the estimate's tests replay (tests/data/ansible/<name>/).

    .venv/bin/python scripts/trim_recording.py RUN_DIR tests/data/ansible/<name>

Keeps, per event, only what the replay reads: its kind, its task, the raw artifact a measurement wrote (relative to
the run directory) and when it happened. Repetitions that ``netns_clusters`` (``netns_measure`` before it) reported through the measurement stream
(ansible/measurements.jsonl) become events at the moment the stream says: a loop's start as the ``Measure`` task
starting, a repetition as its result at its ``ended_at``. The run's spec.yaml is copied beside it.
"""

from __future__ import annotations

import json
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def _created(at: float) -> str:
    """ansible-runner's ``created``: UTC without a zone, ISO 8601."""
    return datetime.fromtimestamp(at, UTC).replace(tzinfo=None).isoformat()


def trim(run: Path) -> list[dict[str, Any]]:
    events = sorted(
        (json.loads(p.read_text()) for p in (run / "ansible" / "artifacts").glob("*/job_events/*.json")),
        key=lambda e: e["counter"],
    )
    timed: list[tuple[float, int, dict[str, Any]]] = []
    for e in events:
        data = e.get("event_data") or {}
        item: dict[str, Any] = {"event": e["event"], "created": e["created"]}
        if data.get("task"):
            item["task"] = data["task"]
        res = data.get("res")
        if isinstance(res, dict) and res.get("output"):
            item["output"] = str(Path(res["output"]).relative_to(run))
        at = datetime.fromisoformat(e["created"]).replace(tzinfo=UTC).timestamp()
        timed.append((at, len(timed), item))
    stream = run / "ansible" / "measurements.jsonl"
    if stream.is_file():
        for line in stream.read_text().splitlines():
            record = json.loads(line)
            if record["event"] == "loop_started":
                at, item = record["at"], {"event": "playbook_on_task_start", "task": "Measure"}
            else:
                res = record["res"]
                at = res.get("ended_at") or timed[-1][0]
                item = {"event": "runner_item_on_ok", "task": "Measure",
                        "output": str(Path(res["output"]).relative_to(run))}  # fmt: skip
            timed.append((at, len(timed), {**item, "created": _created(at)}))
    timed.sort(key=lambda t: (t[0], t[1]))
    return [{"counter": n, **item} for n, (_, _, item) in enumerate(timed, 1)]


def main() -> None:
    run, out = Path(sys.argv[1]).resolve(), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    trimmed = trim(run)
    (out / "job_events.json").write_text(json.dumps(trimmed, indent=0) + "\n")
    shutil.copy(run / "spec.yaml", out / "spec.yaml")
    print(len(trimmed), "events")


if __name__ == "__main__":
    main()
