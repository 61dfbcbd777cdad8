"""Writing files so that a reader or a crash sees the old content or the new one, never half of it."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

#: Mode asked for when creating a file; the process's umask takes away from it, as for any ``open(..., "w")``.
#: (``tempfile.mkstemp`` always creates 0600, which made ``results.json`` unreadable to everyone but its owner
#: while every other file of a run was 0644.)
FILE_MODE = 0o666


def atomic_write_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8) atomically and durably.

    Writes a temporary file in the same directory (created with :data:`FILE_MODE` minus the umask, like any other
    file), fsyncs it, renames it over ``path``, then fsyncs the directory so that the rename itself survives a
    crash (rename(2) is atomic but not durable until the directory is synced). Raises ``OSError``.
    """
    tmp = path.parent / f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    """Make a rename or a new entry in ``directory`` durable. Raises ``OSError``."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def output_problem(path: Path, *, directory: bool) -> str | None:
    """Why ``path`` (a ``-o`` argument) cannot be written, checked before anything is created; None when it can.

    ``directory``: ``path`` is a directory to create or fill (``render -o DIR``, ``reanalyze -o DIR``), else a file
    whose parent directories are created. Names the first part of the path that stands in the way: an existing
    file where a directory is needed (``-o afile/x``), a directory where a file is needed, or an existing directory
    that is not writable (``-o /proc/nope``)."""
    path = path.absolute()
    if path.exists():
        if directory and not path.is_dir():
            return f"{path}: is a file, not a directory"
        if not directory and path.is_dir():
            return f"{path}: is a directory, not a file"
    for parent in path.parents:
        if not parent.exists():
            continue
        if not parent.is_dir():
            return f"{parent}: is a file, not a directory (the output {path} would go inside it)"
        existing = path if directory and path.exists() else parent
        if not os.access(existing, os.W_OK | os.X_OK):
            return f"{existing}: cannot create files here (not writable for this user; choose another place with -o)"
        return None
    return None  # pragma: no cover - "/" always exists
