"""The east-west scenario's request/response workloads (``rr``: sockperf ping-pong, ``crr``: ab against nginx):
their sample fields, metrics, the sample maker on a repetition's artifact, and their lines of the summary.

A repetition's artifact is the tool's stdout (Kubernetes: ``kubectl exec``) or, on netns, the JSON document of
:mod:`cnibench.platforms.netns.conntrack_watch` (the tool's stdout and stderr and every node's conntrack samples over
the window). ab writes its percentile file (``-e``) to its stdout: the block is cut out of the report here.

Figures per repetition (issue 28): rr: transactions/s and the round-trip latency p50/p90/p99/p99.9/max (µs,
sockperf's order statistics), the Little's-law product (transactions/s x mean latency, 1 with one transaction
outstanding: :func:`cnibench.tools.workload.littles_law`); a repetition beyond the tolerance is failed with the
reason, its figures kept (flagged, never averaged in). crr: connections/s, failed requests, ab's latency
percentiles (no p99.9: ab gives whole percents); a repetition with a failed request has no rate and is failed. Both:
per node the conntrack window (:class:`cnibench.tools.conntrack.ConntrackWindow`) and the CPU seconds per 1,000
transactions net of the idle window before the repetition (:mod:`cnibench.scenarios.load`)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from cnibench.errors import MeasurementError
from cnibench.repetition import Expectation, MeasureCommand, Repetition
from cnibench.results.metric import FASTER, SLOWER, MetricInfo
from cnibench.results.sample import Record, SampleBase
from cnibench.tools import ab, sockperf
from cnibench.tools.conntrack import ConntrackWindow, parse_conntrack_stats, window
from cnibench.tools.workload import Workload, littles_law

if TYPE_CHECKING:
    from cnibench.doctor import Check
    from cnibench.scenarios._east_west_matrix import EastWestSettings, Point

#: Per-transaction latencies: rr's round trip (sockperf), crr's connect to response (ab); one meaning, "the time of
#: one transaction", so that a metric's name has one label everywhere (:func:`cnibench.scenarios.metric_named`).
#: 5 µs: about a quarter of the ~17 µs p50 round trip between two namespaces here (docs/rr-research.md).
LATENCY_P99 = MetricInfo("latency_p99_us", "transaction latency p99", "µs", 1.0, "lower", 1, absolute=5.0,
                         words=SLOWER)  # fmt: skip
LATENCY_P50 = MetricInfo("latency_p50_us", "transaction latency p50", "µs", 1.0, "lower", 1, absolute=2.0,
                         words=SLOWER)  # fmt: skip
COST = MetricInfo("cpu_s_per_1k_transactions", "CPU s per 1,000 transactions", "s", 1.0, "lower", 4,
                  absolute=1e-4, words=("costlier", "cheaper"))  # fmt: skip
#: rr: the p99 round trip and transactions/s lead (issue 28's primary metrics).
RR_METRICS: tuple[MetricInfo, ...] = (
    replace(LATENCY_P99, primary=True),
    MetricInfo("transactions_per_s", "transactions/s", "1/s", 1.0, "higher", 0, primary=True, words=FASTER),
    LATENCY_P50,
    MetricInfo("latency_p99_9_us", "transaction latency p99.9", "µs", 1.0, "lower", 1, absolute=10.0, words=SLOWER),
    COST,
)
#: crr: connections/s leads; a failed request fails its repetition (the check).
CRR_METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("connections_per_s", "connections/s", "1/s", 1.0, "higher", 0, primary=True, words=FASTER),
    LATENCY_P50,
    LATENCY_P99,
    COST,
    MetricInfo("failed_requests", "failed requests", "", 1.0, "lower", 0, role="check", limit=0.0),
)
COST_FIELD = "cpu_s_per_1k_transactions"
#: The tool of each request/response workload (its artifacts' names, the plan's tool column).
TOOL = {"rr": "sockperf", "crr": "ab"}
#: The request/response servers' ports (beside iperf3's 5201): sockperf TCP and UDP, nginx for crr.
RR_PORTS = {"tcp": sockperf.DEFAULT_PORT, "udp": sockperf.DEFAULT_PORT + 1}
CRR_PORT = 8080
#: What ab asks for: nginx on netns answers any path with a 1-byte body; traefik/whoami's ``/data?size=1`` answers
#: with a 1-byte body too (whoami's README: "/data?size=n[&unit=u]: creates a response with a size n").
CRR_PATH = "/data?size=1"
#: Seconds ab may need around its -t (its start, the last connection): a margin, ~0.1 s measured here.
AB_STARTUP_S = 1.0
#: Seconds a repetition may run past its expected wall time before it is killed.
TIMEOUT_MARGIN = 20.0


class NodeConntrack(Record):
    """One node's conntrack table over a repetition's window (:class:`cnibench.tools.conntrack.ConntrackWindow`):
    entries at start, peak, end, the limit (``nf_conntrack_max``) and the counters' increase."""

    node: str
    entries_start: int
    entries_peak: int
    entries_end: int
    limit: int | None = None
    insert_failed: int
    drop: int
    early_drop: int
    invalid: int
    samples: int = Field(description="Samples taken over the window (start and end included).")
    source: str = Field(
        "netns sampler",
        description="netns sampler (/proc every 0.2 s; the counters from conntrack -S at its start and end) or "
        "node_exporter (its scrapes).",
    )
    filled: bool = Field(description="The table reached its limit at a sample.")
    troubled: bool = Field(description="Filled, or insert failures, drops or early drops in the window.")


class RequestResponseFields(SampleBase):
    """The sample fields of the rr and crr workloads (None on a stream sample)."""

    workload: Workload = "stream"
    message_size: int | None = Field(None, description="rr: bytes of each request and response (sockperf -m).")
    transactions: int | None = Field(None, description="Transactions completed in the measured window.")
    transactions_per_s: float | None = None
    run_time_s: float | None = Field(None, description="The tool's measured window, s.")
    latency_mean_us: float | None = Field(None, description="rr: mean round trip, µs.")
    latency_p50_us: float | None = Field(
        None, description="Per transaction, µs (rr: round trip; crr: connect to response)."
    )
    latency_p90_us: float | None = None
    latency_p99_us: float | None = None
    latency_p99_9_us: float | None = Field(None, description="rr only (ab has whole percents only).")
    latency_max_us: float | None = None
    dropped_messages: int | None = Field(None, description="rr: sockperf's dropped messages (UDP).")
    interrupted: bool | None = None
    little_product: float | None = Field(None, description="rr: transactions/s x mean latency (1 = Little's law).")
    little_ok: bool | None = Field(None, description="rr: within the tolerance of 1 (a repetition beyond it failed).")
    connections_per_s: float | None = Field(None, description="crr: successful connections per s.")
    failed_requests: int | None = Field(None, description="crr: ab's failed requests (connect, receive...).")
    failed_connects: int | None = Field(None, description="crr: ab's failed connects.")
    conntrack: list[NodeConntrack] = Field(default_factory=list, description="Per node, the table over the window.")
    cpu_s_per_1k_transactions: float | None = Field(
        None, description="CPU s per 1,000 transactions (crr: connections), net of the idle baseline."
    )


def _node_windows(conntrack: dict[str, list[dict[str, Any]]]) -> list[NodeConntrack]:
    from cnibench.tools.conntrack import table_of

    out = []
    for node, records in conntrack.items():
        errors = [r["error"] for r in records if "error" in r]
        if errors:
            raise MeasurementError(f"conntrack on {node}: {errors[0]}")
        win = window([table_of(r) for r in records])
        stats = [r.get("stats") for r in (records[0], records[-1])]
        if all(isinstance(text, str) for text in stats):  # the counters as conntrack -S read them, start to end
            first, last = (parse_conntrack_stats(str(text)) for text in stats)
            win = dataclasses.replace(win, counters=last.minus(first))
        out.append(node_conntrack(node, win, len(records), "netns sampler"))
    return out


def node_conntrack(node: str, win: ConntrackWindow, samples: int, source: str) -> NodeConntrack:
    """A node's window as the sample records it."""
    c = win.counters
    return NodeConntrack(
        node=node, entries_start=win.entries_start, entries_peak=win.entries_peak, entries_end=win.entries_end,
        limit=win.limit, insert_failed=c.insert_failed, drop=c.drop, early_drop=c.early_drop, invalid=c.invalid,
        samples=samples, filled=win.filled, troubled=win.troubled, source=source,
    )  # fmt: skip


def unwrap(text: str) -> tuple[str, str, int | None, list[NodeConntrack]]:
    """The tool's stdout, stderr, exit code (None: unknown) and the nodes' conntrack windows of an artifact: the
    netns launcher's JSON document, or the tool's stdout itself. Raises :class:`MeasurementError` for a document
    that is broken or a conntrack window that cannot be made."""
    from cnibench.tools.conntrack import WATCH_FORMAT as FORMAT

    if not text.lstrip().startswith("{"):
        return text, "", None, []
    try:
        doc = json.loads(text)
        if doc.get("format") != FORMAT:
            raise MeasurementError(f"the artifact is JSON but not {FORMAT}")
        return str(doc["stdout"]), str(doc["stderr"]), int(doc["exit_code"]), _node_windows(doc["conntrack"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise MeasurementError(f"the artifact is not a {FORMAT} document ({exc})") from None


def split_ab(stdout: str) -> tuple[str, str | None]:
    """ab's stdout with ``-e /dev/stdout``: (its report, the percentile file's text; None when not there). ab writes
    the file through its own handle, before the report (checked with ab 2.3)."""
    lines = stdout.splitlines()
    try:
        start = lines.index("Percentage served,Time in ms")
    except ValueError:
        return stdout, None
    end = start + 1
    while end < len(lines) and lines[end][:1].isdigit() and "," in lines[end]:
        end += 1
    return "\n".join(lines[:start] + lines[end:]), "\n".join(lines[start:end])


def rr_fields(stdout: str) -> tuple[dict[str, Any], str | None]:
    """The rr sample fields of sockperf's stdout and the Little's-law flag (None: it holds). Raises
    :class:`MeasurementError` (sockperf measured nothing)."""
    r = sockperf.parse(stdout)
    check = littles_law(r.transactions_per_s, r.latency_mean_us)
    fields = {
        "transactions": r.transactions, "transactions_per_s": r.transactions_per_s, "run_time_s": r.run_time_s,
        "latency_mean_us": r.latency_mean_us, "latency_p50_us": r.latency_p50_us, "latency_p90_us": r.latency_p90_us,
        "latency_p99_us": r.latency_p99_us, "latency_p99_9_us": r.latency_p99_9_us, "latency_max_us": r.latency_max_us,
        "dropped_messages": r.dropped, "interrupted": r.interrupted, "little_product": check.product,
        "little_ok": check.ok,
    }  # fmt: skip
    errors = [] if check.ok else [check.note()]
    if r.interrupted:
        errors.append(f"sockperf was interrupted: a {r.run_time_s:g} s window")
    if not r.round_trip:
        errors.append("sockperf reported half round trips (no --full-rtt)")
    return fields, "; ".join(errors) or None


def crr_fields(stdout: str, stderr: str) -> tuple[dict[str, Any], str | None]:
    """The crr sample fields of ab's stdout (its percentile block inside) and stderr, and why it failed (None: it
    did not). Raises :class:`MeasurementError` (ab measured nothing)."""
    report, csv = split_ab(stdout)
    r = ab.parse(report, stderr, csv)
    fields = {
        "transactions": r.connections, "transactions_per_s": r.connections_per_s, "run_time_s": r.time_taken_s,
        "connections_per_s": r.connections_per_s, "failed_requests": r.failed, "failed_connects": r.failed_connect,
        "latency_p50_us": r.latency_p50_us, "latency_p90_us": r.latency_p90_us, "latency_p99_us": r.latency_p99_us,
        "latency_max_us": r.latency_max_us,
    }  # fmt: skip
    if r.connections is None:
        why = (
            f"ab: {r.failed} of {r.complete} requests failed (connect {r.failed_connect}, receive {r.failed_receive}, "
            f"length {r.failed_length}, exceptions {r.failed_exceptions}), {r.non_2xx} non-2xx"
        )
        return fields, why
    if csv is None:
        return fields, "ab wrote no percentile block (-e)"
    return fields, None


def request_response(text: str, workload: str) -> tuple[dict[str, Any], list[str]]:
    """A repetition's rr/crr sample fields and its errors (empty: ok) from the artifact's ``text``. Raises
    :class:`MeasurementError` when the tool measured nothing."""
    stdout, stderr, code, nodes = unwrap(text)
    if workload == "rr":
        fields, error = rr_fields(stdout)
    else:
        fields, error = crr_fields(stdout, stderr)
    errors = [error] if error else []
    if code not in (None, 0) and not errors:
        errors.append(f"the tool exited with {code}")
    return {**fields, "conntrack": nodes}, errors


def work_per_s(sample: SampleBase) -> float | None:
    """Thousands of transactions per s of an ok rr/crr sample (the CPU cost's unit of work), else None."""
    rate = getattr(sample, "transactions_per_s", None)
    return rate / 1000.0 if sample.status == "ok" and rate else None


def with_exported_conntrack(sample: SampleBase, metrics_dir: Path) -> SampleBase:
    """A sample without its own conntrack windows (Kubernetes: the tool's stdout alone) with node_exporter's, from
    the saved ``conntrack.json`` (:mod:`cnibench.metrics.conntrack`), of every node; unchanged when it has its own
    or none were saved; a note when they cannot be read."""
    from cnibench.metrics.conntrack import conntrack_windows
    from cnibench.metrics.prometheus import PrometheusError

    if getattr(sample, "conntrack", None):
        return sample
    try:
        windows = conntrack_windows(metrics_dir)
    except PrometheusError as exc:
        return sample.model_copy(update={"notes": [*sample.notes, f"conntrack from node_exporter: {exc}"]})
    if not windows:
        return sample
    nodes = [node_conntrack(node, win, n, "node_exporter") for node, (win, n) in windows.items()]
    return sample.model_copy(update={"conntrack": nodes})


def with_transaction_cost(sample: SampleBase, metrics_dir: Path) -> SampleBase:
    """``sample`` with its CPU cost per 1,000 transactions (the fixed-load method: :func:`cost_from_cores` over
    the measured window less the idle one before it); unchanged without work or saved counters, a note when the
    counters cannot be read."""
    from cnibench.metrics.cpu import cpu_windows
    from cnibench.metrics.prometheus import PrometheusError
    from cnibench.scenarios.load import cost_from_cores

    sample = with_exported_conntrack(sample, metrics_dir)
    work = work_per_s(sample)
    if work is None:
        return sample
    try:
        windows = cpu_windows(metrics_dir)
    except PrometheusError as exc:
        return sample.model_copy(update={"notes": [*sample.notes, f"CPU cost per transaction not computed: {exc}"]})
    if windows is None:
        return sample
    cost = cost_from_cores(
        scope=windows.scope, window_s=windows.window_s, load_cores=windows.load_cores,
        idle_window_s=windows.idle_window_s, idle_cores=windows.idle_cores, work_per_s=work,
    )  # fmt: skip
    if cost is None:
        return sample
    return sample.model_copy(update={"cpu_cost": cost, COST_FIELD: cost.per_unit["total"]})


def rr_checks(workloads: Sequence[str]) -> list[Check]:
    """``doctor``'s checks of the tools the chosen request/response workloads run here (netns)."""
    from cnibench.doctor import check_tool

    needs = {
        "rr": [("sockperf", "apt-get install -y sockperf")],
        "crr": [("ab", "apt-get install -y apache2-utils"), ("nginx", "apt-get install -y nginx-light")],
    }
    return [check_tool(t, hint, what=f"{t} (east-west {w})") for w in workloads for t, hint in needs.get(w, [])]


def rr_wall(settings: EastWestSettings, workload: str) -> float:
    """An rr/crr repetition's wall time (s): the idle baseline (as long as the measured window), the tool's start
    and its duration."""
    return 2.0 * settings.duration + (sockperf.STARTUP_S if workload == "rr" else AB_STARTUP_S)


def rr_settings_text(settings: EastWestSettings, point: Point) -> str:
    """An rr/crr trial's settings in a few words (``plan``)."""
    if point.workload == "rr":
        what = f"{point.protocol} request/response, {settings.message_size}-byte messages (sockperf ping-pong)"
    else:
        what = "tcp connect, request, response, close (ab -c 1 against nginx)"
    return f"{point.code}: {what}, one outstanding, {settings.duration} s, {settings.duration} s idle baseline first"


def rr_settings_words(settings: EastWestSettings) -> str:
    """What the request/response workloads add to the scenario's settings text (empty without one)."""
    chosen = [w for w in settings.workloads if w != "stream"]
    if not chosen:
        return ""
    size = f"{settings.message_size}-byte rr messages, " if "rr" in chosen else ""
    return f"; {'/'.join(chosen)}: {size}one outstanding, an idle baseline first"


def rr_repetitions(
    expectation: Callable[..., Expectation], settings: EastWestSettings, point: Point, cni: str, numbers: range,
    artifact_dir: Path, target_ip: str, expect: Mapping[str, Any], netns: str,
    wrap: Callable[[list[str]], list[str]] | None,
) -> list[Repetition]:  # fmt: skip
    """The repetitions of an rr or crr trial: sockperf ping-pong or ab (its ``-e`` block to its stdout) from the
    client (in ``netns``; ``wrap``: what the platform wraps the argv in, the netns conntrack launcher) to
    ``target_ip``, each after an idle window as long as the measured one (the CPU cost's baseline);
    ``expectation``: the scenario's expectation model, given ``expect`` (the endpoints the platform knows)."""
    if point.workload == "rr":
        argv = sockperf.client_argv(target_ip, protocol=point.protocol, duration=settings.duration,
                                    message_size=settings.message_size, port=RR_PORTS[point.protocol],
                                    full_log=None)  # fmt: skip
        startup = sockperf.STARTUP_S - 1.0  # its start and warm-up before the window; the cool-down is after it
    else:
        host = f"[{target_ip}]" if ":" in target_ip else target_ip
        argv = ab.client_argv(
            f"http://{host}:{CRR_PORT}{CRR_PATH}", duration=settings.duration, percentiles_csv="/dev/stdout"
        )
        startup = 0.0
    argv = wrap(argv) if wrap is not None else argv
    idle, wall = float(settings.duration), rr_wall(settings, point.workload)
    full = expectation(
        path=point.path, placement=point.placement, protocol=point.protocol, streams=1, code=point.code,
        workload=point.workload, message_size=settings.message_size if point.workload == "rr" else None,
        target_ip=target_ip, **expect,
    )  # fmt: skip
    out = []
    for number in numbers:
        artifact = artifact_dir / f"rep-{number:02d}.{TOOL[point.workload]}.out"
        command = MeasureCommand(argv=tuple(argv), stdout=artifact, timeout_s=wall + TIMEOUT_MARGIN, netns=netns,
                                 idle_s=idle)  # fmt: skip
        out.append(Repetition(cni, point.trial, number, artifact, command, wall, idle + startup, full))
    return out
