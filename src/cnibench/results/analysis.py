"""From runs to comparisons: groups of samples, statistics per metric, winners, and run-against-run changes.

A difference is called real only with a significance test AND a minimum effect (asv's rule): Mann-Whitney U
p <= 0.05 and a relative change of at least the threshold (default 5 %). Otherwise: "not significant".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cnibench.results.model import RunResults, Sample
from cnibench.results.stats import MetricStats, mann_whitney, metric_stats
from cnibench.scenarios import metrics_for
from cnibench.scenarios.base import MetricInfo

ALPHA = 0.05
DEFAULT_THRESHOLD = 0.05
#: Environment keys whose difference makes two runs hard to compare.
ENVIRONMENT_KEYS = ("kernel", "cpu_model", "cpu_count", "memory_bytes", "cnibench")


@dataclass(frozen=True)
class Group:
    """The samples of one series (a CNI, or a CNI of one run when several runs are shown) in one scenario."""

    series: str
    run_id: str
    cni: str
    scenario: str
    samples: tuple[Sample, ...]

    def stats(self, metric: MetricInfo) -> MetricStats:
        ok = [getattr(s, metric.name, None) for s in self.samples if s.status == "ok"]
        values = [float(v) for v in ok if isinstance(v, int | float) and not isinstance(v, bool)]
        return metric_stats(values, failed=sum(1 for s in self.samples if s.status != "ok"))


def groups(runs: Sequence[RunResults]) -> list[Group]:
    several = len(runs) > 1
    out: dict[tuple[str, str, str], list[Sample]] = {}
    for run in runs:
        for sample in run.samples:
            out.setdefault((run.run_id, sample.cni, sample.scenario), []).append(sample)
    return [
        Group(f"{cni} ({run_id})" if several else cni, run_id, cni, scenario, tuple(samples))
        for (run_id, cni, scenario), samples in out.items()
    ]


@dataclass(frozen=True)
class Verdict:
    """Best series of one metric in one scenario, and whether it is really better than the runner-up."""

    scenario: str
    metric: MetricInfo
    stats: dict[str, MetricStats]  # series -> stats
    winner: str | None
    runner_up: str | None
    p_value: float | None
    effect: float | None  # relative difference runner-up vs winner (positive: winner better)
    significant: bool

    def relative(self, series: str) -> float | None:
        """How far ``series`` is from the winner, relative to the winner's median (0 for the winner)."""
        best = self.stats[self.winner].median if self.winner else None
        value = self.stats[series].median
        if best in (None, 0) or value is None:
            return None
        return (value - best) / abs(best)

    @property
    def tie(self) -> bool:
        """The best two medians are equal (to display precision's far side: 1e-9 relative)."""
        if self.winner is None or self.runner_up is None:
            return False
        a, b = self.stats[self.winner].median, self.stats[self.runner_up].median
        return a is not None and b is not None and abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1e-300)

    @property
    def best(self) -> str:
        """The winner's name for tables: '-' with one series, 'tie' when the medians are equal."""
        if self.winner is None or self.runner_up is None:
            return "-"
        return "tie" if self.tie else self.winner

    @property
    def note(self) -> str:
        if self.winner is None or self.runner_up is None:
            return ""
        if self.p_value is None:
            return "not significant (too few repetitions to test)"
        text = f"p = {self.p_value:.3f}, difference {abs(self.effect or 0):.1%}"
        return f"significant ({text})" if self.significant else f"not significant ({text})"

    @property
    def too_few_to_tell(self) -> bool:
        """Two-sided Mann-Whitney cannot reach p <= 0.05 with 3 or fewer repetitions on a side."""
        if self.winner is None or self.runner_up is None:
            return False
        return min(self.stats[self.winner].n, self.stats[self.runner_up].n) <= 3


def _better(metric: MetricInfo, a: float, b: float) -> bool:
    return a > b if metric.better == "higher" else a < b


def verdicts(runs: Sequence[RunResults], threshold: float = DEFAULT_THRESHOLD) -> list[Verdict]:
    """For every scenario and metric with data: each series' statistics, the winner, the significance."""
    all_groups = groups(runs)
    out = []
    for scenario in dict.fromkeys(g.scenario for g in all_groups):
        in_scenario = [g for g in all_groups if g.scenario == scenario]
        for metric in metrics_for(scenario):
            stats = {g.series: g.stats(metric) for g in in_scenario}
            ranked = [s for s in stats if stats[s].median is not None]
            if not ranked:
                continue
            ranked.sort(key=lambda s: stats[s].median or 0.0, reverse=metric.better == "higher")
            winner = ranked[0]
            runner_up = ranked[1] if len(ranked) > 1 else None
            p_value = effect = None
            significant = False
            if runner_up is not None:
                best, second = stats[winner], stats[runner_up]
                p_value = mann_whitney(best.values, second.values)
                if best.median:
                    effect = abs((second.median or 0.0) - best.median) / abs(best.median)
                significant = p_value is not None and p_value <= ALPHA and (effect or 0.0) >= threshold
            out.append(Verdict(scenario, metric, stats, winner, runner_up, p_value, effect, significant))
    return out


# --------------------------------------------------------------------------------------------- compare


@dataclass(frozen=True)
class Change:
    cni: str
    scenario: str
    metric: MetricInfo
    before: MetricStats
    after: MetricStats
    change: float | None  # relative change of the median, B vs A
    p_worse: float | None  # one-sided Mann-Whitney: B is worse than A
    significant: bool
    worse: bool  # worse beyond the threshold, with significance: what fails CI

    def describe(self) -> str:
        m = self.metric
        unit = f" {m.unit}" if m.unit else ""
        change = "-" if self.change is None else f"{self.change:+.1%}"
        head = (
            f"{self.cni} {self.scenario} {m.label}: {m.show(self.before.median)} -> {m.show(self.after.median)}{unit}"
        )
        p = "p n/a (too few repetitions)" if self.p_worse is None else f"p = {self.p_worse:.3f}"
        if self.worse:
            verdict = "WORSE (significant)"
        elif self.significant:
            verdict = "significant"
        else:
            verdict = "not significant"
        return f"{head} ({change}), {p}: {verdict}"


def compare(a: RunResults, b: RunResults, threshold: float = DEFAULT_THRESHOLD) -> list[Change]:
    """Every metric of every CNI x scenario present in both runs: change of the median from A to B, a one-sided
    Mann-Whitney U test for "B is worse", and whether that is significant beyond ``threshold``."""
    before = {(g.cni, g.scenario): g for g in groups([a])}
    after = {(g.cni, g.scenario): g for g in groups([b])}
    out = []
    for key in (k for k in before if k in after):
        for metric in metrics_for(key[1]):
            x, y = before[key].stats(metric), after[key].stats(metric)
            if x.median is None or y.median is None:
                continue
            change = (y.median - x.median) / abs(x.median) if x.median else None
            worse_direction = "less" if metric.better == "higher" else "greater"
            p_worse = mann_whitney(y.values, x.values, alternative=worse_direction)
            p_any = mann_whitney(y.values, x.values)
            big = change is not None and abs(change) >= threshold
            is_worse = change is not None and (change < 0 if metric.better == "higher" else change > 0)
            worse = bool(big and is_worse and p_worse is not None and p_worse <= ALPHA)
            significant = worse or bool(big and p_any is not None and p_any <= ALPHA)
            out.append(Change(key[0], key[1], metric, x, y, change, p_worse, significant, worse))
    return out


def spec_differences(a: RunResults, b: RunResults) -> list[str]:
    """Scenario settings that differ between the runs (then a change may be the settings, not the datapath)."""
    diffs = []
    scenarios_a = a.spec.get("scenarios") or {}
    scenarios_b = b.spec.get("scenarios") or {}
    for name in sorted(set(scenarios_a) & set(scenarios_b)):
        sa, sb = scenarios_a[name] or {}, scenarios_b[name] or {}
        for key in sorted(set(sa) | set(sb)):
            if key != "repetitions" and sa.get(key) != sb.get(key):
                diffs.append(f"{name}.{key}: {sa.get(key)} vs {sb.get(key)}")
    return diffs


def environment_differences(a: RunResults, b: RunResults) -> list[str]:
    """What differs between the two runs' machines and tools (comparing them then needs care)."""
    diffs = []
    for key in ENVIRONMENT_KEYS:
        if a.environment.get(key) != b.environment.get(key):
            diffs.append(f"{key}: {a.environment.get(key)} vs {b.environment.get(key)}")
    tools_a: dict[str, Any] = a.environment.get("tools", {}) or {}
    tools_b: dict[str, Any] = b.environment.get("tools", {}) or {}
    for tool in sorted(set(tools_a) | set(tools_b)):
        if tools_a.get(tool) != tools_b.get(tool):
            diffs.append(f"{tool}: {tools_a.get(tool)} vs {tools_b.get(tool)}")
    return diffs


__all__ = ["Change", "Group", "Verdict", "compare", "environment_differences", "groups", "verdicts"]
