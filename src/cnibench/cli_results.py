"""The command line's subcommands that read the results (status, report, compare, runs, import, parse,
reanalyze, export): their arguments; :mod:`cnibench.cli` parses and dispatches them."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cnibench.reanalysis import PROMETHEUS
from cnibench.results.compare import contest_metrics
from cnibench.results.store import DB_ENV, RESULTS_ENV
from cnibench.scenarios import parse_tools


def add_results_commands(sub: Any) -> None:
    """Add the results subcommands to ``sub`` (the main parser's subparsers action)."""
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
    db_arg(status)

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
    db_arg(report)

    compare = sub.add_parser(
        "compare",
        help="judge run B against run A as a CI gate; exit 1 on a regression",
        description="Judge run B against run A, or with --history N a run against the store's last N runs of the "
        "same spec. A regression (one line each, exit code 1) is: a CNI x scenario of A that B lacks, with fewer "
        "successful repetitions, or with any failed or missing repetition; B not complete; a check (failed "
        "requests, backend fairness, UDP loss) that A kept and B broke; a gated metric whose outcome is "
        "'different' in the worse direction by at least the threshold. The unit is the cluster (A's clusters "
        "against B's, Student's t on the log values, a simultaneous 95%% interval over the gated tests, "
        "Bonferroni); with --history the unit is the run (a t prediction interval from the earlier runs). Gated "
        "by default: each scenario's primary metrics; the others are reported, not gated. Exit code 0 without a "
        "regression, 2 for bad input.",
    )
    compare.add_argument("a", metavar="A", help="the reference run (directory, results.json or stored run id)")
    compare.add_argument("b", metavar="B", nargs="?", help="the run to judge (not with --history)")
    compare.add_argument(
        "--history",
        type=int,
        metavar="N",
        help="judge run A against the store's last N earlier complete runs with A's name and platform",
    )
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
    compare.add_argument(
        "--only-changed", action="store_true", help="the table shows only what changed (different, or a regression)"
    )
    db_arg(compare)

    summary = sub.add_parser(
        "summary",
        help="print a finished run's terminal summary again, or its verdicts as JSON",
        description="Print the summary a run printed when it finished (status, settings, the verdicts, the tables "
        "and warnings); with --json its verdicts, one object per scenario, trial, contest metric and CNI compared "
        "with the reference: outcome (different | equivalent | inconclusive), ratio, ci, ci_level, p_adjusted, "
        "margin, mde, clusters.",
    )
    summary.add_argument(
        "run", nargs="?", default="latest", metavar="RUN", help="run directory, results.json or stored run id"
    )
    summary.add_argument("--json", action="store_true", help="the verdicts as JSON")
    db_arg(summary)

    runs = sub.add_parser(
        "runs",
        help="list the runs in the results store",
        description="List the runs stored in the results database, then the run directories beside it that are "
        "not stored yet (marked *): still running, or abandoned when their cnibench process is gone (then "
        "`cnibench clean` removes what they left). Per run: scenarios, CNIs, status, start, duration, successful "
        "repetitions and how many primary comparisons came out different, equivalent, inconclusive.",
    )
    runs.add_argument("--json", action="store_true", help="the same as JSON (times in ISO 8601, UTC)")
    db_arg(runs)

    import_ = sub.add_parser(
        "import",
        help="add run directories to the results store",
        description="Add finished run directories to the results database (`run` adds its own). Every run is "
        "validated before the database is touched; adding a run twice does nothing.",
    )
    import_.add_argument("paths", nargs="+", type=Path, metavar="RUN_DIR")
    db_arg(import_)

    ingest = sub.add_parser(
        "ingest",
        help="make a run of iperf3 and k6 outputs cnibench did not run, listed in a CSV manifest",
        description="Read the raw outputs a CSV manifest lists (columns file, tool, cni, trial, round; optional "
        "repetition, scenario, server_file, expected_source, backends; see the README) with cnibench's parsers and "
        "store them as a run: results.json, raw/ copies, report.html and report.md, a row in the store; summary, "
        "report, compare and export work on it. The round (a fresh cluster) is the unit of the verdicts; the "
        "reference is --reference or the manifest's first cni. A bad manifest: one line naming the row and the "
        "column, exit code 2, nothing stored.",
    )
    ingest.add_argument("manifest", type=Path, metavar="MANIFEST", help="the CSV manifest")
    ingest.add_argument(
        "-o", "--output", type=Path, metavar="DIR", help=f"results directory (default: ${RESULTS_ENV} or ./results)"
    )
    ingest.add_argument("--name", metavar="NAME", help="the run's name (default: ingest-<manifest's directory>)")
    ingest.add_argument("--reference", metavar="CNI", help="the cni every other is compared with (default: the first)")
    db_arg(ingest)

    parse = sub.add_parser(
        "parse",
        help="derive a sample's figures from one raw tool output, as a run would (for debugging a number)",
        description="Read one raw file as a run would and print the sample it gives as JSON on stdout: status, "
        "error and the metric keys exactly as in results.json samples. TOOL: iperf3 (a client's -J "
        "--get-server-output output), k6 (a --summary-export file), prometheus (a repetition's saved "
        "rep-NN.metrics/ directory). Exit code 0 when a sample could be made (ok or failed), 2 for a missing or "
        "unreadable file.",
    )
    tools = [*parse_tools(), PROMETHEUS]
    parse.add_argument("tool", choices=tools, metavar="TOOL", help=", ".join(tools[:-1]) + f" or {tools[-1]}")
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
    db_arg(export)


def db_arg(parser: argparse.ArgumentParser) -> None:
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
