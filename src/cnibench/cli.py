"""Command line: each subcommand parses its arguments and calls a plain function in :mod:`cnibench.commands`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from cnibench import __version__, commands
from cnibench.cli_results import add_results_commands
from cnibench.errors import CnibenchError
from cnibench.platforms import PLATFORMS
from cnibench.results.store import DB_ENV, RESULTS_ENV
from cnibench.scenarios import SCENARIOS

SCENARIO_NAMES = [name for name in SCENARIOS.names() if SCENARIOS.get(name).runnable]

EPILOG = """\
examples:
  cnibench run                          the default benchmark (netns: hostgw vs vxlan, egress and ingress,
                                        2 rounds x 3 repetitions each, about 5 minutes)
  cnibench run examples/local.yaml --repeat 5 --duration 20
  cnibench plan examples/local.yaml     what a run would do; creates nothing
  cnibench render examples/kind-antrea-vs-cilium.yaml -o rendered/
                                        every manifest, Helm values file and script a kind run applies
  cnibench doctor --platform kind       is Docker, kind, kubectl and Helm here?
  cnibench run examples/aks.yaml        AKS by Terraform (asks first: it costs money; --yes to skip)
  cnibench doctor                       are the prerequisites here?
  cnibench status --follow              the progress of the latest run, from another shell
  cnibench clean                        remove what a killed run left behind

global options (--debug, --version) go before or after the command.

where results are:
  run directories go to --results-dir, else $CNIBENCH_RESULTS, else ./results. The results database of every
  command that reads or writes it (run, runs, status, report, compare, import, export, reanalyze) is, first found:
  --db PATH > $CNIBENCH_DB > the database recorded in a run directory named on the command line (store.json,
  written by run) > $CNIBENCH_RESULTS/cnibench.db > ./results/cnibench.db
"""

#: Options that work before or after the subcommand (``cnibench --debug compare A B`` = ``compare A B --debug``).
DEBUG_HELP = "show tracebacks for errors"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {value}")
    return value


def _spec_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", nargs="?", type=Path, help="experiment spec (YAML); default: the built-in spec")
    parser.add_argument("--repeat", type=_positive_int, metavar="N", help="repetitions of every scenario per round")
    parser.add_argument(
        "--rounds",
        type=_positive_int,
        metavar="N",
        help="rounds: every CNI once per round on a fresh cluster, the order alternating (default: the platform's)",
    )
    parser.add_argument("--duration", type=_positive_int, metavar="S", help="measured seconds per repetition")
    parser.add_argument(
        "--only",
        action="append",
        metavar="SCENARIO",
        choices=SCENARIO_NAMES,
        help=f"run only this scenario ({', '.join(SCENARIO_NAMES)}; egress includes its baseline); repeatable",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnibench",
        description="Benchmark Kubernetes network plugins (CNIs): egress gateway and ingress scenarios, "
        "repeated, verified and summarised. The default platform builds the cluster from Linux network "
        "namespaces on this machine: no Docker, no Kubernetes.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _global_options(parser, default=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    run = sub.add_parser(
        "run",
        help="run a benchmark and print its summary",
        description="Validate the spec, check prerequisites, then round by round build a fresh cluster for every "
        "CNI (the order alternating between rounds), run every scenario's repetitions, verify them, record them "
        "in results/<run-id>/results.json as they finish, and tear everything down (also on failure, on Ctrl-C and "
        "when the terminal goes away). Exit code: 0 all repetitions ok, 1 a repetition or step failed, 2 bad input, "
        "a missing prerequisite or another run measuring on this machine (one at a time: see --wait), 128 + the "
        "signal's number when a signal stopped it (130 SIGINT, 129 SIGHUP, 131 SIGQUIT, 143 SIGTERM). Progress goes "
        "to a terminal and to progress.json in the run directory (`cnibench status`).",
    )
    _spec_args(run)
    run.add_argument(
        "--results-dir",
        type=Path,
        metavar="DIR",
        help=f"where run directories go (default: ${RESULTS_ENV}, else ./results; DIR/latest points at the newest)",
    )
    run.add_argument(
        "--yes",
        action="store_true",
        help="aks: create the (billable) Azure resources without asking",
    )
    run.add_argument(
        "--wait",
        action="store_true",
        help="when another run is measuring on this machine, wait for it to end (default: refuse, exit 2)",
    )
    run.add_argument(
        "--keep",
        action="store_true",
        help="kind, aks: leave the last CNI's cluster running; kubeconfig: leave what was deployed "
        "(`cnibench clean` deletes it later)",
    )
    run.add_argument(
        "--db",
        type=Path,
        metavar="PATH",
        help=f"results database the run is added to (default: ${DB_ENV}, else cnibench.db in the results "
        "directory); the run directory records it (store.json) for later commands",
    )
    progress = run.add_mutually_exclusive_group()
    progress.add_argument(
        "--progress",
        dest="progress",
        action="store_true",
        default=None,
        help="show progress even when stderr is not a terminal",
    )
    progress.add_argument("--no-progress", dest="progress", action="store_false", help="never show progress")

    plan = sub.add_parser(
        "plan",
        help="print the trial matrix and the steps of a run; creates nothing",
        description="Validate the spec and print what `run` would do: the matrix of CNI x scenario x "
        "repetition, the steps, and an estimate of the time. Nothing is created.",
    )
    _spec_args(plan)

    doctor = sub.add_parser(
        "doctor",
        help="check the prerequisites of a platform",
        description="Check privileges and tools a platform needs and say how to install what is missing. "
        "Exit code 0 when everything is there, 2 otherwise.",
    )
    doctor.add_argument(
        "--platform",
        choices=list(PLATFORMS.names()),
        help="platform to check (default netns; with --spec, the spec's)",
    )
    doctor.add_argument(
        "--spec", type=Path, metavar="SPEC", help="check what this spec's run needs (its platform and settings)"
    )

    render = sub.add_parser(
        "render",
        help="write every file a run would apply, without applying anything",
        description="Validate the spec and write everything a run would apply into DIR: on kind and kubeconfig "
        "the kind config, Helm values, Kubernetes manifests and k6 script; on netns the namespace bundles and "
        "daemon configs; plus the playbook's vars.json. Nothing is created outside DIR. The manifests can be "
        "checked offline (see the README).",
    )
    _spec_args(render)
    render.add_argument("-o", "--output", type=Path, required=True, metavar="DIR", help="an empty or new directory")

    clean = sub.add_parser(
        "clean",
        help="remove what a killed run left behind",
        description="Find network namespaces named cnib<hex>-* and the state files of runs in /run/cnibench; "
        "end a dead run's ansible-playbook and the processes inside its namespaces, delete the namespaces, "
        "and mark its results as abandoned. Runs whose cnibench process is still alive are left alone "
        "unless --force.",
    )
    clean.add_argument("--dry-run", action="store_true", help="only list what would be removed")
    clean.add_argument("--force", action="store_true", help="also remove runs whose owner is still running")

    sub.add_parser(
        "schema",
        help="print the JSON Schema of the spec (for editors)",
        description="Print the JSON Schema of the experiment spec.",
    )

    add_results_commands(sub)
    for subparser in sub.choices.values():
        _global_options(subparser, default=argparse.SUPPRESS)
    return parser


def _global_options(parser: argparse.ArgumentParser, *, default: object) -> None:
    """--debug and --version, on the main parser and on every subcommand. A subcommand's --debug defaults to
    SUPPRESS so that ``cnibench --debug run`` is not reset by the subcommand's own default."""
    parser.add_argument("--version", action="version", version=f"cnibench {__version__}")
    parser.add_argument("--debug", action="store_true", default=default, help=DEBUG_HELP)


#: Options whose value may start with "-" (``--threshold -5%``): argparse would take it for an option and say only
#: "expected one argument"; they are joined to their option (``--threshold=-5%``) so that the command says why.
SIGNED_VALUE_OPTIONS = ("--threshold",)


def _join_signed_values(argv: Sequence[str]) -> list[str]:
    out: list[str] = []
    items = iter(argv)
    for arg in items:
        if arg in SIGNED_VALUE_OPTIONS:
            value = next(items, None)
            if value is not None and value.startswith("-") and value[1:2].isdigit():
                out.append(f"{arg}={value}")
                continue
            out += [arg] if value is None else [arg, value]
            continue
        out.append(arg)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_join_signed_values(sys.argv[1:] if argv is None else argv))
    try:
        if args.command == "run":
            return commands.run(
                args.spec,
                repeat=args.repeat,
                duration=args.duration,
                rounds=args.rounds,
                only=args.only,
                results_dir=args.results_dir,
                db=args.db,
                progress=args.progress,
                keep=args.keep,
                wait=args.wait,
                yes=args.yes,
            )
        if args.command == "plan":
            return commands.plan(
                args.spec, repeat=args.repeat, duration=args.duration, rounds=args.rounds, only=args.only
            )
        if args.command == "doctor":
            return commands.doctor(args.platform, args.spec)
        if args.command == "render":
            return commands.render(
                args.spec, args.output, repeat=args.repeat, duration=args.duration, rounds=args.rounds, only=args.only
            )
        if args.command == "clean":
            return commands.clean(dry_run=args.dry_run, force=args.force)
        if args.command == "status":
            return commands.status(args.run, follow=args.follow, db=args.db)
        if args.command == "schema":
            return commands.schema()
        if args.command == "report":
            return commands.report(args.runs, output=args.output, db=args.db)
        if args.command == "compare":
            return commands.compare(
                args.a,
                args.b,
                threshold=args.threshold,
                metrics=args.metric,
                all_metrics=args.all_metrics,
                as_json=args.json,
                db=args.db,
                history=args.history,
                only_changed=args.only_changed,
            )
        if args.command == "summary":
            return commands.summary(args.run, as_json=args.json, db=args.db)
        if args.command == "runs":
            return commands.runs(args.db, as_json=args.json)
        if args.command == "import":
            return commands.import_runs(args.paths, args.db)
        if args.command == "ingest":
            from cnibench.commands.ingest import ingest

            return ingest(args.manifest, output=args.output, name=args.name, reference=args.reference, db=args.db)
        if args.command == "parse":
            return commands.parse(
                args.tool,
                args.file,
                protocol=args.protocol,
                expected_source_ip=args.expected_source_ip,
                backends=args.backends.split(",") if args.backends else None,
                max_failed_rate=args.max_failed_rate,
            )
        if args.command == "reanalyze":
            return commands.reanalyze(args.run, args.output, db=args.db)
        if args.command == "export":
            return commands.export(args.runs, fmt=args.fmt, output=args.output, db=args.db, summary=args.summary)
    except CnibenchError as exc:
        if args.debug:
            raise
        print(f"cnibench: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # `cnibench plan | head`: the reader went away, nothing to report
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("cnibench: interrupted", file=sys.stderr)
        return 130
    parser.error(f"unknown command {args.command}")  # pragma: no cover - argparse guards this
    return 2  # pragma: no cover
