"""Command line: each subcommand parses its arguments and calls a plain function in :mod:`cnibench.commands`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from cnibench import __version__, commands
from cnibench.errors import CnibenchError
from cnibench.platforms import PLATFORMS
from cnibench.results.compare import contest_metrics
from cnibench.results.store import DB_ENV, RESULTS_ENV
from cnibench.scenarios import SCENARIOS

SCENARIO_NAMES = list(SCENARIOS.names())

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
        "--platform", default="netns", choices=list(PLATFORMS.names()), help="platform to check (default netns)"
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

    status = sub.add_parser(
        "status",
        help="where a run is: its status and progress, from any shell",
        description="Print a run's status (a run whose cnibench process is gone shows as abandoned) and, while it "
        "runs, its progress line as the run last wrote it to progress.json in its directory (every second). "
        "For a run started detached (tmux, nohup, systemd-run) or in another terminal.",
    )
    status.add_argument(
        "run",
        nargs="?",
        default="latest",
        metavar="RUN",
        help="run directory, results.json or stored run id (default: results/latest)",
    )
    status.add_argument("-f", "--follow", action="store_true", help="keep showing the progress until the run ends")
    _db_arg(status)

    sub.add_parser(
        "schema",
        help="print the JSON Schema of the spec (for editors)",
        description="Print the JSON Schema of the experiment spec.",
    )

    report = sub.add_parser(
        "report",
        help="write the HTML report and Markdown summary of one or more runs",
        description="Write a self-contained HTML report (plots embedded, no scripts or external files) and a "
        "Markdown summary from the same data: per run the settings and the headline answer first (each primary "
        "metric: how the CNIs differ, the 95% interval, the p-value, significant or not), then per scenario each "
        "CNI's median with its exact order-statistic interval and the level it really has, the difference and "
        "whether it is significant (Mann-Whitney U, exact up to 100 values, Holm-corrected p <= 0.05, and at "
        "least 5%; only a significant winner is highlighted), the checks, the warnings next to the numbers they "
        "concern; over several runs, each CNI's change from run to run (as `compare`); plots, environment. `run` "
        "writes one for every run.",
    )
    report.add_argument(
        "runs", nargs="*", metavar="RUN", help="run directories, results.json files or stored run ids (default: latest)"
    )
    report.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="FILE",
        help="HTML file (default: report.html in the run directory; ./report.html for several)",
    )
    _db_arg(report)

    compare = sub.add_parser(
        "compare",
        help="judge run B against run A as a CI gate; exit 1 on a regression",
        description="Judge run B against run A. A regression (one line each, exit code 1) is: a CNI x scenario of "
        "A that B lacks, with fewer successful repetitions, or with any failed or missing repetition; B not "
        "complete; a check (failed requests, backend fairness, UDP loss) that A kept and B broke; a gated metric "
        "that got worse by at least the threshold with p <= 0.05 in a one-sided Mann-Whitney test (exact up to "
        "100 values), corrected with Holm's method over the gated tests (a metric whose median in A is 0 uses its "
        "own absolute minimum). Gated by default: each scenario's primary metrics (throughput, requests/s, latency "
        "p95); the others are reported, not gated. Exit code 0 without a regression, 2 for bad input. Notes when "
        "the runs' environments or scenario settings differ, and when the repetitions are too few for any gated "
        "metric to be significant.",
    )
    compare.add_argument("a", metavar="A", help="the reference run (directory, results.json or stored run id)")
    compare.add_argument("b", metavar="B", help="the run to judge")
    compare.add_argument(
        "--threshold",
        default="5%",
        metavar="CHANGE",
        help="smallest relative change that counts: a percentage (5%%) or a fraction (0.05); a bare 5 is refused "
        "(default 5%%)",
    )
    compare.add_argument(
        "--metric",
        action="append",
        metavar="NAME",
        help=f"gate on this metric (a sample field: {', '.join(contest_metrics())}) instead of the primary ones; "
        "repeatable",
    )
    compare.add_argument("--all-metrics", action="store_true", help="gate on every metric")
    compare.add_argument("--json", action="store_true", help="print the comparison as JSON (same exit codes)")
    _db_arg(compare)

    runs = sub.add_parser(
        "runs",
        help="list the runs in the results store",
        description="List the runs stored in the results database, then the run directories beside it that are "
        "not stored yet (marked *): still running, or abandoned when their cnibench process is gone (then "
        "`cnibench clean` removes what they left).",
    )
    _db_arg(runs)

    import_ = sub.add_parser(
        "import",
        help="add run directories to the results store",
        description="Add finished run directories to the results database (`run` adds its own). Every run is "
        "validated before the database is touched; adding a run twice does nothing.",
    )
    import_.add_argument("paths", nargs="+", type=Path, metavar="RUN_DIR")
    _db_arg(import_)

    parse = sub.add_parser(
        "parse",
        help="derive a sample's figures from one raw tool output, as a run would (for debugging a number)",
        description="Read one raw file as a run would and print the sample it gives as JSON on stdout: status, "
        "error and the metric keys exactly as in results.json samples. TOOL: iperf3 (a client's -J "
        "--get-server-output output), k6 (a --summary-export file), prometheus (a repetition's saved "
        "rep-NN.metrics/ directory). Exit code 0 when a sample could be made (ok or failed), 2 for a missing or "
        "unreadable file.",
    )
    parse.add_argument("tool", choices=["iperf3", "k6", "prometheus"], metavar="TOOL", help="iperf3, k6 or prometheus")
    parse.add_argument("file", type=Path, metavar="FILE", help="the raw output (prometheus: the *.metrics directory)")
    parse.add_argument("--protocol", choices=["tcp", "udp"], help="iperf3: the protocol (default: from the file)")
    parse.add_argument(
        "--expected-source-ip", metavar="IP", help="iperf3: the address the server must have seen (default: no check)"
    )
    parse.add_argument(
        "--backends", metavar="A,B,C", help="k6: the echo backends that should answer (default: those it counted)"
    )
    parse.add_argument(
        "--max-failed-rate",
        type=_failed_rate,
        default=0.0,
        metavar="F",
        help="k6: the fraction of failed requests above which the repetition fails (default 0)",
    )

    reanalyze = sub.add_parser(
        "reanalyze",
        help="re-derive a stored run's samples from its raw artifacts with today's parsers",
        description="Read every raw artifact of a finished run again with this cnibench's parsers and write the "
        "result as a NEW run in DIR (a new run id; results.json records which run and cnibench version it came "
        "from); the original run is never modified. Prints which figures changed, the summary, and adds the new "
        "run to the store and writes its report, as `run` does.",
    )
    reanalyze.add_argument("run", metavar="RUN", help="run directory, results.json or stored run id")
    reanalyze.add_argument(
        "-o", "--output", type=Path, required=True, metavar="DIR", help="results directory for the new run"
    )
    reanalyze.add_argument(
        "--db",
        type=Path,
        metavar="PATH",
        help=f"results database for the new run, and where a stored RUN id is looked up (default for the new run: "
        f"${DB_ENV}, else cnibench.db in DIR; for RUN: the rule below)",
    )

    export = sub.add_parser(
        "export",
        help="write runs' samples, or their statistics, as CSV or JSON",
        description="Write the samples of one or more runs (CSV: one row per repetition; JSON: the run's record, "
        "a list of them for several runs), or with --summary the statistics per run x CNI x scenario x metric "
        "(n, failed, median and its exact order-statistic interval with the level it really has, mean, stdev, "
        "min, max, cv, warnings; values in the "
        "unit the metric's name says: _bps bit/s, _us microseconds, _ms milliseconds, failed_rate a fraction).",
    )
    export.add_argument("runs", nargs="+", metavar="RUN", help="run directories, results.json files or stored run ids")
    fmt = export.add_mutually_exclusive_group(required=True)
    fmt.add_argument("--csv", dest="fmt", action="store_const", const="csv")
    fmt.add_argument("--json", dest="fmt", action="store_const", const="json")
    export.add_argument(
        "--summary", action="store_true", help="statistics per run x CNI x scenario x metric instead of samples"
    )
    export.add_argument("-o", "--output", type=Path, metavar="FILE", help="default: standard output")
    _db_arg(export)
    for subparser in sub.choices.values():
        _global_options(subparser, default=argparse.SUPPRESS)
    return parser


def _global_options(parser: argparse.ArgumentParser, *, default: object) -> None:
    """--debug and --version, on the main parser and on every subcommand. A subcommand's --debug defaults to
    SUPPRESS so that ``cnibench --debug run`` is not reset by the subcommand's own default."""
    parser.add_argument("--version", action="version", version=f"cnibench {__version__}")
    parser.add_argument("--debug", action="store_true", default=default, help=DEBUG_HELP)


def _db_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        type=Path,
        metavar="PATH",
        help=f"results database (default: ${DB_ENV}; else the one the run directory named here records; else "
        f"${RESULTS_ENV}/cnibench.db; else ./results/cnibench.db)",
    )


def _failed_rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a fraction from 0 to 1, got {text}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
            )
        if args.command == "runs":
            return commands.runs(args.db)
        if args.command == "import":
            return commands.import_runs(args.paths, args.db)
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
