"""The one choke point for subprocesses: argv lists only, always a timeout, errors carry the output."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Sequence

from cnibench.errors import CnibenchError


class CommandError(CnibenchError):
    """A command exited non-zero, timed out or could not be started."""

    def __init__(self, argv: Sequence[str], returncode: int | None, stdout: str, stderr: str, why: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.detail = _summary(stderr) or _last_line(stdout)
        detail = self.detail
        message = f"{shlex.join(self.argv)}: {why}"
        if detail:
            message += f": {detail}"
        super().__init__(message)


def _summary(text: str, limit: int = 400) -> str:
    """A tool's complaint on one line: its error lines first (iproute2 says "Error: ..." before the
    "Command failed file:line" trailer), else its last line."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    chosen = errors[-2:] if errors else lines[-1:]
    if errors and lines[-1] not in chosen:
        chosen.append(lines[-1])
    return " ".join(chosen)[:limit]


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def run(
    argv: Sequence[str],
    *,
    timeout: float = 30.0,
    check: bool = True,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` (never through a shell) and return its completed process.

    Raises :class:`CommandError` when the command cannot be started, runs past ``timeout`` seconds,
    or (with ``check``) exits non-zero.
    """
    argv = [str(a) for a in argv]
    try:
        proc = subprocess.run(
            argv,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise CommandError(argv, None, "", "", f"command not found ({exc.filename})") from exc
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout if isinstance(exc.stdout, str) else (exc.stdout or b"").decode(errors="replace")
        err = exc.stderr if isinstance(exc.stderr, str) else (exc.stderr or b"").decode(errors="replace")
        raise CommandError(argv, None, out, err, f"timed out after {timeout:g} s") from exc
    if check and proc.returncode != 0:
        raise CommandError(argv, proc.returncode, proc.stdout, proc.stderr, f"exit code {proc.returncode}")
    return proc
