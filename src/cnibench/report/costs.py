"""The report's CPU-cost table: per CNI and fixed-load trial the net CPU seconds per unit of work, its median with
the median's exact order-statistic interval, the busy modes that make it up (``other``: every busy mode not shown
on its own, so that the columns add up to the total per repetition), the idle and loaded cores. A net below zero
is not a negative cost: the idle window before the repetition was busier in that mode (other work on the machine
moved); it is shown as "< 0" with a note, never as a number that reads as a saving."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from cnibench.results.model import RunResults
from cnibench.results.stats import median_interval
from cnibench.scenarios.load import COST_SCOPE, CPU_MODES, CpuCost

#: The cost-per-unit fields of the scenarios with a load mode, and their units.
COST_FIELDS = (("cpu_s_per_gbit", "CPU s per Gbit"), ("cpu_s_per_1k_requests", "CPU s per 1,000 requests"))
#: The columns after the total: the modes reported on their own and the rest of the busy modes.
PARTS = (*CPU_MODES, "other")
NEGATIVE = "< 0"
NOTE_NEGATIVE = (
    f'"{NEGATIVE}": the net was below zero: that mode was busier in the idle window before the repetition than '
    "under load (other work on the machine moved), so the load's cost in it is below what this measurement resolves."
)


def _show(value: float) -> str:
    return NEGATIVE if value < 0 else f"{value:.3f}"


def _part(cost: CpuCost, mode: str) -> float:
    """A mode's net CPU s per unit; ``other`` is the total less the modes shown on their own when not recorded."""
    if mode in cost.per_unit:
        return cost.per_unit[mode]
    return cost.per_unit["total"] - sum(cost.per_unit.get(m, 0.0) for m in CPU_MODES)


def cost_table(runs: Sequence[RunResults], trials: Sequence[str] | None = None) -> dict[str, Any] | None:
    """The table's rows (dicts of strings) over ``runs``, limited to ``trials`` when given, with its columns and
    note; None without a cost. Values are CPU s per unit of work (net of the idle window); cores are CPU s per s."""
    rows, scopes, negative = [], [], False
    for run in runs:
        for field, unit in COST_FIELDS:
            found: dict[tuple[str, str], list[CpuCost]] = {}
            for sample in run.samples:
                cost = getattr(sample, "cpu_cost", None)
                if trials is not None and sample.scenario not in trials:
                    continue
                if isinstance(cost, CpuCost) and sample.status == "ok" and getattr(sample, field, None) is not None:
                    found.setdefault((sample.cni, sample.scenario), []).append(cost)
            for (cni, trial), costs in found.items():
                scopes.append(COST_SCOPE[costs[0].scope])
                totals = [c.per_unit["total"] for c in costs]
                total = statistics.median(totals)
                ci = median_interval(totals)
                interval = f"[{_show(ci.low)}, {_show(ci.high)}] {ci.level:.0%}" if ci else "-"
                parts = [statistics.median(_part(c, m) for c in costs) for m in PARTS]
                idle = [c.idle_cores["total"] for c in costs if c.idle_cores is not None]
                negative = negative or total < 0 or min(parts) < 0 or (ci is not None and ci.low < 0)
                rows.append(
                    {
                        "run": run.run_id,
                        "cni": cni,
                        "trial": trial,
                        "unit": unit,
                        "total": _show(total),
                        "interval": interval,
                        "parts": [_show(p) for p in parts],
                        "idle": f"{statistics.median(idle):.2f}" if idle else "-",
                        "load": f"{statistics.median(c.load_cores['total'] for c in costs):.2f}",
                        "n": len(costs),
                    }
                )
    if not rows:
        return None
    note = (
        "CPU seconds per unit of work, net of an idle window of equal length measured just before each repetition: "
        "the median over the repetitions with the median's exact order-statistic interval, then the busy modes "
        f"that make it up ({', '.join(PARTS)}; 'other': every other busy mode; per repetition they add up to the "
        "total, their medians need not). Cores = CPU s per s. Whose CPU: "
        f"{'; '.join(dict.fromkeys(scopes))}. On a machine shared with other work the idle baseline moves too: "
        "compare the idle and load columns."
    )
    return {"parts": list(PARTS), "rows": rows, "note": note + (" " + NOTE_NEGATIVE if negative else "")}
