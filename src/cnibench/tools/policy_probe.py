"""The network-policy scenario's denied probe and its record (pure: argv builder and parsers).

Before each repetition under a policy, a source the policy does not admit (a pod without the clients' label) opens
a TCP connection to the server's iperf3 port with iperf3 itself (``--connect-timeout``): a policy that works drops
the SYN and the connect times out; a connection (or a RST: the SYN reached the server's host) means denied traffic
got through, and the repetition fails. Then the server node's policy table is listed (``nft -j``) so that the rules
and elements actually loaded are recorded, not assumed.

The record (:data:`FORMAT`) is one JSON document the platform's launcher prints: the probe's argv, exit code and
stdout (iperf3's JSON), the listing's text, and the measuring tool's argv, exit code, stdout and stderr.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cnibench.errors import MeasurementError

FORMAT = "cnibench-policy-probe/1"
#: ms iperf3 waits for the probe's connect: between namespaces a SYN/SYN-ACK takes tens of µs (FACTS.md), so a
#: connect not done in 500 ms was dropped.
PROBE_CONNECT_TIMEOUT_MS = 500
#: Seconds from the launcher's start to the tool's: the probe (a blocked connect: 0.5 s) and the listing run in them,
#: then the launcher waits out the rest, so that the tool starts at a known offset and the metrics window, which
#: leaves these seconds out, starts with the tool's own warm-up (a probe that got through runs iperf3's one-second
#: test and overruns them: its repetition has failed anyway).
PROBE_S = 1.0
Outcome = Literal["blocked", "passed", "unknown"]


def probe_argv(target: str, port: int) -> list[str]:
    """iperf3 connecting to ``target``:``port`` for one second at most, JSON out."""
    return ["iperf3", "--client", target, "--port", str(port), "--time", "1", "--connect-timeout",
            str(PROBE_CONNECT_TIMEOUT_MS), "--json"]  # fmt: skip


def outcome(stdout: str) -> tuple[Outcome, str]:
    """The probe's outcome from iperf3's JSON: ``passed`` (it connected: ``start.connected``, or the SYN was
    answered with a RST, "Connection refused"), ``blocked`` (the connect timed out), else ``unknown``; and
    iperf3's error or a short description."""
    try:
        doc = json.loads(stdout)
    except ValueError:
        return "unknown", f"the probe printed no JSON: {stdout.strip()[:200]!r}"
    connected = (doc.get("start") or {}).get("connected") or []
    error = str(doc.get("error") or "")
    if connected:
        return "passed", f"connected from {connected[0].get('local_host')} to {connected[0].get('remote_host')}"
    if "refused" in error.lower():
        return "passed", f"the SYN reached the server's host ({error})"
    if "timed out" in error.lower():
        return "blocked", error
    return "unknown", error or "iperf3 reported neither a connection nor an error"


@dataclass(frozen=True)
class ProbeRecord:
    """A repetition's record: the probe's outcome and detail, the server node's policy table listing (nft JSON
    text; None: not listed), and the measuring tool's stdout, stderr and exit code."""

    probe: Outcome
    probe_detail: str
    listing: str | None
    tool_stdout: str
    tool_stderr: str
    tool_exit_code: int


def parse_record(text: str) -> ProbeRecord | None:
    """The record of an artifact, or None when the artifact is the tool's own output (no probe: no policy).
    Raises :class:`MeasurementError` for a document that claims the format and is broken."""
    if not text.lstrip().startswith("{"):
        return None
    try:
        doc: dict[str, Any] = json.loads(text)
    except ValueError:
        return None  # iperf3's own JSON that was cut short: the tool's parser says what is wrong
    if doc.get("format") != FORMAT:
        return None
    try:
        probe, detail = outcome(str(doc["probe"]["stdout"]))
        tool = doc["tool"]
        listing = doc.get("listing")
        return ProbeRecord(probe, detail, str(listing) if listing is not None else None, str(tool["stdout"]),
                           str(tool["stderr"]), int(tool["exit_code"]))  # fmt: skip
    except (KeyError, TypeError, ValueError) as exc:
        raise MeasurementError(f"the artifact is not a {FORMAT} document ({exc})") from None


@dataclass(frozen=True)
class LoadedPolicy:
    """What a loaded policy table holds (read back from ``nft -j list table``): its rules (every chain's), its
    named sets and maps, and their elements."""

    rules: int
    sets: int
    elements: int


def loaded(listing: str | Mapping[str, Any], table: str | None = None) -> LoadedPolicy:
    """The rules, sets and elements of ``ip <table>`` (None: the listing's first ip table, as ``nft -j list table``
    lists one) in an ``nft -j list table``/``list ruleset`` document (libnftables-json(5): a list ``nftables`` of
    objects, each with one key: ``table``, ``chain``, ``rule``, ``set``, ``map``...; a set's or map's ``elem`` is its
    elements). Raises ValueError for a document that is not nft's JSON or has no such table."""
    try:
        doc = json.loads(listing) if isinstance(listing, str) else listing
        items: Iterable[Mapping[str, Any]] = doc["nftables"]
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"not an nft -j listing ({exc})") from None
    found = False
    rules = sets = elements = 0
    items = list(items)
    if table is None:
        tables = [obj.get("name") for item in items for kind, obj in item.items()
                  if kind == "table" and isinstance(obj, Mapping) and obj.get("family") == "ip"]  # fmt: skip
        table = str(tables[0]) if tables else ""
    for item in items:
        for kind, obj in item.items():
            if not isinstance(obj, Mapping) or obj.get("family") != "ip":
                continue
            name = obj.get("table") if kind != "table" else obj.get("name")
            if name != table:
                continue
            if kind == "table":
                found = True
            elif kind == "rule":
                rules += 1
            elif kind in ("set", "map"):
                sets += 1
                elements += len(obj.get("elem") or ())
    if not found:
        raise ValueError(f"no table ip {table} in the listing")
    return LoadedPolicy(rules, sets, elements)
