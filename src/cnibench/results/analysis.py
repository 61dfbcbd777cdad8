"""What the verdicts (:mod:`cnibench.results.verdicts`), ``compare`` (:mod:`cnibench.results.compare`) and the trust
warnings (:mod:`cnibench.results.trust`) share: groups of samples, checks against limits, the minimum effect, the
wording of a difference, and what differs between two runs' machines and settings.

How two groups are judged is :mod:`cnibench.results.inference` (the cluster as the unit, three outcomes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cnibench.datapath_config import CONFIG_KEY, EFFECTIVE_KEY, config_differences
from cnibench.results.group import Group, number, repetition_key
from cnibench.results.inference import ALPHA
from cnibench.results.metric import MetricInfo
from cnibench.results.model import RunResults, Sample

#: A difference in the machine's background load (percentage points) that ``compare`` points out.
BUSY_DIFFERENCE = 25.0
#: The smallest relative change ``compare`` calls a regression, and its equivalence margin (a fraction).
DEFAULT_THRESHOLD = 0.05
#: Environment keys whose difference makes two runs hard to compare (the memory size is not one: a few KiB of
#: difference in MemTotal between boots says nothing about a datapath).
ENVIRONMENT_KEYS = ("kernel", "cpu_model", "cpu_count", "cnibench")


def located(text: str, cni: str | None, scenario: str | None) -> str:
    """``text`` after what it concerns: ``vxlan egress: text``; ``text`` alone when it concerns a whole run."""
    where = " ".join(part for part in (cni, scenario) if part)
    return f"{where}: {text}" if where else text


def groups(runs: Sequence[RunResults]) -> list[Group]:
    """One group per run x CNI x trial, in the order the samples came; a series is named ``cni (run id)`` when
    several runs are given."""
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
class CheckResult:
    """A check (a floor or a ceiling, :class:`~cnibench.scenarios.base.MetricInfo` ``role="check"``) over every
    repetition of one group that has the figure, failed ones included (a failure is what a check looks for).
    ``worst``: the value furthest on the wrong side; ``limit``: the limit it was held to (the strictest, when
    repetitions recorded different ones); ``failing``: repetitions that broke it."""

    metric: MetricInfo
    n: int
    failing: int
    worst: float
    limit: float

    @property
    def passed(self) -> bool:
        return self.failing == 0

    def describe(self) -> str:
        """``pass (worst 0.00 %, limit 0.00 %)`` or ``FAIL in 2 of 3 (worst 30.00 %, limit 0.00 %)``."""
        m = self.metric
        unit = f" {m.unit}" if m.unit else ""
        figures = f"worst {m.show(self.worst)}{unit}, limit {m.show(self.limit)}{unit}"
        return f"pass ({figures})" if self.passed else f"FAIL in {self.failing} of {self.n} ({figures})"


def check(group: Group, metric: MetricInfo) -> CheckResult | None:
    """The check ``metric`` over ``group``; None when no repetition has both the figure and a limit."""
    judged = []
    for sample in group.samples:
        value, limit = number(getattr(sample, metric.name, None)), metric.limit_of(sample)
        if value is not None and limit is not None:
            judged.append((value, limit))
    if not judged:
        return None
    values, limits = [value for value, _ in judged], [limit for _, limit in judged]
    lower = metric.better == "lower"
    worst, strictest = (max(values), min(limits)) if lower else (min(values), max(limits))
    failing = sum(1 for value, limit in judged if not metric.passes(value, limit))
    return CheckResult(metric, len(judged), failing, worst, strictest)


def percent(fraction: float, digits: int = 1) -> str:
    """``0.098`` -> ``9.8 %``."""
    return f"{fraction * 100:.{digits}f} %"


def spec_differences(a: RunResults, b: RunResults) -> list[str]:
    """Scenario settings that differ between the runs (then a change may be the settings, not the datapath)."""
    diffs = []
    scenarios_a = a.spec.get("scenarios") or {}
    scenarios_b = b.spec.get("scenarios") or {}
    for name in sorted(set(scenarios_a) & set(scenarios_b)):
        sa, sb = scenarios_a[name] or {}, scenarios_b[name] or {}
        for key in sorted(set(sa) | set(sb)):
            # a key one spec lacks took its default there (an older schema): no difference to report
            if key != "repetitions" and None not in (sa.get(key), sb.get(key)) and sa.get(key) != sb.get(key):
                diffs.append(f"{name}.{key}: {sa.get(key)} vs {sb.get(key)}")
    return diffs


def environment_differences(a: RunResults, b: RunResults) -> list[str]:
    """What differs between the two runs' machines and tools (comparing them then needs care)."""
    diffs = []
    for key in ENVIRONMENT_KEYS:
        if a.environment.get(key) != b.environment.get(key):
            diffs.append(f"{key}: {a.environment.get(key)} vs {b.environment.get(key)}")
    loads = [run.environment.get("background_load") for run in (a, b)]
    busy = [number(load.get("cpu_percent")) if isinstance(load, dict) else None for load in loads]
    if busy[0] is not None and busy[1] is not None and abs(busy[0] - busy[1]) >= BUSY_DIFFERENCE:
        diffs.append(
            f"other work on the machine before the run: {busy[0]:.0f} % vs {busy[1]:.0f} % busy (a difference "
            "between two runs that compare A B cannot tell from a change of the datapath; --history N can)"
        )
    clusters_a: dict[str, Any] = a.environment.get("clusters") or {}
    clusters_b: dict[str, Any] = b.environment.get("clusters") or {}
    for cni in [name for name in clusters_a if name in clusters_b]:  # the CNIs both runs measured
        facts_a, facts_b = clusters_a[cni], clusters_b[cni]
        if isinstance(facts_a, dict) and isinstance(facts_b, dict):
            for key in (CONFIG_KEY, EFFECTIVE_KEY):  # as configured, then as read back from the running datapath
                diffs += config_differences(cni, facts_a.get(key), facts_b.get(key))
    tools_a: dict[str, Any] = a.environment.get("tools", {}) or {}
    tools_b: dict[str, Any] = b.environment.get("tools", {}) or {}
    for tool in sorted(set(tools_a) | set(tools_b)):
        if tools_a.get(tool) != tools_b.get(tool):
            diffs.append(f"{tool}: {tools_a.get(tool)} vs {tools_b.get(tool)}")
    return diffs


__all__ = [
    "ALPHA",
    "DEFAULT_THRESHOLD",
    "CheckResult",
    "Group",
    "check",
    "environment_differences",
    "groups",
    "located",
    "percent",
    "repetition_key",
    "spec_differences",
]
