"""One manifest row -> one sample, with cnibench's own parsers (:mod:`cnibench.tools.iperf3`, :mod:`cnibench.tools.k6`).

* An iperf3 row whose trial is an east-west code (``DTS``, ``dus``, ``HTS-SN``; case does not matter) or an east-west
  trial's name gives an :class:`~cnibench.scenarios.east_west.EastWestSample`: path, placement, protocol and
  streams from the code, checked against the file (a ``DUS`` row whose file is TCP, or ``-P 8`` for an ``S``
  code, is refused). Any other trial (free text) gives an
  :class:`~cnibench.scenarios.ingested.IngestedSample` of trial ``<tool>:<text>``; k6 rows always do (the ingress
  scenario's sample needs the gateway kind, VUs and connection reuse, which a summary file does not say).
* A file that is not the tool's output (not JSON, or JSON without iperf3's ``start`` section or k6's ``metrics``)
  is refused (:class:`~cnibench.ingest.manifest.ManifestError`, exit 2). Output that says the measurement failed
  (iperf3's ``error``, a test without an end summary, an empty file) gives a *failed* sample with the reason, as a
  failed repetition of a cnibench run: it counts, it never vanishes.
* iperf3 figures: the receiver's, as for a cnibench run. Without the server's JSON (no ``--get-server-output`` and
  no ``server_file``) a TCP test's throughput is still the receiver's (the client's ``end.sum_received``, which the
  server reported), RTT is the client's (the sender's), and the per-second rates are the sender's (noted); a UDP
  test's throughput is the client's ``end.sum_received`` (not ``end.sum``, the sent rate) and its loss and jitter
  are unknown (:data:`cnibench.tools.iperf3.UDP_CLIENT_ONLY`).
* The source address is verified only where the row gives ``expected_source``, against the address the server saw
  (its own JSON); without the server's JSON that check fails (it cannot be made).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cnibench.errors import MeasurementError
from cnibench.ingest.manifest import ManifestError, Row
from cnibench.results.sample import SampleBase
from cnibench.results.stats import jain_fairness
from cnibench.scenarios import _east_west_matrix as east_west
from cnibench.scenarios._iperf3 import figures
from cnibench.scenarios.east_west import EastWestSample
from cnibench.scenarios.ingested import IngestedSample, trial_name
from cnibench.tools import iperf3, k6
from cnibench.tools.base import json_documents

#: east-west's iperf3 codes (``DTS``, ``HUM-SN``) -> its matrix's points (an iperf3 file is a stream trial: the rr
#: and crr codes are sockperf's and ab's)
CODES = {point.code: point for point in east_west.ALL_POINTS if point.workload == "stream"}


@dataclass(frozen=True)
class Facts:
    """What a file says about where and when it was measured (iperf3's ``start``): kept as "from the files"."""

    version: str | None = None
    system_info: str | None = None
    started_at: float | None = None
    ended_at: float | None = None


@dataclass(frozen=True)
class Ingested:
    """A row's sample (its ``repetition`` to be numbered by the caller) and the facts its file gave."""

    row: Row
    sample: SampleBase
    facts: Facts


def east_west_point(trial: str) -> east_west.Point | None:
    """The east-west point of a code (``DTS``, ``dts``, ``STM-SN``) or trial name; None for free text."""
    return CODES.get(trial.strip().upper()) or east_west.POINTS.get(trial.strip())


def _where(row: Row, column: str = "file") -> str:
    return f"line {row.line}, column {column}"


def _iperf3_documents(row: Row) -> tuple[str, dict[str, Any] | None]:
    """The file's text and its first JSON document; None for an empty file (the tool wrote nothing: a failed
    measurement). Raises :class:`ManifestError` for a file that is not iperf3 ``-J`` output."""
    text = row.file.read_text(encoding="utf-8", errors="replace")
    if not text.strip():
        return text, None
    try:
        docs = json_documents(text, what="iperf3 output", empty="")
    except MeasurementError as exc:
        raise ManifestError(f"{_where(row)}: {row.file.name} is not iperf3 -J output: {exc}") from None
    doc = docs[0]
    if not isinstance(doc, dict) or not isinstance(doc.get("start"), dict) or not ("end" in doc or "error" in doc):
        raise ManifestError(
            f"{_where(row)}: {row.file.name} is not iperf3 -J output (a JSON object with start and end sections)"
        )
    return text, doc


def _server_document(row: Row) -> dict[str, Any]:
    """The separately saved server JSON of a row (one test: one document, or identical copies)."""
    assert row.server_file is not None
    text = row.server_file.read_text(encoding="utf-8", errors="replace")
    where = f"{_where(row, 'server_file')}: {row.server_file.name}"
    try:
        docs = json_documents(text, what="iperf3 server output", empty="empty")
    except MeasurementError as exc:
        raise ManifestError(f"{where} is not iperf3 -J output: {exc}") from None
    if any(d != docs[0] for d in docs[1:]):
        raise ManifestError(f"{where} holds {len(docs)} different tests; one test's server JSON per file is needed")
    doc = docs[0]
    if not isinstance(doc, dict) or not isinstance(doc.get("start"), dict) or "end" not in doc:
        raise ManifestError(f"{where} is not an iperf3 server's -J output (a JSON object with start and end)")
    return doc


def _facts(doc: dict[str, Any] | None) -> Facts:
    if doc is None:
        return Facts()
    start = doc.get("start") if isinstance(doc.get("start"), dict) else {}
    assert isinstance(start, dict)
    version = iperf3.version_of(str(start.get("version") or ""))
    stamp = (start.get("timestamp") or {}).get("timesecs") if isinstance(start.get("timestamp"), dict) else None
    begun = float(stamp) if isinstance(stamp, int | float) and not isinstance(stamp, bool) else None
    ended = None
    test = start.get("test_start") if isinstance(start.get("test_start"), dict) else {}
    assert isinstance(test, dict)
    if begun is not None and isinstance(test.get("duration"), int | float):
        ended = begun + float(test.get("omit") or 0) + float(test["duration"])
    info = start.get("system_info")
    return Facts(version, str(info) if info else None, begun, ended)


def iperf3_sample(row: Row) -> Ingested:
    """The sample of an iperf3 row (see the module). Raises :class:`ManifestError` for a file that is not iperf3
    output or disagrees with the row's east-west code."""
    text, doc = _iperf3_documents(row)
    point = east_west_point(row.trial)
    facts = _facts(doc)
    common: dict[str, Any] = {
        "cni": row.cni,
        "repetition": 1,
        "round": row.round,
        "started_at": facts.started_at,
        "ended_at": facts.ended_at,
    }
    if doc is not None and row.server_file is not None:
        if doc.get("server_output_json") is not None:
            raise ManifestError(f"{_where(row, 'server_file')}: the client's file already holds the server's JSON")
        text = json.dumps({**doc, "server_output_json": _server_document(row)})
    test = ((doc or {}).get("start") or {}).get("test_start") or {}
    protocol = str(test.get("protocol", "")).lower() or None
    streams = test.get("num_streams") if isinstance(test.get("num_streams"), int) else None
    if point is not None and doc is not None and not doc.get("error"):
        _check_code(row, point, protocol, streams)
    error: str | None = None
    result: iperf3.Iperf3Result | None = None
    try:
        result = iperf3.parse_client_json(text, udp_client_only=True)
    except MeasurementError as exc:
        error = str(exc) if doc is not None else "the file is empty: iperf3 wrote nothing (the test did not run)"
    source_ok: bool | None = None
    if result is not None and row.expected_source is not None:
        source_ok = result.source_ip_seen == row.expected_source
        if result.source_ip_seen is None:
            error = f"expected_source {row.expected_source}: the server's JSON is missing, so who it saw is unknown"
        elif not source_ok:
            error = f"the server saw {result.source_ip_seen}, expected_source is {row.expected_source}"
    status = "failed" if error else "ok"
    found = figures(result) if result is not None else {}
    if point is not None:
        sample: SampleBase = EastWestSample(
            **common,
            scenario=point.trial,
            status=status,
            error=error,
            path=point.path,
            placement=point.placement,
            protocol=point.protocol,
            streams=streams if streams is not None else 1,
            code=point.code,
            client_ip=row.expected_source,
            **found,
            source_ip_seen=result.source_ip_seen if result else None,
            source_ip_ok=source_ok,
            connected_to=result.client_connected_to if result else None,
            verified=bool(source_ok),
        )
    else:
        sample = IngestedSample(
            **common,
            scenario=trial_name("iperf3", row.trial),
            status=status,
            error=error,
            tool="iperf3",
            source_scenario=row.scenario,
            protocol=protocol,
            streams=streams,
            **found,
            source_ip_seen=result.source_ip_seen if result else None,
            expected_source=row.expected_source,
            source_ip_ok=source_ok,
        )
    return Ingested(row, sample, facts)


def _check_code(row: Row, point: east_west.Point, protocol: str | None, streams: int | None) -> None:
    if protocol is not None and protocol != point.protocol:
        raise ManifestError(
            f"{_where(row, 'trial')}: {row.trial} is {point.protocol.upper()} ({point.code}) but "
            f"{row.file.name} is a {protocol.upper()} test"
        )
    if streams is not None and (streams > 1) != (point.streams == "multi"):
        raise ManifestError(
            f"{_where(row, 'trial')}: {row.trial} is {point.streams}-stream ({point.code}) but {row.file.name} ran "
            f"{streams} stream(s) (-P)"
        )


def k6_sample(row: Row) -> Ingested:
    """The sample of a k6 row: the trial ``k6:<trial>``; backend hits only for the row's ``backends``. Raises
    :class:`ManifestError` for a file that is not a k6 summary."""
    text = row.file.read_text(encoding="utf-8", errors="replace")
    common: dict[str, Any] = {"cni": row.cni, "repetition": 1, "round": row.round}
    fields: dict[str, Any] = {}
    error: str | None = None
    if not text.strip():
        error = "the file is empty: k6 wrote no summary"
    else:
        try:
            doc = json_documents(text, what="k6 summary", empty="")[0]
        except MeasurementError as exc:
            raise ManifestError(f"{_where(row)}: {row.file.name} is not a k6 summary: {exc}") from None
        if not isinstance(doc, dict) or not ("metrics" in doc or "results" in doc):
            raise ManifestError(f"{_where(row)}: {row.file.name} is not a k6 --summary-export file (no metrics)")
        try:
            result = k6.parse_summary(text, list(row.backends))
        except MeasurementError as exc:
            error = str(exc)
        else:
            hits = [result.backend_hits[b] for b in row.backends]
            fields = {
                "requests": result.requests,
                "requests_per_s": result.requests_per_s,
                "latency_avg_ms": result.latency_avg_ms,
                "latency_p50_ms": result.latency_p50_ms,
                "latency_p90_ms": result.latency_p90_ms,
                "latency_p95_ms": result.latency_p95_ms,
                "latency_p99_ms": result.latency_p99_ms,
                "latency_max_ms": result.latency_max_ms,
                "failed_rate": result.failed_rate,
                "data_received_bps": result.data_received_bps,
                "backend_hits": result.backend_hits if row.backends else {},
            }
            if result.failed_rate > 0:
                error = f"{result.failed_rate:.2%} of the requests failed"
            elif row.backends and min(hits) == 0:
                silent = [b for b in row.backends if result.backend_hits[b] == 0]
                error = f"backend(s) {', '.join(silent)} never answered (Jain index {jain_fairness(hits)})"
    sample = IngestedSample(
        **common,
        scenario=trial_name("k6", row.trial),
        status="failed" if error else "ok",
        error=error,
        tool="k6",
        source_scenario=row.scenario,
        **fields,
    )
    return Ingested(row, sample, Facts())


def sample_of(row: Row) -> Ingested:
    """The sample of one row (see the module)."""
    return iperf3_sample(row) if row.tool == "iperf3" else k6_sample(row)
