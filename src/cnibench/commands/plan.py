"""``cnibench plan``, ``render`` and ``schema``: what a run would do, and the files it would apply; nothing is run."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from cnibench.errors import CnibenchError, UsageError
from cnibench.files import output_problem
from cnibench.plan import Plan, format_duration, make_plan
from cnibench.platforms import get_platform
from cnibench.results.store import results_dir as default_results_dir
from cnibench.spec import json_schema, load_spec

if TYPE_CHECKING:
    from cnibench.results.model import RunResults


def plan(
    spec_path: Path | None,
    *,
    repeat: int | None = None,
    duration: int | None = None,
    rounds: int | None = None,
    only: list[str] | None = None,
) -> int:
    spec, source = load_spec(spec_path, repetitions=repeat, duration=duration, rounds=rounds)
    the_plan = make_plan(spec, only)
    platform = get_platform(spec.platform)
    compiled = platform.compile(the_plan, run_dir=default_results_dir() / "<run-id>", prefix="cnib0000")
    print(f"spec: {source} (name {spec.name}, platform {spec.platform})")
    print(
        f"matrix: {len(spec.cni_names)} CNI(s) x {len({t.scenario for t in the_plan.trials})} trial(s), "
        f"{the_plan.repetitions} repetitions, about {format_duration(the_plan.estimated_seconds)}"
    )
    header = ("cni", "scenario", "repetitions", "tool", "settings")
    rows = [(t.cni, t.scenario, str(t.repetitions), t.tool, t.settings) for t in the_plan.trials]
    widths = [max(len(x) for x in col) for col in zip(header, *rows, strict=True)]
    for row in (header, *rows):
        print("  " + "  ".join(x.ljust(w) for x, w in zip(row, widths, strict=True)).rstrip())
    for line in design_lines(the_plan, earlier_runs(spec.name, spec.platform)):
        print(line)
    measured = platform.what_is_measured(spec)
    if measured:
        print(f"what the numbers mean on {spec.platform}:")
        for line in measured:
            print(f"  {line}")
    print("steps:")
    for number, step in enumerate(compiled.steps, start=1):
        print(f"  {number:2d}. {step}")
    print("nothing was created (plan only)")
    return 0


def design_lines(the_plan: Plan, history: Sequence[RunResults] = ()) -> list[str]:
    """The experiment's design in words: the rounds and their CNI order, each cluster's order of repetitions, what
    the clusters can show per primary metric (the design of the test, the smallest p, the minimum detectable
    effect) and the warnings about it."""
    rounds: dict[int, list[str]] = {}
    for block in the_plan.blocks:
        rounds.setdefault(block.round, []).append(block.cni)
    order = "; ".join(f"round {number}: {', '.join(cnis)}" for number, cnis in rounds.items())
    first = the_plan.blocks[0]
    within = ", ".join(f"{trial} {number}" for trial, number in first.order[:6])
    more = ", ..." if len(first.order) > 6 else ""
    lines = [
        f"design: {the_plan.rounds} round(s), each CNI on a fresh cluster once per round ({order})",
        f"  on each cluster: {within}{more}",
    ]
    powers = the_plan.power(history)
    if powers:
        reference = the_plan.spec.reference or the_plan.spec.cni_names[0]
        some = next(iter(powers.values()))
        lines.append(
            f"  what it can show (the unit is the cluster: {some.clusters} per CNI; each CNI against {reference}; "
            f"{some.design}, df {some.df}; {some.family} primary comparisons, simultaneous 95 % intervals; "
            f"equivalence margin ±{the_plan.spec.margin:.0%}; Student's t reaches any p from 2 clusters per CNI on, "
            f"the adjusted p being min(1, {some.family} p)):"
        )
        for (trial, metric), p in powers.items():
            if p.mde is None:
                lines.append(f"    {trial} {metric}: nothing testable with {p.clusters} cluster(s) per CNI")
                continue
            equivalent = (
                f"equivalent when the true difference is below about {p.equivalence:.1%}"
                if p.equivalence is not None
                else f"cannot come out equivalent within ±{the_plan.spec.margin:.0%}"
            )
            lines.append(
                f"    {trial} {metric}: detects about {p.mde:.0%} with 80 % power; {equivalent} (cluster sd "
                f"{p.cluster_sd:.3f} on the log scale, from {p.source})"
            )
    lines += [f"warning: {warning}" for warning in the_plan.warnings(history)]
    return lines


def earlier_runs(spec_name: str, platform: str) -> list[RunResults]:
    """The store's complete runs of the spec's name and platform (for the plan's variance), newest 10; none when
    there is no store or it cannot be read."""
    from cnibench.errors import CnibenchError
    from cnibench.results.store import Store, locate_store

    try:
        path = locate_store(None)
        if not path.exists():
            return []
        store = Store(path)
        rows = [r for r in store.runs() if r.name == spec_name and r.platform == platform and r.status == "complete"]
        return [store.get(r.run_id)[0] for r in rows[-10:]]
    except (CnibenchError, OSError):
        return []


def render(
    spec_path: Path | None,
    output: Path,
    *,
    repeat: int | None = None,
    duration: int | None = None,
    rounds: int | None = None,
    only: list[str] | None = None,
) -> int:
    """Write every file a run would apply (kind config, Helm values, manifests, k6 script, netns bundles) into
    ``output`` without touching anything else; the paths inside them point at ``output``."""
    spec, source = load_spec(spec_path, repetitions=repeat, duration=duration, rounds=rounds)
    the_plan = make_plan(spec, only)
    output = output.resolve()
    problem = output_problem(output, directory=True)
    if problem is not None:
        raise UsageError(f"-o {problem}")
    if output.exists() and any(output.iterdir()):
        raise UsageError(f"-o {output}: not empty (render writes into an empty or new directory)")
    compiled = get_platform(spec.platform).compile(the_plan, run_dir=output, prefix="cnib0000")
    created = not output.exists()
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # /proc/nope: a directory nobody can create there
        raise UsageError(f"-o {output}: cannot create this directory: {exc.strerror or exc}") from None
    try:
        compiled.write()
        (output / "vars.json").write_text(json.dumps(compiled.extravars, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:  # a full disk, a quota: nothing half-written is left behind
        shutil.rmtree(output, ignore_errors=True) if created else _empty(output)
        raise CnibenchError(f"-o {output}: cannot write: {exc.strerror or exc}") from None
    files = sorted(p for p in output.rglob("*") if p.is_file())
    print(f"rendered {len(files)} files for {spec.name} ({spec.platform}, from {source}) into {output}:")
    for path in files:
        print(f"  {path.relative_to(output)}")
    print(f"playbook: {compiled.playbook} with vars.json; nothing was applied")
    return 0


def _empty(directory: Path) -> None:
    """Remove what was written into ``directory`` (it was empty before)."""
    for item in directory.iterdir():
        shutil.rmtree(item, ignore_errors=True) if item.is_dir() and not item.is_symlink() else item.unlink()


def schema() -> int:
    print(json.dumps(json_schema(), indent=2))
    return 0
