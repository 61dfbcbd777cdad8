"""Time left in a run, re-based on what the run has measured so far. Pure: events in, seconds out.

A run is a sequence of repetitions (in the plan's order) with gaps between them: before the first one (the first
cluster is built, its servers start, the first trial is set up), between two trials of one cluster (a trial's
objects are removed and the next one's applied), between two clusters (one torn down, the next built) and after
the last one (the teardown). Each of those is first taken from the plan's assumptions (:class:`Priors`) and then,
as soon as the run has been through one of its kind, from what it took: a repetition's time per scenario after
the first repetition of that scenario, a cluster's setup after the first cluster, a trial's setup after the first
trial of that scenario. The current repetition or gap counts down as it runs.

Every time is in seconds on one clock chosen by the caller (``time.monotonic()`` during a run; the events'
timestamps when a recorded run is replayed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import fmean
from typing import Literal, Protocol

GapKind = Literal["setup", "trial", "cluster", "none"]


class Slot(Protocol):
    """One planned repetition, as the estimate sees it (:class:`cnibench.repetition.Repetition` is one)."""

    @property
    def cni(self) -> str: ...
    @property
    def scenario(self) -> str: ...
    @property
    def repetition(self) -> int: ...
    @property
    def round(self) -> int: ...  # a CNI's cluster is fresh in every round
    @property
    def loop(self) -> str: ...  # the playbook loop it runs in (its scenario's): a loop's repetitions run back to back
    @property
    def expected_seconds(self) -> float: ...  # the tool's own wall time (measured time + warm-up + start-up)


@dataclass(frozen=True)
class Priors:
    """What the estimate assumes (seconds) until the run has measured it."""

    repetition_overhead_s: float = 0.6  # per repetition, on top of the tool's own wall time
    setup_s: float = 3.0  # a cluster's start -> its first repetition (built, servers up, first trial set up)
    trial_s: float = 1.0  # last repetition of a trial -> first repetition of the next trial on the same cluster
    teardown_s: float = 1.5  # a cluster's last repetition -> the cluster is gone (the next starts, or the run ends)
    first_setup_extra_s: float = 0.0  # what only the run's first cluster pays on top of setup_s (netns: Prometheus's
    # first scrapes, which a Prometheus that lives for the whole run makes once)


class Estimate:
    """Seconds left in a run of ``slots`` (its repetitions in run order) that started at ``started_at``.

    Events: :meth:`cluster_started` when the playbook begins a cluster (its first task), :meth:`measure_started`
    when a trial's repetitions begin (the ``Measure`` task), :meth:`finished` when a repetition has ended (failed
    ones too). A repetition that never reports (its cluster failed) is passed over when a later one finishes.
    Without :meth:`cluster_started` the time between two clusters is measured as one piece.
    """

    def __init__(self, slots: Sequence[Slot], priors: Priors, started_at: float) -> None:
        self.slots = list(slots)
        self.priors = priors
        self._index = {(s.cni, s.scenario, s.repetition): i for i, s in enumerate(self.slots)}
        self.position = 0  # the first repetition that has neither finished nor been passed over
        self.in_repetition = False  # False: in the gap before the repetition at ``position`` (or the last one)
        self.phase_started = started_at  # when the current repetition or gap began
        self._gap_started = started_at  # when the current gap began (the last repetition ended, or the run started)
        self._cluster_at: float | None = None  # when the current gap's cluster started (the teardown before ended)
        self._repetitions: dict[str, list[float]] = {}  # scenario -> measured seconds per repetition
        self._overheads: list[float] = []  # measured minus the tool's own time, every scenario
        self._setups: list[float] = []  # cluster start (the run's start for the first) -> its first repetition
        self._teardowns: list[float] = []  # a cluster's last repetition -> the next cluster's start
        self._between: list[float] = []  # a cluster's last repetition -> the next one's first (no cluster event)
        self._trials: dict[str, list[float]] = {}  # scenario -> gap before its trial, within one cluster
        self._open: list[float] | None = None  # where the current trial's gap went (a second Measure start moves it)

    # ---- events ------------------------------------------------------------------------------
    def cluster_started(self, at: float) -> None:
        """The playbook begins a cluster: the teardown of the one before has ended."""
        if self.in_repetition or self._cluster_at is not None or self.position >= len(self.slots):
            return
        self._cluster_at = at
        if self._gap_kind(self.position) == "cluster":
            self._teardowns.append(at - self._gap_started)

    def measure_started(self, at: float) -> None:
        """A trial's repetitions begin: the gap before them ends (a repeated call moves the start later)."""
        if self.position >= len(self.slots):
            return
        kind = self._gap_kind(self.position)
        if kind == "none" or (self.in_repetition and self._open is None):
            return  # a trial's later repetitions start when the one before ends
        if self._open is not None:
            self._open.pop()
        if kind == "trial":
            self._open = self._trials.setdefault(self.slots[self.position].scenario, [])
            self._open.append(at - self._gap_started)
        elif kind == "cluster" and self._cluster_at is None:
            self._open = self._between
            self._open.append(at - self._gap_started)
        else:
            self._open = self._setups
            # a cluster's setup counts from its own start: what comes before the first one (the node network and
            # Prometheus, built once per run) is not a cost of every cluster, nor what only the first one pays
            began = self._cluster_at if self._cluster_at is not None else self._gap_started
            once = self.priors.first_setup_extra_s if kind == "setup" else 0.0
            self._open.append(max(at - began - once, 0.0))
        self.in_repetition = True
        self.phase_started = at

    def finished(self, slot: Slot, at: float) -> None:
        """A repetition ended at ``at``; the next one of the same loop starts at once (the playbook's loop)."""
        index = self._index.get((slot.cni, slot.scenario, slot.repetition))
        if index is None or index < self.position:
            return
        if self.in_repetition and index == self.position:
            seconds = at - self.phase_started
            self._repetitions.setdefault(slot.scenario, []).append(seconds)
            self._overheads.append(seconds - slot.expected_seconds)
        self.position = index + 1
        self.phase_started = self._gap_started = at
        self.in_repetition = self.position < len(self.slots) and self._same_loop(index, self.position)
        self._cluster_at = None
        self._open = None

    # ---- estimates ---------------------------------------------------------------------------
    def repetition_seconds(self, slot: Slot) -> float:
        """One repetition of ``slot``'s scenario: the mean measured so far, else the tool's time plus overhead."""
        measured = self._repetitions.get(slot.scenario)
        if measured:
            return fmean(measured)
        overhead = fmean(self._overheads) if self._overheads else self.priors.repetition_overhead_s
        return max(slot.expected_seconds + overhead, 0.0)

    def setup_seconds(self) -> float:
        return fmean(self._setups) if self._setups else self.priors.setup_s

    def teardown_seconds(self) -> float:
        return fmean(self._teardowns) if self._teardowns else self.priors.teardown_s

    def trial_seconds(self, scenario: str) -> float:
        """The gap before a trial of ``scenario`` on the same cluster (any trial's until that one was measured)."""
        if measured := self._trials.get(scenario):
            return fmean(measured)
        others = [fmean(v) for v in self._trials.values() if v]
        return fmean(others) if others else self.priors.trial_s

    def gap_seconds(self, index: int) -> float:
        """The whole gap before the repetition at ``index`` (0 when it follows one of its own trial)."""
        kind = self._gap_kind(index)
        if kind == "setup":
            return self.setup_seconds() + self.priors.first_setup_extra_s
        if kind == "trial":
            return self.trial_seconds(self.slots[index].scenario)
        if kind == "cluster":
            return fmean(self._between) if self._between else self.teardown_seconds() + self.setup_seconds()
        return 0.0

    def current(self, now: float) -> tuple[float, float] | None:
        """The repetition under way: (seconds elapsed, seconds it is expected to take); None between them."""
        if not self.in_repetition:
            return None
        return max(now - self.phase_started, 0.0), self.repetition_seconds(self.slots[self.position])

    def seconds_left(self, now: float) -> float:
        """Seconds until the run ends, from ``now`` (never negative)."""
        if self.position >= len(self.slots):
            return max(self.teardown_seconds() - (now - self._gap_started), 0.0)
        slot = self.slots[self.position]
        if self.in_repetition:
            left = max(self.repetition_seconds(slot) - (now - self.phase_started), 0.0)
        else:
            left = self._gap_left(now) + self.repetition_seconds(slot)
        for index in range(self.position + 1, len(self.slots)):
            left += self.gap_seconds(index) + self.repetition_seconds(self.slots[index])
        return left + self.teardown_seconds()

    # ---- structure ---------------------------------------------------------------------------
    def _gap_left(self, now: float) -> float:
        if self._gap_kind(self.position) == "cluster":
            if self._cluster_at is not None:  # the teardown is over: the new cluster is being set up
                return max(self.setup_seconds() - (now - self._cluster_at), 0.0)
            if not self._between:
                return max(self.teardown_seconds() - (now - self._gap_started), 0.0) + self.setup_seconds()
        return max(self.gap_seconds(self.position) - (now - self._gap_started), 0.0)

    def _same_loop(self, a: int, b: int) -> bool:
        first, second = self.slots[a], self.slots[b]
        return (first.cni, first.round, first.loop) == (second.cni, second.round, second.loop)

    def _gap_kind(self, index: int) -> GapKind:
        if index == 0:
            return "setup"
        if self._same_loop(index - 1, index):
            return "none"
        before, slot = self.slots[index - 1], self.slots[index]
        return "trial" if (before.cni, before.round) == (slot.cni, slot.round) else "cluster"
