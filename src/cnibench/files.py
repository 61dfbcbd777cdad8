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
