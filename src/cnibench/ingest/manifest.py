"""The manifest of ``cnibench ingest``: a CSV file (RFC 4180, read with the standard ``csv`` module), one row per raw
tool output, a header row first.

Columns (the header names them; their order is free):

* ``file`` (required): the tool's output, a path relative to the manifest's directory;
* ``tool`` (required): ``iperf3`` (a client's ``-J`` output) or ``k6`` (a ``--summary-export`` file);
* ``cni`` (required): what is compared (any label: ``antrea``, ``cilium-wg``, ``baremetal``);
* ``trial`` (required): an east-west code (``DTS``, ``DUM``, ``HTS-SN``...), ``ingress`` for a k6 file, or free
  text (see :mod:`cnibench.ingest.trials`);
* ``round`` (required): the cluster the measurement came from, an integer from 1 (a fresh cluster or a fresh OS
  install is a new round: the experimental unit);
* ``repetition``: the measurement's number on that cluster, an integer from 1 (default: the rows' order);
* ``scenario``: ``east-west`` (iperf3's default) or ``ingress`` (k6's default);
* ``server_file``: the iperf3 server's own ``-J`` output of the same test, when it was saved separately;
* ``expected_source``: an IPv4/IPv6 address the iperf3 server must have seen as the client (needs the server's
  JSON: ``--get-server-output`` or ``server_file``);
* ``backends``: k6: the backend names that should have answered, separated by ``;`` or spaces.

Every error is one line naming the row (its line number in the file, the header being line 1) and the column;
:class:`ManifestError` is a :class:`~cnibench.errors.UsageError` (exit code 2).
"""

from __future__ import annotations

import csv
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cnibench.errors import UsageError

TOOLS = ("iperf3", "k6")
REQUIRED = ("file", "tool", "cni", "trial", "round")
OPTIONAL = ("repetition", "scenario", "server_file", "expected_source", "backends")
#: The scenario a tool's rows belong to when the row names none (the issue's defaults).
DEFAULT_SCENARIO = {"iperf3": "east-west", "k6": "ingress"}
#: The scenarios a tool's rows may name.
SCENARIOS_OF_TOOL = {"iperf3": ("east-west",), "k6": ("ingress",)}


class ManifestError(UsageError):
    """A manifest that cannot be ingested: one line naming the file, the row's line and the column. Exit code 2."""


@dataclass(frozen=True)
class Row:
    """One valid row: ``line`` is its line number in the manifest (the header is line 1); paths are absolute."""

    line: int
    file: Path
    tool: str
    cni: str
    trial: str
    round: int
    repetition: int | None
    scenario: str
    server_file: Path | None
    expected_source: str | None
    backends: tuple[str, ...]

    @property
    def key(self) -> tuple[str, str, int, int | None]:
        return (self.cni, self.trial, self.round, self.repetition)


def _positive_int(text: str, where: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ManifestError(f"{where}: {text!r} is not an integer (a round or repetition is 1, 2, 3...)") from None
    if value < 1:
        raise ManifestError(f"{where}: {value} is not a positive integer (rounds and repetitions count from 1)")
    return value


def _existing_file(base: Path, text: str, where: str) -> Path:
    if not text:
        raise ManifestError(f"{where}: empty (the path of the tool's output, relative to the manifest)")
    path = (base / text).resolve()
    if not path.exists():
        raise ManifestError(f"{where}: {text}: no such file (paths are relative to the manifest's directory)")
    if not path.is_file():
        raise ManifestError(f"{where}: {text}: not a regular file")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise ManifestError(f"{where}: {text}: cannot read: {exc.strerror or exc}") from None
    return path


def read_manifest(path: Path) -> list[Row]:
    """The rows of the manifest at ``path``, validated: every required column present and non-empty, ``tool`` and
    ``scenario`` known, ``round`` and ``repetition`` positive integers, every file readable, no duplicate row (the
    same cni, trial, round and repetition, or the same file twice). Raises :class:`ManifestError` at the first
    problem; nothing is read from the tools' outputs here (:mod:`cnibench.ingest.samples` does)."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM from a spreadsheet's "CSV UTF-8" export is no header
    except FileNotFoundError:
        raise ManifestError(f"{path}: no such manifest") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: cannot read the manifest: {exc}") from None
    reader = csv.reader(text.splitlines(), strict=True)
    try:
        header = next(reader, None)
        records = []  # (the record's first line, its fields)
        first = reader.line_num + 1
        for fields in reader:
            records.append((first, fields))
            first = reader.line_num + 1
    except csv.Error as exc:
        raise ManifestError(f"{path}: line {reader.line_num}: not CSV: {exc}") from None
    if not header or not any(h.strip() for h in header):
        raise ManifestError(f"{path}: empty manifest (a header row {','.join(REQUIRED)} is needed)")
    names = [name.strip() for name in header]
    for name in names:
        if name not in REQUIRED + OPTIONAL:
            raise ManifestError(
                f"{path}: line 1, column {name!r}: unknown column; valid: {', '.join(REQUIRED + OPTIONAL)}"
            )
    if len(set(names)) != len(names):
        raise ManifestError(f"{path}: line 1: a column is named twice")
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise ManifestError(f"{path}: line 1: missing column(s) {', '.join(missing)} (required: {', '.join(REQUIRED)})")
    base = path.parent
    rows: list[Row] = []
    seen_keys: dict[tuple[str, str, int, int | None], int] = {}
    seen_files: dict[Path, int] = {}
    for line, fields in records:
        if not any(f.strip() for f in fields):
            continue  # a blank line
        if len(fields) > len(names):
            raise ManifestError(f"{path}: line {line}: {len(fields)} fields but the header has {len(names)} columns")
        row = _row(dict(zip(names, (f.strip() for f in fields), strict=False)), line, base, path)
        if row.repetition is not None and row.key in seen_keys:
            raise ManifestError(
                f"{path}: line {line}, columns cni/trial/round/repetition: duplicate of line {seen_keys[row.key]} "
                f"({row.cni}, {row.trial}, round {row.round}, repetition {row.repetition})"
            )
        if row.file in seen_files:
            raise ManifestError(f"{path}: line {line}, column file: the same file as line {seen_files[row.file]}")
        seen_keys.setdefault(row.key, line)
        seen_files[row.file] = line
        rows.append(row)
    if not rows:
        raise ManifestError(f"{path}: no rows after the header (one row per tool output is needed)")
    numbered = {r.key for r in rows if r.repetition is not None}
    for row in rows:  # a row without a repetition beside numbered rows of the same cluster: which one is it?
        if row.repetition is None and any(k[:3] == row.key[:3] for k in numbered):
            raise ManifestError(
                f"{path}: line {row.line}, column repetition: empty while other rows of {row.cni}, {row.trial}, "
                f"round {row.round} number theirs (number all of them or none)"
            )
    return rows


def _row(values: dict[str, str], line: int, base: Path, path: Path) -> Row:
    where = f"{path}: line {line}"
    for name in REQUIRED:
        if not values.get(name):
            raise ManifestError(f"{where}, column {name}: empty (required)")
    tool = values["tool"]
    if tool not in TOOLS:
        raise ManifestError(f"{where}, column tool: unknown tool {tool!r}; valid: {', '.join(TOOLS)}")
    scenario = values.get("scenario") or DEFAULT_SCENARIO[tool]
    if scenario not in SCENARIOS_OF_TOOL[tool]:
        raise ManifestError(
            f"{where}, column scenario: {scenario!r} is not a scenario of {tool} output; valid: "
            f"{', '.join(SCENARIOS_OF_TOOL[tool])}"
        )
    round_ = _positive_int(values["round"], f"{where}, column round")
    repetition = (
        _positive_int(values["repetition"], f"{where}, column repetition") if values.get("repetition") else None
    )
    file = _existing_file(base, values["file"], f"{where}, column file")
    server_file = None
    if values.get("server_file"):
        if tool != "iperf3":
            raise ManifestError(f"{where}, column server_file: only for iperf3 rows (the iperf3 server's -J output)")
        server_file = _existing_file(base, values["server_file"], f"{where}, column server_file")
    expected = values.get("expected_source") or None
    if expected is not None:
        if tool != "iperf3":
            raise ManifestError(f"{where}, column expected_source: only for iperf3 rows (the client the server saw)")
        try:
            expected = str(ipaddress.ip_address(expected))
        except ValueError:
            raise ManifestError(f"{where}, column expected_source: {expected!r} is not an IP address") from None
    backends: tuple[str, ...] = ()
    if values.get("backends"):
        if tool != "k6":
            raise ManifestError(f"{where}, column backends: only for k6 rows (the backends that should answer)")
        backends = tuple(name for name in values["backends"].replace(";", " ").split() if name)
        if len(set(backends)) != len(backends):
            raise ManifestError(f"{where}, column backends: a backend is named twice")
    return Row(
        line=line,
        file=file,
        tool=tool,
        cni=values["cni"],
        trial=values["trial"],
        round=round_,
        repetition=repetition,
        scenario=scenario,
        server_file=server_file,
        expected_source=expected,
        backends=backends,
    )
