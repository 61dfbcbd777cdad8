"""The subcommands as plain functions (tests call these directly); they print and return an exit code."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from cnibench import doctor as doctor_mod
from cnibench import runner
from cnibench.errors import PlatformError, ResultsError
from cnibench.plan import format_duration, make_plan
from cnibench.platforms import get_platform
from cnibench.platforms.netns import ops
from cnibench.report.summary import format_summary
from cnibench.results.model import RESULTS_FILE, read_results, write_results
from cnibench.spec import json_schema, load_spec


def run(
    spec_path: Path | None,
    *,
    repeat: int | None = None,
    duration: int | None = None,
    results_dir: Path = Path("results"),
    progress: bool | None = None,
    only: list[str] | None = None,
) -> int:
    spec, _source = load_spec(spec_path, repetitions=repeat, duration=duration)
    plan = make_plan(spec, only)
    outcome = runner.execute(spec, plan, results_dir=results_dir, progress=progress)
    print(format_summary(outcome.results, str(outcome.run_dir)))
    return outcome.exit_code


def plan(
    spec_path: Path | None,
    *,
    repeat: int | None = None,
    duration: int | None = None,
    only: list[str] | None = None,
) -> int:
    spec, source = load_spec(spec_path, repetitions=repeat, duration=duration)
    the_plan = make_plan(spec, only)
    platform = get_platform(spec.platform)
    compiled = platform.compile(the_plan, run_dir=Path("results") / "<run-id>", prefix="cnib0000")
    print(f"spec: {source} (name {spec.name}, platform {spec.platform})")
    print(
        f"matrix: {len(spec.cnis)} CNI(s) x {len({t.scenario for t in the_plan.trials})} trial(s), "
        f"{the_plan.repetitions} repetitions, about {format_duration(the_plan.estimated_seconds)}"
    )
    header = ("cni", "scenario", "repetitions", "tool", "settings")
    rows = [(t.cni, t.scenario, str(t.repetitions), t.tool, t.settings) for t in the_plan.trials]
    widths = [max(len(x) for x in col) for col in zip(header, *rows, strict=True)]
    for row in (header, *rows):
        print("  " + "  ".join(x.ljust(w) for x, w in zip(row, widths, strict=True)).rstrip())
    print("steps:")
    for number, step in enumerate(compiled.steps, start=1):
        print(f"  {number:2d}. {step}")
    print("nothing was created (plan only)")
    return 0


def doctor(platform: str = "netns") -> int:
    checks = doctor_mod.checks_for(platform)
    width = max(len(c.name) for c in checks)
    for check in checks:
        mark = "ok     " if check.ok else "MISSING"
        line = f"{mark} {check.name.ljust(width)}  {check.detail}"
        if not check.ok and check.hint:
            line += f"  -> {check.hint}"
        print(line)
    missing = [c for c in checks if not c.ok]
    if missing:
        print(f"{len(missing)} prerequisite(s) missing for the {platform} platform", file=sys.stderr)
        return 2
    print(f"all prerequisites of the {platform} platform are here")
    return 0


def clean(*, dry_run: bool = False, force: bool = False) -> int:
    doctor_mod.require_privileges()
    leftovers = ops.find_leftovers()
    if not leftovers:
        print("nothing to clean: no cnibench namespaces or run state")
        return 0
    code = 0
    for item in leftovers:
        what = f"{item.prefix}: {len(item.namespaces)} namespace(s)"
        if item.run_dir:
            what += f" (run {item.run_dir})"
        if item.owner_alive and not force:
            print(f"skipped {what}: its cnibench process is still running (use --force)")
            continue
        if dry_run:
            print(f"would remove {what}: {', '.join(item.namespaces) or 'state file only'}")
            continue
        try:
            report = ops.destroy_prefix(item.prefix, item.state_file)
        except PlatformError as exc:
            print(f"failed {what}: {exc}", file=sys.stderr)
            code = 1
            continue
        print(f"removed {what}; ended {len(report.pids)} process(es)")
        if item.run_dir:
            mark_killed(Path(item.run_dir))
    return code


def mark_killed(run_dir: Path) -> None:
    """A run whose cnibench process died still says "running": record that it was cleaned up instead."""
    path = run_dir / RESULTS_FILE
    try:
        results = read_results(path)
    except ResultsError:
        return
    if results.status == "running":
        write_results(
            path,
            results.model_copy(
                update={
                    "status": "interrupted",
                    "error": "the cnibench process died; `cnibench clean` removed what it left",
                    "ended_at": time.time(),
                }
            ),
        )


def schema() -> int:
    print(json.dumps(json_schema(), indent=2))
    return 0
