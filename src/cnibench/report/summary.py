"""The terminal summary of a run: per CNI x scenario, medians, spread, verification and the gateway's cost."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cnibench.results.model import EgressSample, RunResults, Sample
from cnibench.results.stats import CV_WARNING, Summary, summarize
from cnibench.scenarios import egress


@dataclass(frozen=True)
class Row:
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


def _values(samples: Sequence[Sample], get: Callable[[EgressSample], float | int | None]) -> list[float]:
    return [float(v) for s in samples if s.status == "ok" and (v := get(s)) is not None]


def rows(results: RunResults) -> list[Row]:
    groups: dict[tuple[str, str], list[Sample]] = {}
    for sample in results.samples:
        groups.setdefault((sample.cni, sample.scenario), []).append(sample)
    out = []
    for (cni, scenario), samples in groups.items():
        out.append(
            Row(
                cni=cni,
                scenario=scenario,
                ok=sum(1 for s in samples if s.status == "ok"),
                total=len(samples),
                throughput=summarize(_values(samples, lambda s: s.throughput_bps)),
                rtt=summarize(_values(samples, lambda s: s.rtt_mean_us)),
                retransmits=summarize(_values(samples, lambda s: s.retransmits)),
                jitter=summarize(_values(samples, lambda s: s.jitter_ms)),
                loss=summarize(_values(samples, lambda s: s.lost_percent)),
                verified=sum(1 for s in samples if s.source_ip_ok),
                verify_what="egress IP" if scenario == egress.NAME else "node IP",
            )
        )
    return out


def gateway_ratios(table: list[Row]) -> dict[str, float]:
    """Per CNI: median egress throughput / median baseline throughput (the egress gateway's cost)."""
    by_key = {(r.cni, r.scenario): r for r in table}
    ratios: dict[str, float] = {}
    for (cni, scenario), row in by_key.items():
        base = by_key.get((cni, egress.BASELINE))
        if scenario == egress.NAME and row.throughput and base and base.throughput and base.throughput.median:
            ratios[cni] = row.throughput.median / base.throughput.median
    return ratios


def _fmt(value: float | None, scale: float = 1.0, digits: int = 2) -> str:
    return "-" if value is None else f"{value / scale:.{digits}f}"


def format_summary(results: RunResults, run_dir: str) -> str:
    table = rows(results)
    ok = sum(r.ok for r in table)
    total = max(sum(r.total for r in table), results.planned_repetitions)
    not_run = total - sum(r.total for r in table)
    headline = f"cnibench run {results.run_id} on {results.platform}: {results.status}, {ok}/{total} repetitions ok"
    if not_run:
        headline += f" ({not_run} did not run)"
    lines = [headline]
    if results.error:
        lines.append(f"error: {results.error}")
    warnings: list[str] = []
    if table:
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
            cv = r.throughput.cv if r.throughput else None
            cv_text = "-" if cv is None else f"{cv * 100:.1f}%" + (" !" if cv >= CV_WARNING else "")
            if r.throughput and r.throughput.unstable:
                warnings.append(
                    f"{r.cni} {r.scenario}: throughput varies by {cv * 100:.0f}% (cv >= {CV_WARNING:.0%}); "  # type: ignore[operator]
                    "more repetitions or a quieter machine would help"
                )
            if r.ok < r.total:
                warnings.append(f"{r.cni} {r.scenario}: {r.total - r.ok} of {r.total} repetitions failed")
            cells: tuple[str, ...] = (
                r.cni,
                r.scenario,
                f"{r.ok}/{r.total}",
                _fmt(r.throughput.median if r.throughput else None, 1e9),
                cv_text,
            )
            if tcp:
                cells += (
                    _fmt(r.rtt.median if r.rtt else None, 1, 0),
                    _fmt(r.retransmits.median if r.retransmits else None, 1, 0),
                )
            if udp:
                cells += (
                    _fmt(r.jitter.median if r.jitter else None, 1, 3),
                    _fmt(r.loss.median if r.loss else None, 1, 2),
                )
            body.append((*cells, f"{r.verified}/{r.total} {r.verify_what}"))
        widths = [max(len(str(x)) for x in col) for col in zip(header, *body, strict=True)]
        for row in (header, *body):
            lines.append("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip())
        ratios = gateway_ratios(table)
        if ratios:
            lines.append(
                "egress gateway / baseline throughput: "
                + ", ".join(f"{cni} {ratio:.2f}" for cni, ratio in ratios.items())
            )
    failed = [s for s in results.samples if s.status == "failed"]
    for sample in failed[:5]:
        lines.append(f"failed: {sample.cni} {sample.scenario} rep {sample.repetition}: {sample.error}")
    if len(failed) > 5:
        lines.append(f"failed: ... and {len(failed) - 5} more (see results.json)")
    lines += [f"warning: {w}" for w in warnings]
    lines.append(f"results: {run_dir}")
    return "\n".join(lines)
