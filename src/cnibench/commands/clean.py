"""``cnibench clean``: what runs whose cnibench process died left behind, platform by platform."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from cnibench import runstate
from cnibench.errors import CnibenchError, PrerequisiteError, ResultsError
from cnibench.orchestration.ansible import remove_scratch
from cnibench.platforms import PLATFORMS
from cnibench.results.model import ABANDONED_SINCE, RESULTS_FILE, read_results, write_results


def clean(*, dry_run: bool = False, force: bool = False) -> int:
    """Remove what killed runs left, on every platform (kind clusters and containers, an existing cluster's
    cnibench objects, AKS clusters, netns namespaces and processes); runs whose cnibench still runs are left alone
    unless ``force``. Exit code 1 when something could not be removed."""
    code, found = 0, False
    unchecked: dict[str, str] = {}  # platform -> why its leftovers could not be looked for
    for platform in PLATFORMS.values():
        try:
            leftovers = platform.leftovers()
        except PrerequisiteError as exc:
            unchecked[platform.name] = str(exc)
            continue
        for item in leftovers:
            found = True
            what = f"{item.prefix} ({item.platform}" + (f", run {item.run_dir})" if item.run_dir else ")")
            if item.owner_alive and not force:
                print(f"skipped {what}: its cnibench process is still running (use --force)")
                continue
            if dry_run:
                print(f"would remove {what}: {item.what}")
                continue
            try:
                removed = platform.remove(item)
            except CnibenchError as exc:
                print(f"failed {what}: {exc}", file=sys.stderr)
                code = 1
                continue
            remove_scratch(item.prefix)
            print(f"removed {what}: {', '.join(removed) or 'state only'}")
            if item.run_dir:
                mark_killed(Path(item.run_dir))
    if unchecked and not found:
        name, why = next(iter(unchecked.items()))
        raise PrerequisiteError(f"{name} leftovers cannot be looked for: {why}")
    for name, why in unchecked.items():
        print(f"{name} leftovers not checked: {why}")
    if not found and not unchecked:
        print("nothing to clean: no cnibench namespaces, clusters or run state")
    return code


def mark_killed(run_dir: Path) -> None:
    """A run whose cnibench process died still says "running": record that it is abandoned and cleaned up."""
    path = run_dir / RESULTS_FILE
    try:
        results = read_results(path)
    except ResultsError:
        return
    if results.status == "running":
        gone = runstate.gone_message(results.owner) if results.owner else "its cnibench process is gone"
        # a record keeps the words of its schema version: "abandoned" is new in version 6
        status = "abandoned" if results.schema_version >= ABANDONED_SINCE else "interrupted"
        write_results(
            path,
            results.model_copy(
                update={
                    "status": status,
                    "error": f"{gone}; `cnibench clean` removed what it left",
                    "ended_at": time.time(),
                }
            ),
        )
