"""The subcommands as plain functions (tests call these directly); they print and return an exit code."""

from cnibench.commands.clean import clean, mark_killed
from cnibench.commands.doctor import doctor
from cnibench.commands.parse import parse, reanalyze
from cnibench.commands.plan import plan, render, schema
from cnibench.commands.results import (
    compare,
    export,
    import_runs,
    observed,
    report,
    runs,
    status,
    summary,
    unstored_runs,
)
from cnibench.commands.run import run, store_and_report

__all__ = [
    "clean",
    "compare",
    "doctor",
    "export",
    "import_runs",
    "mark_killed",
    "observed",
    "parse",
    "plan",
    "reanalyze",
    "render",
    "report",
    "run",
    "runs",
    "schema",
    "status",
    "store_and_report",
    "summary",
    "unstored_runs",
]
