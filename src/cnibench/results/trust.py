"""Reasons to doubt a run's numbers, computed from the data: every warning names what it concerns (a CNI, a trial, a
metric, or the whole run) so that the summary and the report can show it next to those numbers.

The checks and their thresholds:

* pyperf's own (``format_checks`` in psf/pyperf ``pyperf/_cli.py``): the standard deviation at least 10 % of the
  mean; the minimum or the maximum at least 50 % away from the mean (:meth:`MetricStats.warnings`). The same 10 %
  applies to the spread within a repetition: the coefficient of variation of iperf3's per-interval throughput
  (``intervals_bps``), the median over the repetitions;
* CPU-bound: iperf3's own CPU figures (``end.cpu_utilization_percent``: CPU time over wall time of its process, %
  of one core). iperf3 before 3.16 runs every stream in one thread, so one core is its ceiling; at
  :data:`CPU_BOUND` % or more (the median over the repetitions) it had almost no idle time left, and the throughput
  it reports is how fast that core moved bytes, the datapath's own work (encapsulation, NAT) included;
* background load: the share of all cores that other work kept busy just before the run
  (``environment["background_load"]``: ``cpu_percent`` 0-100, ``window_s``, ``cores``; runs before it was recorded
  have none). Above :data:`BACKGROUND_LOAD` % the numbers may carry that interference: on a machine of two cores,
  10 % is a fifth of a core taken from a measurement that is CPU-bound itself, an error the size of pyperf's own
  10 % instability limit;
* failed, missing and too few repetitions; the run's status; node metrics that could not be read.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from cnibench.datapath_config import EFFECTIVE_WARNINGS_KEY, WARNINGS_KEY
from cnibench.results.analysis import groups, located
from cnibench.results.group import Group, number
from cnibench.results.model import RunResults
from cnibench.results.stats import CV_WARNING, MIN_REPETITIONS, summarize
from cnibench.scenarios import metric_named, metrics_for

#: iperf3 at this share of one core or more (median over the repetitions), %: the result is CPU-bound.
CPU_BOUND = 90.0
#: Other work's share of all cores just before the run, %, above which the run is warned about.
BACKGROUND_LOAD = 10.0
#: Sample fields with a process's CPU (% of one core) and what that process is: cnibench runs iperf3's client in
#: the pod, sending (no ``-R``), and the server outside the cluster, receiving.
CPU_FIELDS = {"client_cpu_percent": "sender", "server_cpu_percent": "receiver"}
#: Sample fields with per-interval figures, and the metric they break down.
INTERVAL_FIELDS = {"intervals_bps": "throughput_bps"}


@dataclass(frozen=True)
class TrustWarning:
    """A reason to doubt some numbers of run ``run_id``: those of ``cni`` in trial ``scenario``, metric ``metric``
    (a sample field's name); None means all of them (the whole run, every CNI, every metric)."""

    run_id: str
    text: str
    cni: str | None = None
    scenario: str | None = None
    metric: str | None = None

    def line(self) -> str:
        """The warning with what it concerns: ``vxlan egress: iperf3 sender at 97 % of a core: ...``."""
        return located(self.text, self.cni, self.scenario)


def background_load(run: RunResults) -> TrustWarning | None:
    """A warning when other work kept the machine busy above :data:`BACKGROUND_LOAD` % before the run."""
    load = run.environment.get("background_load")
    busy = number(load.get("cpu_percent")) if isinstance(load, dict) else None
    if load is None or busy is None or busy <= BACKGROUND_LOAD:
        return None
    cores, window = number(load.get("cores")), number(load.get("window_s"))
    over = f"{int(cores)} cores" if cores else "all cores"
    span = f" over {window:.1f} s" if window else ""
    return TrustWarning(
        run.run_id,
        f"the machine was {busy:.0f} % busy with other work just before the run ({over}{span}; above "
        f"{BACKGROUND_LOAD:.0f} %): every number may include that interference",
    )


def _group_warnings(group: Group) -> list[TrustWarning]:
    at = {"run_id": group.run_id, "cni": group.cni, "scenario": group.scenario}
    out = []
    total = len(group.samples)
    if group.ok < total:
        out.append(TrustWarning(**at, text=f"{total - group.ok} of {total} repetitions failed (left out)"))
    if group.ok < MIN_REPETITIONS:
        out.append(TrustWarning(**at, text=f"only {group.ok} successful repetition(s) (fewer than {MIN_REPETITIONS})"))
    ok = [s for s in group.samples if s.status == "ok"]
    for field, role in CPU_FIELDS.items():
        cpu = summarize([v for s in ok if (v := number(getattr(s, field, None))) is not None])
        if cpu is not None and cpu.median >= CPU_BOUND:
            out.append(
                TrustWarning(
                    **at,
                    text=f"iperf3 {role} at {cpu.median:.0f} % of a core (median of {cpu.n}): throughput is limited "
                    "by CPU, including the datapath's own work",
                )
            )
    for field, name in INTERVAL_FIELDS.items():
        spreads = [cv for s in ok if (cv := _cv(getattr(s, field, None))) is not None]
        if spreads and statistics.median(spreads) >= CV_WARNING:
            out.append(
                TrustWarning(
                    **at,
                    metric=name,
                    text=f"{metric_named(name).label} varies by {statistics.median(spreads):.0%} within a repetition "
                    f"(cv of the per-interval figures, median of {len(spreads)}; >= {CV_WARNING:.0%})",
                )
            )
    for metric in metrics_for(group.scenario):
        if metric.primary:  # what the verdicts rest on; the others' spread shows in their intervals
            for text in group.stats(metric).stability_warnings():
                out.append(TrustWarning(**at, metric=metric.name, text=f"{metric.label}: {text}"))
    return out


def _cv(values: object) -> float | None:
    if not isinstance(values, list):
        return None
    summary = summarize([v for v in values if isinstance(v, int | float)])
    return summary.cv if summary else None


def configuration_warnings(run: RunResults) -> list[TrustWarning]:
    """What was wrong with each CNI's datapath configuration (:mod:`cnibench.datapath_config`): found before the
    measurement from what the cluster was built with, and in what it had once built (read back)."""
    out = []
    for cni, facts in (run.environment.get("clusters") or {}).items():
        if not isinstance(facts, dict):
            continue
        for key in (WARNINGS_KEY, EFFECTIVE_WARNINGS_KEY):
            for text in facts.get(key) or []:
                out.append(TrustWarning(run.run_id, f"datapath configuration: {text}", cni))
    return out


def warnings_for(run: RunResults) -> list[TrustWarning]:
    """Every warning about one run: the run's own first, then per CNI x trial."""
    out = []
    if run.status != "complete":
        out.append(TrustWarning(run.run_id, f"the run is {run.status}" + (f": {run.error}" if run.error else "")))
    missing = run.planned_repetitions - len(run.samples)
    if missing > 0:
        out.append(TrustWarning(run.run_id, f"{missing} planned repetition(s) did not run"))
    load = background_load(run)
    if load is not None:
        out.append(load)
    out += configuration_warnings(run)
    for group in groups([run]):
        out += _group_warnings(group)
    for s in run.samples:
        if s.metrics_error:
            out.append(TrustWarning(run.run_id, f"rep {s.repetition}: {s.metrics_error}", s.cni, s.scenario))
    return out


def for_runs(runs: Sequence[RunResults]) -> list[TrustWarning]:
    return [w for run in runs for w in warnings_for(run)]
