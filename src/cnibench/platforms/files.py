"""Rendered files of one directory, written by :meth:`Files.write` when a compiled run is put in place (compiling
itself writes nothing): plain text, or YAML documents (a list becomes a multi-document file); and empty directories
(an nginx prefix's ``tmp``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class Files:
    """``documents``: relative path -> text, a YAML document (dict) or several (list); ``dirs``: directories to
    create. YAML files start with a ``# rendered by cnibench`` line."""

    documents: dict[str, Any] = field(default_factory=dict)
    dirs: list[str] = field(default_factory=list)

    def write(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        for name in self.dirs:
            (directory / name).mkdir(parents=True, exist_ok=True)
        for name, content in self.documents.items():
            path = directory / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, str):
                text = content
            elif isinstance(content, list):
                text = "# rendered by cnibench\n" + yaml.safe_dump_all(content, sort_keys=False)
            else:
                text = "# rendered by cnibench\n" + yaml.safe_dump(content, sort_keys=False)
            path.write_text(text, encoding="utf-8")
        return directory
