"""One exception hierarchy; ``main()`` turns any of these into one line on stderr and an exit code."""

from __future__ import annotations


class CnibenchError(Exception):
    """Root of every error cnibench reports to a user."""

    exit_code = 1


class SpecError(CnibenchError):
    """The experiment spec (or a command-line override) is invalid. Nothing was created."""

    exit_code = 2


class UsageError(CnibenchError):
    """A command-line argument is invalid (one the parser cannot judge alone). Nothing was done."""

    exit_code = 2


class PrerequisiteError(CnibenchError):
    """Something the platform needs is missing (a tool, a privilege). Nothing was created."""

    exit_code = 2


class PlatformError(CnibenchError):
    """Building, changing or removing the test bed failed."""


class MeasurementError(CnibenchError):
    """A measurement tool failed or its output could not be used."""


class ResultsError(CnibenchError):
    """A results file is missing, broken or of an unknown schema version."""

    exit_code = 2


class Interrupted(CnibenchError):
    """The run was stopped by SIGINT or SIGTERM; finished results were kept."""

    exit_code = 130
