"""Load modes, shared by every scenario that offers load: ``saturate`` (as fast as the path goes, the default) or
``rate`` (a fixed offered load per trial: iperf3 ``--bitrate``, k6's ``constant-arrival-rate``).

A scenario adopts it in a few lines: its settings model inherits :class:`LoadSettings` (and names its
:attr:`~LoadSettings.rate_unit`), its sample model inherits :class:`LoadSample`, its ``trials_for`` and
``repetitions`` loop over :func:`loads` (one trial per offered rate, named ``<trial>@<rate>``: ``egress@500M``), and
it sets :func:`judge_sustained`'s fields and :func:`with_cost`'s CPU cost per unit of work.

Each offered rate is its own trial, so the verdicts, the headline and ``compare`` apply at every load as they do
to any trial. A repetition that could not sustain its offered rate within :data:`SUSTAIN_TOLERANCE` is marked
(``sustained`` false, and the ``achieved_fraction`` check fails), never silently averaged.

Cost per unit of work: the CPU seconds the node(s) spent (``node_cpu_seconds_total`` by mode, every mode but idle)
per second of the measured window, minus the same over an equal idle window right before the load (the tool
sleeps first: :func:`cnibench.tools.idle.idle_argv`), divided by the work per second (Gbit/s, or thousands of
requests/s).
"""

from __future__ import annotations

import dataclasses
import math
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from cnibench.repetition import Repetition
from cnibench.results.metric import MetricInfo
from cnibench.results.sample import Record, SampleBase
from cnibench.scenarios.base import LOAD_SEP, base_trial, load_suffix
from cnibench.spec.base import FieldError
from cnibench.spec.model import ScenarioSettings

__all__ = ["LOAD_SEP", "base_trial", "load_suffix"]  # where a scenario adopting a load mode finds them

LoadMode = Literal["saturate", "rate"]
#: Starts the load's own words in a fixed-load trial's settings text (``tcp, 1 stream(s), offered 2Gbit/s, ...``).
OFFERED = ", offered "
#: A repetition whose achieved rate is below (1 - this) x the offered rate did not sustain it.
SUSTAIN_TOLERANCE = 0.05
#: The CPU modes reported on their own (a datapath's work is mostly softirq); the rest of the busy modes (nice,
#: iowait, irq, steal) are "other". node_exporter's modes: prometheus/node_exporter collector/cpu_linux.go.
CPU_MODES = ("user", "system", "softirq")
_SI = {"": 1.0, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
_BITS = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([KMGT]?)$")


@dataclass(frozen=True)
class RateUnit:
    """What a scenario's rates count: ``unit`` as shown (``bit/s``), ``suffix`` in trial names (``""``: SI letters
    only, ``"rps"``), whether K/M/G/T suffixes are taken and whether the rate must be a whole number (k6's
    ``rate`` is an integer)."""

    unit: str
    suffix: str
    si: bool
    integer: bool

    def parse(self, value: Any) -> float:
        """A rate from the spec (``500M``, ``1.5G``, ``2000``) in this unit; ValueError saying what is expected."""
        if isinstance(value, bool):
            raise ValueError(f"must be a rate in {self.unit}")
        if isinstance(value, int | float):
            number = float(value)
        else:
            match = _BITS.match(str(value).strip()) if self.si else None
            if match is None:
                try:
                    number = float(str(value))
                except ValueError:
                    hint = ", e.g. 500M or 1.5G (K, M, G, T: powers of 1000)" if self.si else ", e.g. 2000"
                    raise ValueError(f"{value!r} is not a rate in {self.unit}{hint}") from None
            else:
                number = float(match.group(1)) * _SI[match.group(2)]
        if not math.isfinite(number) or number <= 0:
            raise ValueError(f"must be more than 0 {self.unit}, got {value!r}")
        if self.integer and number != int(number):
            raise ValueError(f"must be a whole number of {self.unit}, got {value!r}")
        return number

    def show(self, rate: float) -> str:
        """The rate with its unit, for people: ``500M bit/s``, ``2000 req/s``."""
        return f"{self.label(rate).removesuffix(self.suffix)} {self.unit}"

    def label(self, rate: float) -> str:
        """The rate as a trial name shows it, exactly (two rates never share a name): ``500M``, ``1.5G``,
        ``1.500000001G``, ``2000rps``, ``1000000rps`` (never ``1e+06rps``)."""
        if self.si:
            for letter in ("T", "G", "M", "K"):
                if rate >= _SI[letter]:
                    return f"{_exact(rate / _SI[letter])}{letter}{self.suffix}"
        return f"{_exact(rate)}{self.suffix}"


def _exact(number: float) -> str:
    """``number`` in positional notation with every digit it has (up to a double's 15 significant ones)."""
    if number == int(number) and abs(number) < 1e15:
        return str(int(number))
    return f"{number:.15g}" if "e" not in f"{number:.15g}" else f"{number:.15f}".rstrip("0").rstrip(".")


BITS_PER_SECOND = RateUnit("bit/s", "", si=True, integer=False)
REQUESTS_PER_SECOND = RateUnit("req/s", "rps", si=False, integer=True)


class LoadSettings(ScenarioSettings):
    """The load mode of a scenario's section: ``saturate`` (default) or ``rate`` with ``rates``."""

    #: What this scenario's rates count (a subclass sets it).
    rate_unit: ClassVar[RateUnit] = BITS_PER_SECOND

    load: LoadMode = Field(
        "saturate",
        description="saturate: as fast as the path goes; rate: a fixed offered load per trial, one trial per entry "
        "of rates, reporting latency under that load and CPU per unit of work against an idle baseline.",
    )
    rates: list[str | int | float] | None = Field(
        None,
        description="load: rate only: the offered loads, each its own trial (absolute values: bit/s with K/M/G/T "
        "for iperf3, e.g. 500M; requests/s for k6, e.g. 2000).",
    )

    @model_validator(mode="after")
    def _check_rates(self) -> LoadSettings:
        if self.load == "saturate":
            if self.rates is not None:
                raise FieldError(("rates",), "only with load: rate (this section has load: saturate)")
            return self
        if not self.rates:
            raise FieldError(("rates",), "load: rate needs at least one offered rate, e.g. rates: [500M, 1G]")
        seen: dict[str, int] = {}  # by trial label: two rates must not share a trial's name, samples and raw files
        for index, value in enumerate(self.rates):
            try:
                rate = self.rate_unit.parse(value)
            except ValueError as exc:
                raise FieldError(("rates", index), str(exc)) from None
            label = self.rate_unit.label(rate)
            if label in seen:
                raise FieldError(("rates", index), f"{value!r} repeats rates[{seen[label]}] (both are {label})")
            seen[label] = index
        return self

    def settings_text(self, trial_text: str) -> str:
        """A fixed load's settings in a few words, from one of its trials' settings text: the words every load
        shares, then every offered rate (saturate: ``trial_text`` itself)."""
        if self.load == "saturate":
            return trial_text
        rates = ", ".join(self.rate_unit.show(rate) for rate in self.offered())
        return f"{trial_text.split(OFFERED)[0]}{OFFERED}{rates} (a trial each, an idle baseline first)"

    def offered(self) -> list[float]:
        """The offered rates in the scenario's unit, in the spec's order (empty in saturate mode)."""
        return [self.rate_unit.parse(value) for value in self.rates or []] if self.load == "rate" else []


@dataclass(frozen=True)
class Load:
    """One load of a scenario: its trial-name suffix (``""`` or ``@500M``) and offered rate (None: saturate)."""

    suffix: str
    offered: float | None

    def trial(self, base: str) -> str:
        return base + self.suffix


def loads(settings: LoadSettings) -> list[Load]:
    """The loads a section runs: one saturating load, or one per offered rate."""
    if settings.load == "saturate":
        return [Load("", None)]
    return [Load(LOAD_SEP + settings.rate_unit.label(rate), rate) for rate in settings.offered()]


def without_idle(rep: Repetition) -> Repetition:
    """``rep`` without its idle window: a run without metrics has no CPU cost to subtract an idle baseline from."""
    idle = rep.command.idle_s
    if not idle:
        return rep
    command = dataclasses.replace(rep.command, idle_s=0.0, timeout_s=rep.command.timeout_s - idle)
    return dataclasses.replace(
        rep, command=command, warmup_s=rep.warmup_s - idle, expected_seconds=rep.expected_seconds - idle
    )


# ---- what a fixed-load repetition reports -----------------------------------------------------------------------
class CpuCost(Record):
    """CPU cost of one repetition's work: CPU seconds per second (cores busy) in each mode over the measured
    window and over the idle window of equal length before it, their difference (``net``), and that per unit of
    work. ``scope``: ``machine`` (netns, kind: every node is this machine: one node's counters) or ``nodes``
    (the sum over the cluster's nodes)."""

    scope: Literal["machine", "nodes"]
    window_s: float = Field(description="Measured window, s.")
    idle_window_s: float | None = Field(None, description="Idle window before it, s (None: none measured).")
    load_cores: dict[str, float] = Field(description="Mode -> CPU s per s over the measured window.")
    idle_cores: dict[str, float] | None = Field(None, description="Mode -> CPU s per s over the idle window.")
    net_cores: dict[str, float] = Field(description="Mode -> load minus idle, CPU s per s.")
    work_per_s: float = Field(description="Units of work per second (Gbit/s; thousands of requests/s).")
    per_unit: dict[str, float] = Field(description="Mode -> net CPU s per unit of work; 'total': every busy mode.")


class LoadSample(SampleBase):
    """The fields every sample of a load-mode scenario has."""

    load: LoadMode = "saturate"
    offered_rate: float | None = Field(None, description="The offered load (bit/s for iperf3, req/s for k6).")
    achieved_fraction: float | None = Field(None, description="Achieved / offered rate (rate mode).")
    sustained: bool | None = Field(
        None, description=f"Achieved at least {1 - SUSTAIN_TOLERANCE:.0%} of the offered rate (rate mode)."
    )
    cpu_cost: CpuCost | None = Field(None, description="CPU seconds per unit of work (rate mode, metrics on).")


def achieved_check(what: str) -> MetricInfo:
    """The check every fixed-load repetition must keep: achieved / offered at least 1 - tolerance."""
    return MetricInfo(
        "achieved_fraction", f"achieved/offered {what}", "", 1.0, "higher", 3, role="check",
        limit=1 - SUSTAIN_TOLERANCE,
    )  # fmt: skip


def judge_sustained(offered: float | None, achieved: float | None) -> dict[str, Any]:
    """The sample fields saying whether ``achieved`` (same unit as ``offered``) sustained the offered rate."""
    if offered is None:
        return {"load": "saturate"}
    if achieved is None:
        return {"load": "rate", "offered_rate": offered}
    fraction = achieved / offered
    return {
        "load": "rate",
        "offered_rate": offered,
        "achieved_fraction": fraction,
        "sustained": fraction >= 1 - SUSTAIN_TOLERANCE,
    }


def unsustained_lines(samples: Sequence[SampleBase], kind: type[LoadSample], unit: RateUnit) -> list[str]:
    """One line per (CNI, trial) with repetitions (samples of ``kind``) that did not sustain their offered rate,
    for the summary."""
    groups: dict[tuple[str, str], list[LoadSample]] = {}
    for sample in samples:
        if isinstance(sample, kind) and sample.sustained is False:
            groups.setdefault((sample.cni, sample.scenario), []).append(sample)
    return [
        f"{cni} {trial}: {len(group)} repetition(s) did not sustain the offered {unit.show(group[0].offered_rate or 0)}"
        f" within {SUSTAIN_TOLERANCE:.0%} (achieved "
        + ", ".join(f"{s.achieved_fraction:.1%}" for s in group if s.achieved_fraction is not None)
        + "): marked, their figures are of an overloaded path"
        for (cni, trial), group in groups.items()
    ]


def cost_from_cores(
    *,
    scope: Literal["machine", "nodes"],
    window_s: float,
    load_cores: Mapping[str, float],
    idle_window_s: float | None,
    idle_cores: Mapping[str, float] | None,
    work_per_s: float,
) -> CpuCost | None:
    """The cost per unit of work from the cores busy per mode (``total`` included) under load and idle; None when
    no work was done."""
    if work_per_s <= 0:
        return None
    net = {mode: load_cores[mode] - (idle_cores or {}).get(mode, 0.0) for mode in load_cores}
    return CpuCost(
        scope=scope,
        window_s=window_s,
        idle_window_s=idle_window_s,
        load_cores=dict(load_cores),
        idle_cores=dict(idle_cores) if idle_cores is not None else None,
        net_cores=net,
        work_per_s=work_per_s,
        per_unit={mode: value / work_per_s for mode, value in net.items()},
    )


def with_cpu_cost(sample: LoadSample, metrics_dir: Path, work_per_s: float | None, field: str) -> LoadSample:
    """``sample`` with its ``cpu_cost`` and ``field`` (net CPU seconds per unit of work, every busy mode) from the
    CPU counters saved in ``metrics_dir``; unchanged in saturate mode or without work; a note when the counters
    cannot be read."""
    if sample.load != "rate":
        return sample
    return with_cost_per_unit(sample, metrics_dir, work_per_s, field)


def with_cost_per_unit(sample: LoadSample, metrics_dir: Path, work_per_s: float | None, field: str) -> LoadSample:
    """:func:`with_cpu_cost` for any repetition with an idle window before it (a saturating one too: the
    network-policy scenario's stream trials): ``field`` is the net CPU seconds per unit of work (``work_per_s``
    units per second); unchanged without work or saved counters, a note when the counters cannot be read."""
    from cnibench.metrics.cpu import cpu_windows
    from cnibench.metrics.prometheus import PrometheusError

    if work_per_s is None:
        return sample
    try:
        windows = cpu_windows(metrics_dir)
    except PrometheusError as exc:
        return sample.model_copy(update={"notes": [*sample.notes, f"CPU cost per unit not computed: {exc}"]})
    if windows is None:
        return sample
    cost = cost_from_cores(
        scope=windows.scope,
        window_s=windows.window_s,
        load_cores=windows.load_cores,
        idle_window_s=windows.idle_window_s,
        idle_cores=windows.idle_cores,
        work_per_s=work_per_s,
    )
    if cost is None:
        return sample
    return sample.model_copy(update={"cpu_cost": cost, field: cost.per_unit["total"]})


#: What the CPU cost's scope means, in words (the summary and the report say it with the table).
COST_SCOPE = {
    "machine": "this machine's CPU (every node shares it: netns, kind)",
    "nodes": "the nodes' CPUs, summed over the cluster's nodes",
}
COST_MODES = ("total", *CPU_MODES)


@dataclass(frozen=True)
class CostRow:
    """One CNI x fixed-load trial of the cost-per-unit table: medians over its successful repetitions with a cost:
    net CPU s per unit of work per mode (``total``: every busy mode), and cores busy under load and idle."""

    cni: str
    trial: str
    unit: str
    per_unit: dict[str, float]
    load_cores: float
    idle_cores: float | None
    n: int


def cost_rows(samples: Sequence[SampleBase], field: str, unit: str) -> tuple[list[CostRow], str]:
    """The cost-per-unit table of the samples that have ``field`` (``cpu_s_per_gbit``: ``unit`` "CPU s per Gbit")
    and what their CPU is (:data:`COST_SCOPE`); empty without costs."""
    groups: dict[tuple[str, str], list[CpuCost]] = {}
    for sample in samples:
        cost = getattr(sample, "cpu_cost", None)
        if isinstance(cost, CpuCost) and sample.status == "ok" and getattr(sample, field, None) is not None:
            groups.setdefault((sample.cni, sample.scenario), []).append(cost)
    rows = []
    for (cni, trial), costs in groups.items():
        idle = [c.idle_cores["total"] for c in costs if c.idle_cores is not None]
        rows.append(
            CostRow(
                cni=cni,
                trial=trial,
                unit=unit,
                per_unit={m: statistics.median(c.per_unit[m] for c in costs) for m in COST_MODES},
                load_cores=statistics.median(c.load_cores["total"] for c in costs),
                idle_cores=statistics.median(idle) if idle else None,
                n=len(costs),
            )
        )
    scopes = {c.scope for costs in groups.values() for c in costs}
    return rows, "; ".join(COST_SCOPE[s] for s in sorted(scopes))


def cost_lines(samples: Sequence[SampleBase], field: str, label: str) -> list[str]:
    """The summary's cost-per-unit table (:func:`cost_rows`); empty without costs."""
    from cnibench.report.text import table

    rows, whose = cost_rows(samples, field, label)
    if not rows:
        return []
    body = [
        (
            r.cni, r.trial, *(f"{r.per_unit[m]:.3f}" for m in COST_MODES),
            f"{r.idle_cores:.2f}" if r.idle_cores is not None else "-", f"{r.load_cores:.2f}", str(r.n),
        )
        for r in rows
    ]  # fmt: skip
    header = ("cni", "trial", f"{label} (median)", *CPU_MODES, "idle cores", "load cores", "n")
    return [
        "",
        f"CPU cost per unit of work ({whose}; net of an idle window of equal length measured just before each "
        "repetition; cores = CPU s per s):",
        *table(header, body),
    ]
