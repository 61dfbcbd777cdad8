"""The terminal summary of a run: per CNI x scenario, medians, spread, verification and the gateway's cost."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from cnibench.results.catalog import gateway_node
from cnibench.results.model import EgressSample, IngressSample, RunResults
from cnibench.results.stats import CV_WARNING, Summary, summarize
from cnibench.scenarios import egress

S = TypeVar("S", EgressSample, IngressSample)


def _summary(samples: Sequence[S], get: Callable[[S], float | int | None]) -> Summary | None:
    return summarize([float(v) for s in samples if s.status == "ok" and (v := get(s)) is not None])


@dataclass(frozen=True)
class Row:
    """One CNI x egress scenario."""

    cni: str
    scenario: str
    ok: int
    total: int
    throughput: Summary | None
    rtt: Summary | None
    retransmits: Summary | None
    jitter: Summary | None
    loss: Summary | None
    verified: int
    verify_what: str


@dataclass(frozen=True)
class IngressRow:
    cni: str
    gateway: str
    ok: int
    total: int
    rps: Summary | None
    p95: Summary | None
    p99: Summary | None
    failed: Summary | None
    fairness: Summary | None
    seen: int  # the fewest backends seen in any ok repetition
    expected: int


def _groups(samples: Sequence[S]) -> dict[tuple[str, str], list[S]]:
    groups: dict[tuple[str, str], list[S]] = {}
    for sample in samples:
        groups.setdefault((sample.cni, sample.scenario), []).append(sample)
    return groups


def rows(results: RunResults) -> list[Row]:
    samples = [s for s in results.samples if isinstance(s, EgressSample)]
    return [
        Row(
            cni=cni,
            scenario=scenario,
            ok=sum(1 for s in group if s.status == "ok"),
            total=len(group),
            throughput=_summary(group, lambda s: s.throughput_bps),
            rtt=_summary(group, lambda s: s.rtt_mean_us),
            retransmits=_summary(group, lambda s: s.retransmits),
            jitter=_summary(group, lambda s: s.jitter_ms),
            loss=_summary(group, lambda s: s.lost_percent),
            verified=sum(1 for s in group if s.source_ip_ok),
            verify_what="egress IP" if scenario == egress.NAME else "node IP",
        )
        for (cni, scenario), group in _groups(samples).items()
    ]


def ingress_rows(results: RunResults) -> list[IngressRow]:
    samples = [s for s in results.samples if isinstance(s, IngressSample)]
    out = []
    for (cni, _), group in _groups(samples).items():
        ok = [s for s in group if s.status == "ok"]
        out.append(
            IngressRow(
                cni=cni,
                gateway=group[0].gateway,
                ok=len(ok),
                total=len(group),
                rps=_summary(group, lambda s: s.requests_per_s),
                p95=_summary(group, lambda s: s.latency_p95_ms),
                p99=_summary(group, lambda s: s.latency_p99_ms),
                # over every repetition: the ones that failed are exactly those with failed requests
                failed=summarize([s.failed_rate for s in group if s.failed_rate is not None]),
                fairness=_summary(group, lambda s: s.jain_fairness),
                seen=min((s.backends_seen or 0 for s in ok), default=0),
                expected=group[0].backends_expected,
            )
        )
    return out


def gateway_ratios(table: list[Row]) -> dict[str, float]:
    """Per CNI: median egress throughput / median baseline throughput (the egress policy's cost)."""
    by_key = {(r.cni, r.scenario): r for r in table}
    ratios: dict[str, float] = {}
    for (cni, scenario), row in by_key.items():
        base = by_key.get((cni, egress.BASELINE))
        if scenario == egress.NAME and row.throughput and base and base.throughput and base.throughput.median:
            ratios[cni] = row.throughput.median / base.throughput.median
    return ratios


def _fmt(value: float | None, scale: float = 1.0, digits: int = 2) -> str:
    return "-" if value is None else f"{value / scale:.{digits}f}"


def _median(summary: Summary | None, scale: float = 1.0, digits: int = 2) -> str:
    return _fmt(summary.median if summary else None, scale, digits)


def _cv(summary: Summary | None) -> str:
    cv = summary.cv if summary else None
    return "-" if cv is None else f"{cv * 100:.1f}%" + (" !" if cv >= CV_WARNING else "")


def _table(header: tuple[str, ...], body: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(x) for x in col) for col in zip(header, *body, strict=True)]
    return ["  ".join(x.ljust(w) for x, w in zip(row, widths, strict=True)).rstrip() for row in (header, *body)]


def _unstable(what: str, summary: Summary | None, metric: str) -> list[str]:
    if summary is None or not summary.unstable or summary.cv is None:
        return []
    return [
        f"{what}: {metric} varies by {summary.cv * 100:.0f}% (cv >= {CV_WARNING:.0%}); "
        "more repetitions or a quieter machine would help"
    ]


def _egress_lines(table: list[Row], warnings: list[str]) -> list[str]:
    udp = any(r.jitter is not None for r in table)
    tcp = any(r.rtt is not None for r in table) or not udp
    header: tuple[str, ...] = ("cni", "scenario", "ok", "Gbit/s (median)", "cv")
    if tcp:
        header += ("RTT us (median)", "retransmits")
    if udp:
        header += ("jitter ms", "loss %")
    header += ("source IP",)
    body = []
    for r in table:
        warnings += _unstable(f"{r.cni} {r.scenario}", r.throughput, "throughput")
        if r.ok < r.total:
            warnings.append(f"{r.cni} {r.scenario}: {r.total - r.ok} of {r.total} repetitions failed")
        cells: tuple[str, ...] = (r.cni, r.scenario, f"{r.ok}/{r.total}", _median(r.throughput, 1e9), _cv(r.throughput))
        if tcp:
            cells += (_median(r.rtt, 1, 0), _median(r.retransmits, 1, 0))
        if udp:
            cells += (_median(r.jitter, 1, 3), _median(r.loss, 1, 2))
        body.append((*cells, f"{r.verified}/{r.total} {r.verify_what}"))
    lines = _table(header, body)
    ratios = gateway_ratios(table)
    if ratios:
        lines.append(
            "egress gateway / baseline throughput: " + ", ".join(f"{cni} {ratio:.2f}" for cni, ratio in ratios.items())
        )
    return lines


def _ingress_lines(table: list[IngressRow], warnings: list[str]) -> list[str]:
    header = ("cni", "ingress", "ok", "req/s (median)", "cv", "p95 ms", "p99 ms", "failed %", "fairness", "backends")
    body = []
    for r in table:
        warnings += _unstable(f"{r.cni} ingress", r.rps, "request rate")
        if r.ok < r.total:
            warnings.append(f"{r.cni} ingress: {r.total - r.ok} of {r.total} repetitions failed")
        if r.ok and r.seen < r.expected:
            warnings.append(f"{r.cni} ingress: only {r.seen} of {r.expected} backends answered in some repetition")
        body.append(
            (
                r.cni,
                r.gateway,
                f"{r.ok}/{r.total}",
                _median(r.rps, 1, 0),
                _cv(r.rps),
                _median(r.p95),
                _median(r.p99),
                _median(r.failed, 0.01),
                _median(r.fairness, 1, 3),
                f"{r.seen}/{r.expected}",
            )
        )
    return _table(header, body)


def _metrics_lines(results: RunResults, warnings: list[str]) -> list[str]:
    """The gateway node during each trial: CPU (the machine's, see the note) and transmit rate, medians."""
    groups: dict[tuple[str, str], list[EgressSample | IngressSample]] = {}
    for sample in results.samples:
        if sample.metrics_error:
            warnings.append(f"{sample.cni} {sample.scenario} rep {sample.repetition}: {sample.metrics_error}")
        if sample.node_metrics is not None and sample.status == "ok":
            groups.setdefault((sample.cni, sample.scenario), []).append(sample)
    lines = []
    for (cni, scenario), group in groups.items():
        node = gateway_node(results.environment, cni, scenario)
        figures = [s.node_metrics[node] for s in group if s.node_metrics and node in s.node_metrics]
        if not figures:
            continue
        cpu = summarize([f["cpu_util_avg"] for f in figures if "cpu_util_avg" in f])
        tx = summarize([f["net_tx_bps_avg"] for f in figures if "net_tx_bps_avg" in f])
        text = f"  {cni} {scenario}: gateway node {node}: CPU {_median(cpu, 0.01, 0)}% (machine)"
        if scenario != "ingress":
            text += f", transmit {_median(tx, 1e9)} Gbit/s"
        lines.append(text)
    if lines:
        interval = results.environment.get("metrics", {}).get("scrape_interval", "?")
        lines.insert(
            0,
            f"node metrics (Prometheus, {interval} scrape; medians of per-window averages; CPU is the whole "
            "machine's, network the node's own):",
        )
    return lines


def _apply_lines(results: RunResults) -> list[str]:
    """Kubernetes: how long each CNI took from applying the egress policy until the server saw the egress IP."""
    seen: dict[str, float] = {}
    for sample in results.samples:
        if isinstance(sample, EgressSample) and sample.egress_apply_s is not None:
            seen.setdefault(sample.cni, sample.egress_apply_s)
    if not seen:
        return []
    return ["egress policy realised (server saw the egress IP) after: " + ", ".join(
        f"{cni} {seconds:.1f} s" for cni, seconds in seen.items()
    )]  # fmt: skip


def format_summary(results: RunResults, run_dir: str) -> str:
    egress_table = rows(results)
    ingress_table = ingress_rows(results)
    ok = sum(1 for s in results.samples if s.status == "ok")
    total = max(len(results.samples), results.planned_repetitions)
    not_run = total - len(results.samples)
    headline = f"cnibench run {results.run_id} on {results.platform}: {results.status}, {ok}/{total} repetitions ok"
    if not_run:
        headline += f" ({not_run} did not run)"
    lines = [headline]
    if results.error:
        lines.append(f"error: {results.error}")
    warnings: list[str] = []
    if egress_table:
        lines += _egress_lines(egress_table, warnings)
        lines += _apply_lines(results)
    if ingress_table:
        lines += _ingress_lines(ingress_table, warnings)
    lines += _metrics_lines(results, warnings)
    failed = [s for s in results.samples if s.status == "failed"]
    for sample in failed[:5]:
        lines.append(f"failed: {sample.cni} {sample.scenario} rep {sample.repetition}: {sample.error}")
    if len(failed) > 5:
        lines.append(f"failed: ... and {len(failed) - 5} more (see results.json)")
    lines += [f"warning: {w}" for w in warnings]
    lines.append(f"results: {run_dir}")
    return "\n".join(lines)
