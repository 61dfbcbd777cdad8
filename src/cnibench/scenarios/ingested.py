"""Ingested trials: measurements cnibench did not run (``cnibench ingest``) whose trial is free text, so that no
scenario of cnibench's own describes what they measured (which path, which gateway).

Such a trial is named ``<tool>:<text>`` (``iperf3:pod-to-external``, ``k6:l7-keepalive``): the prefix says which
tool's figures its samples carry, so every command finds its metrics by the trial's name alone, as for every
other scenario (:func:`cnibench.scenarios.scenario_of`), and no other scenario's trial can start with it (their
names are fixed words). The sample holds what the file gave and nothing more: no path, placement, gateway or node
(unknown, so absent). It cannot be run: it is not a section of the spec (``runnable`` False), and a run's plan
never has its trials. East-west codes (``DTS``) and k6 ``ingress`` rows keep their own scenarios' samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from cnibench.repetition import Expectation
from cnibench.report.text import median_text, summarize_field, table
from cnibench.results.metric import FASTER, SLOWER, MetricInfo
from cnibench.results.sample import SampleBase
from cnibench.scenarios import SCENARIOS
from cnibench.scenarios._iperf3 import IPERF3_METRICS, Iperf3Fields
from cnibench.scenarios._k6 import K6Fields
from cnibench.scenarios.base import Scenario, Trial
from cnibench.spec.model import ScenarioSettings

NAME = "ingested"
#: The tools whose free-text trials this scenario holds, each the prefix of its trials' names.
TOOLS = ("iperf3", "k6")
PREFIX_SEP = ":"
TRIAL_PATTERN = r"^(iperf3|k6):\S.*$"
#: k6's figures, as the ingress scenario ranks them (no backend fairness: the backends are the file's, if any).
K6_METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("requests_per_s", "requests/s", "req/s", 1.0, "higher", 0, primary=True, words=FASTER),
    MetricInfo("latency_p50_ms", "latency p50", "ms", 1.0, "lower", words=SLOWER),
    MetricInfo("latency_p95_ms", "latency p95", "ms", 1.0, "lower", primary=True, words=SLOWER),
    MetricInfo("latency_p99_ms", "latency p99", "ms", 1.0, "lower", words=SLOWER),
    MetricInfo("failed_rate", "failed requests", "%", 0.01, "lower", role="check", limit=0.0),
)


def trial_name(tool: str, text: str) -> str:
    """``iperf3``, ``pod to external`` -> ``iperf3:pod to external``."""
    return f"{tool}{PREFIX_SEP}{text}"


def tool_of(trial: str) -> str | None:
    """The tool of an ingested trial's name, None for another scenario's trial."""
    tool, sep, text = trial.partition(PREFIX_SEP)
    return tool if sep and tool in TOOLS and text.strip() else None


class IngestedSample(Iperf3Fields, K6Fields):
    """One ingested measurement of a free-text trial: the figures of its tool's output (iperf3: bit/s, µs, ms, %;
    k6: requests/s, ms, a failed fraction), the others None."""

    scenario: str = Field(pattern=TRIAL_PATTERN, description="<tool>:<the manifest's trial>.")
    tool: str
    source_scenario: str = Field(description="The manifest's scenario column (east-west, ingress).")
    protocol: str | None = None
    streams: int | None = None
    source_ip_seen: str | None = None
    expected_source: str | None = None
    source_ip_ok: bool | None = None


class IngestedExpectation(Expectation):
    """Nothing: an ingested sample is checked by ``cnibench ingest`` (:mod:`cnibench.ingest.samples`)."""


class Ingested(Scenario[ScenarioSettings, IngestedExpectation]):
    """The scenario of ingested free-text trials (see the module). Nothing runs it: :meth:`trials_for` is empty."""

    name: ClassVar[str] = NAME
    trials: ClassVar[tuple[str, ...]] = ()
    settings_model = ScenarioSettings
    sample_model = IngestedSample
    expectation_model = IngestedExpectation
    description: ClassVar[str] = "measurements cnibench ingested from another tool's files (cnibench ingest)"
    metrics: ClassVar[tuple[MetricInfo, ...]] = (*IPERF3_METRICS, *K6_METRICS)
    runnable: ClassVar[bool] = False

    def owns(self, trial: str) -> bool:
        return tool_of(trial) is not None

    def metrics_of(self, trial: str) -> tuple[MetricInfo, ...]:
        return K6_METRICS if tool_of(trial) == "k6" else IPERF3_METRICS

    def ordered(self, trials: Sequence[str]) -> list[str]:
        """Its trials among ``trials``, in the order given."""
        return [t for t in dict.fromkeys(trials) if self.owns(t)]

    def trials_for(self, settings: ScenarioSettings, cni: str) -> list[Trial]:
        return []

    def expected_fields(self, expect: IngestedExpectation) -> dict[str, Any]:
        return {}

    def recorded_expectation(self, sample: SampleBase, settings: dict[str, Any], artifact: Path) -> IngestedExpectation:
        """Never called: ``reanalyze`` refuses an ingested run (``cnibench ingest`` the manifest again)."""
        return IngestedExpectation()

    def sample_from(
        self, text: str, expect: IngestedExpectation, fields: dict[str, Any], failure: str | None
    ) -> SampleBase:
        """Never called: ``cnibench ingest`` makes these samples (:mod:`cnibench.ingest.samples`)."""
        raise NotImplementedError("ingested samples are made by cnibench ingest")

    def summary_lines(self, samples: Sequence[SampleBase], warnings: list[str]) -> list[str]:
        """One row per CNI x trial: successful/all repetitions, clusters, and the tool's primary figures."""
        groups: dict[tuple[str, str], list[IngestedSample]] = {}
        for sample in samples:
            if isinstance(sample, IngestedSample):
                groups.setdefault((sample.cni, sample.scenario), []).append(sample)
        if not groups:
            return []
        body = []
        for (cni, trial), group in groups.items():
            ok = sum(1 for s in group if s.status == "ok")
            clusters = len({s.round for s in group if s.status == "ok"})
            if tool_of(trial) == "k6":
                figures = (f"{median_text(summarize_field(group, 'requests_per_s'), 1, 0)} req/s",
                           f"p95 {median_text(summarize_field(group, 'latency_p95_ms'), 1, 2)} ms")  # fmt: skip
            else:
                figures = (f"{median_text(summarize_field(group, 'throughput_bps'), 1e9)} Gbit/s",
                           f"RTT {median_text(summarize_field(group, 'rtt_mean_us'), 1, 0)} us")  # fmt: skip
            body.append((cni, trial, f"{ok}/{len(group)}", str(clusters), *figures))
        return table(("cni", "trial (ingested)", "ok", "clusters", "median", ""), body)


INGESTED = Ingested()
SCENARIOS.register(NAME, INGESTED)
