"""The subcommands as plain functions (tests call these directly); they print and return an exit code."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from cnibench import doctor as doctor_mod
from cnibench import runner, runstate
from cnibench.errors import CnibenchError, PlatformError, PrerequisiteError, ResultsError, SpecError
from cnibench.plan import format_duration, make_plan
from cnibench.platforms import get_platform
from cnibench.platforms.netns import ops
from cnibench.progress import read_progress
from cnibench.report import document
from cnibench.report.document import when as _when
from cnibench.report.summary import format_summary
from cnibench.results import analysis
from cnibench.results.analysis import DEFAULT_THRESHOLD
from cnibench.results.export import export_csv, summary_csv, summary_json
from cnibench.results.model import ABANDONED_SINCE, RESULTS_FILE, RunResults, read_results, write_results
from cnibench.results.store import Store, locate_store, record_store, resolve
from cnibench.results.store import results_dir as default_results_dir
from cnibench.spec import json_schema, load_spec


def run(
    spec_path: Path | None,
    *,
    repeat: int | None = None,
    duration: int | None = None,
    results_dir: Path | None = None,
    progress: bool | None = None,
    only: list[str] | None = None,
    db: Path | None = None,
    keep: bool = False,
    yes: bool = False,
    stdin: Any = None,
) -> int:
    spec, _source = load_spec(spec_path, repetitions=repeat, duration=duration)
    plan = make_plan(spec, only)
    results_dir = results_dir or default_results_dir()
    db = locate_store(db, results=results_dir)
    if spec.platform == "aks":
        doctor_mod.require(spec.platform, {t.scenario for t in plan.trials}, spec.metrics.enabled,
                           **runner.kube_settings(spec))  # fmt: skip
        if not confirm_aks(spec, plan, yes=yes, keep=keep, stdin=stdin if stdin is not None else sys.stdin):
            print("not confirmed: nothing was created", file=sys.stderr)
            return 2
    outcome = runner.execute(spec, plan, results_dir=results_dir, progress=progress, keep=keep)
    print(format_summary(outcome.results, str(outcome.run_dir)))
    for line in store_and_report(outcome.run_dir, outcome.results, db):
        print(line)
    for note in outcome.notes:
        print(note)
    return outcome.exit_code


def confirm_aks(spec: Any, the_plan: Any, *, yes: bool, keep: bool, stdin: Any) -> bool:
    """AKS costs money: say what will be created and ask, unless ``--yes``. Without a terminal, ``--yes`` is
    required (a script must say so explicitly)."""
    from cnibench.platforms.kube.platform import aks_tfvars

    aks = spec.aks_settings
    cnis = sorted({t.cni for t in the_plan.trials}, key=spec.cnis.index)
    print(
        f"cnibench will create billable Azure resources in {aks.location} (one cluster per CNI, one after the other):"
    )
    for cni in cnis:
        infix = aks_tfvars(spec, f"{aks.common_infix or '<run>'}{cni}")["common_infix"]
        print(
            f"  {cni}: resource group rg{infix}, AKS cluster cluster{infix} with {aks.node_count} x {aks.vm_type} "
            "and a standard LoadBalancer"
        )
    print(
        "  each is destroyed (terraform destroy) when its trials end, also after a failure or Ctrl-C"
        + ("; --keep: the last one stays up and keeps costing" if keep else "")
    )
    if yes:
        return True
    if not stdin.isatty():
        raise PrerequisiteError("aks creates billable Azure resources: confirm with --yes (no terminal to ask)")
    print("create them? type yes: ", end="", flush=True)
    answer: str = stdin.readline()
    return answer.strip().lower() == "yes"


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
    compiled = platform.compile(the_plan, run_dir=default_results_dir() / "<run-id>", prefix="cnib0000")
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


def render(
    spec_path: Path | None,
    output: Path,
    *,
    repeat: int | None = None,
    duration: int | None = None,
    only: list[str] | None = None,
) -> int:
    """Write every file a run would apply (kind config, Helm values, manifests, k6 script, netns bundles) into
    ``output`` without touching anything else; the paths inside them point at ``output``."""
    spec, source = load_spec(spec_path, repetitions=repeat, duration=duration)
    the_plan = make_plan(spec, only)
    output = output.resolve()
    if output.exists() and any(output.iterdir()):
        raise SpecError(f"{output}: not empty (render writes into an empty or new directory)")
    compiled = get_platform(spec.platform).compile(the_plan, run_dir=output, prefix="cnib0000")
    compiled.write()
    (output / "vars.json").write_text(json.dumps(compiled.extravars, indent=2) + "\n", encoding="utf-8")
    files = sorted(p for p in output.rglob("*") if p.is_file())
    print(f"rendered {len(files)} files for {spec.name} ({spec.platform}, from {source}) into {output}:")
    for path in files:
        print(f"  {path.relative_to(output)}")
    print(f"playbook: {compiled.playbook} with vars.json; nothing was applied")
    return 0


def doctor(platform: str = "netns", spec_path: Path | None = None) -> int:
    settings: dict[str, Any] = {}
    if spec_path is not None:
        spec, _ = load_spec(spec_path)
        platform = spec.platform
        settings = runner.kube_settings(spec)
        settings["udp"] = spec.scenarios.egress is not None and spec.scenarios.egress.protocol == "udp"
    checks = doctor_mod.checks_for(platform, **settings)
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
    """Remove what killed runs left: kind clusters and containers of Kubernetes runs, then netns namespaces."""
    code, kube_found = clean_kube(dry_run=dry_run, force=force)
    if not doctor_mod.check_privileges().ok:
        if kube_found:
            print("netns leftovers not checked: that needs root")
            return code
        doctor_mod.require_privileges()
    leftovers = ops.find_leftovers()
    if not leftovers:
        if not kube_found:
            print("nothing to clean: no cnibench namespaces, clusters or run state")
        return code
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
        runner.remove_scratch(item.prefix)
        print(f"removed {what}; ended {len(report.pids)} process(es)")
        if item.run_dir:
            mark_killed(Path(item.run_dir))
    return code


def clean_kube(*, dry_run: bool, force: bool) -> tuple[int, bool]:
    """Kubernetes runs whose cnibench died: delete their kind clusters and containers (kubeconfig runs: their
    namespace and cluster-wide objects); returns the exit code and whether there was anything."""
    from cnibench.platforms.kube import teardown
    from cnibench.platforms.kube.platform import kube_state_dir

    directory = kube_state_dir()
    code = 0
    leftovers = teardown.find_leftovers(directory)
    for item in leftovers:
        platform = str(item.data.get("platform", "kind"))
        what = f"{item.prefix} ({platform}" + (f", run {item.run_dir})" if item.run_dir else ")")
        if item.owner_alive and not force:
            print(f"skipped {what}: its cnibench process is still running (use --force)")
            continue
        if dry_run:
            how = {
                "kind": "its kind clusters and containers",
                "aks": "its AKS clusters (terraform destroy)",
                "kubeconfig": "its namespace and cluster-wide objects",
            }.get(platform, "what it created")
            print(f"would remove {what}: {how}, and its kubeconfigs")
            continue
        try:
            removed = teardown.clean_leftover(item, directory)
        except CnibenchError as exc:
            print(f"failed {what}: {exc}", file=sys.stderr)
            code = 1
            continue
        runner.remove_scratch(item.prefix)
        print(f"removed {what}: {', '.join(removed) or 'state only'}")
        if item.run_dir:
            mark_killed(Path(item.run_dir))
    return code, bool(leftovers)


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


def observed(results: RunResults) -> RunResults:
    """A run that says "running" while its cnibench process is gone is abandoned: say so, and how to clean up."""
    seen = runstate.observed(results)
    if seen is not results:
        print(f"warning: run {results.run_id} is abandoned: {seen.error}", file=sys.stderr)
    return seen


def store_and_report(outcome_dir: Path, results: RunResults, db: Path) -> list[str]:
    """After a run: add it to the results store and write its report. Problems here are reported, not fatal:
    the run's own results are already safe on disk."""
    lines = []
    try:
        record_store(outcome_dir, db)  # later commands given this run directory find the store through it
        Store(db).add(results, outcome_dir)
        lines.append(f"stored in {db}")
    except CnibenchError as exc:
        lines.append(f"warning: not stored in {db}: {exc}")
    except OSError as exc:
        lines.append(f"warning: not stored in {db}: {exc.strerror or exc}")
    try:
        built = document.build([results], [outcome_dir])
        html_path, md_path = document.write(built, outcome_dir / "report.html")
        lines.append(f"report: {html_path} (and {md_path.name})")
    except (CnibenchError, OSError, ValueError) as exc:
        lines.append(f"warning: no report: {exc}")
    return lines


def runs(db: Path | None = None) -> int:
    """The stored runs, then the run directories beside the store that are not in it (running, or killed:
    those are shown abandoned)."""
    db = locate_store(db)
    rows = Store(db).runs() if db.exists() else []
    unstored = unstored_runs(db.parent, {r.run_id for r in rows})
    if not rows and not unstored:
        print(
            f"no runs stored in {db} (a run made with --results-dir DIR is stored in DIR/cnibench.db: "
            "use --db PATH or set CNIBENCH_RESULTS=DIR)"
        )
        return 0
    header = ("run", "name", "platform", "status", "started", "ok/samples", "cnis")
    body = [
        (r.run_id, r.name, r.platform, r.status, _when(r.started_at), f"{r.ok}/{r.samples}", r.cnis.replace(",", " "))
        for r in rows
    ]
    for results, _path in unstored:
        ok = sum(1 for s in results.samples if s.status == "ok")
        cnis = " ".join(dict.fromkeys(s.cni for s in results.samples))
        body.append(
            (results.run_id + " *", results.name, results.platform, results.status, _when(results.started_at),
             f"{ok}/{len(results.samples)}", cnis)
        )  # fmt: skip
    widths = [max(len(x) for x in col) for col in zip(header, *body, strict=True)]
    for row in (header, *body):
        print("  ".join(x.ljust(w) for x, w in zip(row, widths, strict=True)).rstrip())
    if unstored:
        print(f"* not in {db}: a run directory in {db.parent} (`cnibench status RUN_DIR` shows its progress)")
    return 0


def unstored_runs(results_dir: Path, stored: set[str]) -> list[tuple[RunResults, Path]]:
    """Run directories in ``results_dir`` whose run is not in ``stored``, as they are now (see :func:`observed`)."""
    found = []
    for path in sorted(results_dir.glob(f"*/{RESULTS_FILE}")):
        if path.parent.is_symlink() or path.parent.name in stored:  # results/latest points at a run
            continue
        try:
            results = read_results(path)
        except ResultsError:
            continue
        if results.run_id not in stored:
            found.append((observed(results), path.parent))
    return found


def status(ref: str = "latest", *, follow: bool = False, db: Path | None = None, interval: float = 1.0) -> int:
    """Where a run is, from any shell: its status (running, or abandoned when its process is gone) and, while it
    runs, the progress line it wrote last (``progress.json`` in the run directory, rewritten every second).
    ``follow`` redraws the line until the run ends."""
    results, run_dir = resolve(ref, Store(locate_store(db, [ref])))
    results = runstate.observed(results)  # the status line says what an abandoned run needs
    print(_status_line(results))
    if run_dir is None or results.status != "running":
        return 0
    tty = sys.stdout.isatty()
    shown: tuple[object, object] | None = None
    while True:
        progress = read_progress(run_dir)
        line, key = "no progress yet (the run is preparing its playbook)", None
        if progress is not None:
            age = max(time.time() - float(progress.get("updated_at", 0)), 0.0)
            line = str(progress["line"]) + (f" (as of {format_duration(age)} ago)" if age >= 3 else "")
            key = (progress.get("done"), progress.get("task"))
        if not follow:
            print(line)
            return 0
        if tty:
            sys.stdout.write("\r\033[K" + line)
            sys.stdout.flush()
        elif key != shown or progress is None:  # a pipe or a file gets a line when the run moves on, not a tick
            print(line, flush=True)
            shown = key
        time.sleep(interval)  # polls the run's own files: ends when the run does (or on Ctrl-C)
        results = runstate.observed(read_results(run_dir))
        if results.status != "running":
            if tty:
                sys.stdout.write("\r\033[K")
            print(_status_line(results))
            return 0


def _status_line(results: RunResults) -> str:
    line = f"run {results.run_id} ({results.name}, {results.platform}): {results.status}"
    if results.status == "running":
        owner = f"PID {results.owner.pid}, " if results.owner else ""
        since = format_duration(time.time() - results.started_at)
        line += f", {owner}started {_when(results.started_at)} ({since} ago)"
    else:
        ok = sum(1 for s in results.samples if s.status == "ok")
        line += f", {ok}/{max(results.planned_repetitions, len(results.samples))} repetitions ok"
        if results.ended_at and results.status != "abandoned":  # an abandoned run's end is when it was cleaned up
            line += f", took {format_duration(results.ended_at - results.started_at)}"
    return line + (f": {results.error}" if results.error else "")


def import_runs(paths: list[Path], db: Path | None = None) -> int:
    """Add run directories to the store. Every run is read and validated before the database is touched."""
    loaded = [(path, read_results(path)) for path in paths]
    for path, _ in loaded:
        if not path.is_dir():
            raise ResultsError(f"{path}: not a run directory")
    db = locate_store(db, paths)
    store = Store(db)
    for path, results in loaded:
        added = store.add(results, path)
        print(f"{'added' if added else 'already stored'}: {results.run_id} ({path}) in {db}")
    return 0


def write_output(path: Path, text: str) -> None:
    """Write a file a command was asked for; a failure is one line naming the file. Raises CnibenchError."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CnibenchError(f"cannot write {path}: {exc.strerror or exc} (choose another file with -o)") from None


def export(
    refs: str | list[str], *, fmt: str, output: Path | None = None, db: Path | None = None, summary: bool = False
) -> int:
    """Samples (one row per repetition) or, with ``summary``, statistics per run x CNI x scenario x metric, of
    one or several runs, as CSV or JSON."""
    refs = [refs] if isinstance(refs, str) else refs
    store = Store(locate_store(db, refs))
    runs_ = [resolve(ref, store)[0] for ref in refs]
    if summary:
        text = summary_csv(runs_) if fmt == "csv" else summary_json(runs_)
    elif fmt == "csv":
        text = export_csv(runs_)
    elif len(runs_) == 1:
        text = runs_[0].model_dump_json(indent=2) + "\n"
    else:
        text = json.dumps([r.model_dump(mode="json") for r in runs_], indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        write_output(output, text)
        print(f"wrote {output}", file=sys.stderr)
    return 0


def report(refs: list[str], *, output: Path | None = None, db: Path | None = None) -> int:
    refs = refs or ["latest"]
    store = Store(locate_store(db, refs))
    resolved = [resolve(ref, store) for ref in refs]
    runs_ = [observed(r) for r, _ in resolved]
    if output is None:
        only_dir = resolved[0][1] if len(resolved) == 1 else None
        output = only_dir / "report.html" if only_dir is not None else Path("report.html")
    built = document.build(runs_, [d for _, d in resolved])
    try:
        html_path, md_path = document.write(built, output)
    except OSError as exc:
        raise CnibenchError(
            f"cannot write {output}: {exc.strerror or exc} (write the report elsewhere with -o FILE)"
        ) from None
    print(f"report: {html_path} and {md_path} ({built.seconds:.2f} s)")
    return 0


def compare(a: str, b: str, *, threshold: float = DEFAULT_THRESHOLD, db: Path | None = None) -> int:
    """Exit code 1 when a metric got worse beyond the threshold, significantly; 0 otherwise."""
    store = Store(locate_store(db, [a, b]))
    (run_a, _), (run_b, _) = resolve(a, store), resolve(b, store)
    run_a, run_b = observed(run_a), observed(run_b)
    changes = analysis.compare(run_a, run_b, threshold)
    print(
        f"compare {run_a.run_id} (A) -> {run_b.run_id} (B); threshold {threshold:.0%}, Mann-Whitney U "
        "(one-sided: is B worse?), p <= 0.05"
    )
    for diff in analysis.environment_differences(run_a, run_b):
        print(f"warning: environments differ: {diff}")
    for diff in analysis.spec_differences(run_a, run_b):
        print(f"warning: scenario settings differ: {diff}")
    if not changes:
        print("nothing to compare: the runs share no CNI x scenario with results")
        return 0
    for change in changes:
        print(("  " if not change.worse else "! ") + change.describe())
    worse = [c for c in changes if c.worse]
    if any(min(c.before.n, c.after.n) <= 2 for c in changes):
        print("note: with 2 or fewer repetitions per side nothing can be significant")
    if worse:
        print(f"{len(worse)} metric(s) significantly worse by more than {threshold:.0%}")
        return 1
    print("no metric significantly worse beyond the threshold")
    return 0


def schema() -> int:
    print(json.dumps(json_schema(), indent=2))
    return 0


def parse(
    tool: str,
    path: Path,
    *,
    protocol: str | None = None,
    expected_source_ip: str | None = None,
    backends: list[str] | None = None,
    max_failed_rate: float = 0.0,
) -> int:
    """Print the sample one raw file gives (JSON); exit 0 whether it is ok or failed."""
    from cnibench.reanalysis import parse_artifact

    answer = parse_artifact(
        tool,
        path,
        protocol=protocol,
        expected_source_ip=expected_source_ip,
        backends=backends,
        max_failed_rate=max_failed_rate,
    )
    print(json.dumps(answer, indent=2))
    return 0


def reanalyze(ref: str, output: Path, *, db: Path | None = None) -> int:
    """A stored run, re-derived from its raw artifacts into a new run under ``output``; prints what changed."""
    from cnibench.reanalysis import reanalyze as remake

    store = Store(locate_store(db, [ref]))
    source, source_dir = resolve(ref, store)
    if source_dir is None:
        raise ResultsError(f"{ref}: the store does not know this run's directory (its raw artifacts are needed)")
    done = remake(source, source_dir, output)
    print(f"reanalyzed {source.run_id} (cnibench {source.cnibench_version}) into {done.results.run_id}")
    for line in done.changes or ["no figure changed"]:
        print(f"  {line}")
    print(format_summary(done.results, str(done.run_dir)))
    for line in store_and_report(done.run_dir, done.results, locate_store(db, results=output)):
        print(line)
    return 0
