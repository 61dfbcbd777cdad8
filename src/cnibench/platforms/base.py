"""What a platform is, for the rest of cnibench: its spec sections and checks, its prerequisites, a pure compile step
(spec -> rendered files, the playbook's variables and the repetitions), run bookkeeping, its leftovers after a
crash, and cleanup.

A platform is a class registered in :data:`cnibench.platforms.PLATFORMS`. Its *family* (``netns`` or ``kube``)
says which scenario adapters it deploys scenarios with (``platforms/<family>/scenarios/``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TextIO

from cnibench.knobs import Knob, check_settings
from cnibench.spec.base import Model

if TYPE_CHECKING:
    from cnibench.doctor import Check
    from cnibench.estimate import Priors
    from cnibench.orchestration.collector import MetricsCollector
    from cnibench.plan import Plan
    from cnibench.repetition import Repetition
    from cnibench.results.model import Sample
    from cnibench.spec.model import Spec


class Renderable(Protocol):
    def write(self, directory: Path) -> Path: ...


@dataclass(frozen=True)
class Compiled:
    """A run, ready for Ansible. Compiling has no side effects; :meth:`write` puts the rendered files in place.

    ``kept`` is what the run leaves running on purpose (``--keep``: a cluster) and ``notes`` what to tell the user
    after the run: the compiled run carries what ``cleanup`` needs, the platform object holds no state of a run.
    """

    playbook: str
    extravars: dict[str, Any]
    repetitions: list[Repetition]
    steps: list[str]  # what the run will do, in words, from the same data the playbook gets
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)  # per CNI, known before the run (MTUs, ...)
    renders: dict[Path, Renderable] = field(default_factory=dict)  # directory -> what is rendered into it
    kept: dict[str, str] = field(default_factory=dict)  # e.g. {"cni": "cilium", "cluster": "cnib1a2b-cilium"}
    notes: tuple[str, ...] = ()

    def write(self) -> None:
        for directory, item in self.renders.items():
            item.write(directory)


@dataclass(frozen=True)
class Leftover:
    """What a run whose cnibench process is gone left behind (found by ``clean``)."""

    platform: str
    prefix: str
    what: str  # in words, for ``clean`` and ``clean --dry-run``
    owner_alive: bool
    run_dir: str | None
    data: dict[str, Any] = field(default_factory=dict)


class Platform(ABC):
    """One platform. ``keep`` leaves what a run created in place (``--keep``)."""

    name: ClassVar[str]
    family: ClassVar[str]
    #: The spec sections this platform reads (filled in with their defaults when the spec has none); a section of
    #: another platform is refused.
    sections: ClassVar[dict[str, type[Model]]] = {}
    #: One line for ``--help`` and the README.
    description: ClassVar[str] = ""
    #: Rounds when the spec says none: a fresh cluster per CNI per round must be cheap for more than one.
    default_rounds: ClassVar[int] = 1
    #: Whether a paired scenario's trials alternate repetition by repetition here (egress and its baseline: a
    #: policy applied and removed around each repetition); False: trial by trial.
    pairs_trials: ClassVar[bool] = False
    #: Whose CPUs a node's node_exporter sees, for the CPU cost per unit of work: ``machine`` when every node is
    #: this machine (netns, kind: one node's counters are the machine's), ``nodes`` when each node is its own.
    cpu_scope: ClassVar[str] = "nodes"
    #: What the numbers mean on this platform, in sentences for the report and ``plan`` (whose CPU, where the load
    #: comes from, which hops are in the path); recorded in ``environment.json`` as ``measured``.
    measured_notes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, keep: bool = False) -> None:
        self.keep = keep

    # ---- the spec -------------------------------------------------------------------------------------------------
    @classmethod
    @abstractmethod
    def cnis(cls) -> tuple[str, ...]:
        """The CNIs (datapaths) this platform can compare."""

    @classmethod
    def knobs(cls, cni: str) -> tuple[Knob, ...]:
        """The settings a variant of ``cni`` (one of :meth:`cnis`) may set (none by default)."""
        return ()

    @classmethod
    def check_settings(cls, cni: str, settings: Mapping[str, Any]) -> dict[str, Any]:
        """A variant's ``settings`` of ``cni`` checked against its knobs, then against what upstream forbids
        (:meth:`forbidden`); raises :class:`~cnibench.knobs.SettingError` naming the knob. Returns them checked."""
        checked = check_settings(cni, cls.knobs(cni), settings, cls.unavailable_knobs(cni))
        cls.forbidden(cni, checked)
        return checked

    @classmethod
    def unavailable_knobs(cls, cni: str) -> dict[str, str]:
        """Knobs a variant of ``cni`` cannot set here that a user may expect (another platform's CNIs have them) ->
        why, for the refusal's line. None by default."""
        return {}

    @classmethod
    def forbidden(cls, cni: str, settings: Mapping[str, Any]) -> None:
        """Refuse a combination of valid settings of ``cni`` that upstream (or this platform) forbids, with the
        reason: raises :class:`~cnibench.knobs.SettingError`. Nothing by default."""
        return None

    @classmethod
    def configuration_warnings(cls, spec: Spec) -> list[str]:
        """What is known to be wrong with the configuration of the spec's CNIs before anything runs (a pod MTU
        above what the underlay carries after encapsulation...), each a line; none by default."""
        return []

    @classmethod
    def resolve(cls, spec: Spec) -> Spec:
        """``spec`` with this platform's defaults filled in (its sections, rounds, addresses it picks): a new spec,
        pure."""
        missing: dict[str, Any] = {
            name: model() for name, model in cls.sections.items() if getattr(spec, name, None) is None
        }
        if spec.rounds is None:
            missing["rounds"] = cls.default_rounds
        return spec.model_copy(update=missing) if missing else spec

    @classmethod
    def check(cls, spec: Spec) -> None:
        """Checks across fields of a resolved spec; raises :class:`FieldError` naming the field. (A section of
        another platform was refused before: the spec's model knows every platform.)"""
        return None

    # ---- before a run ---------------------------------------------------------------------------------------------
    @classmethod
    @abstractmethod
    def prerequisites(cls, spec: Spec | None) -> list[Check]:
        """What this machine needs for a run of ``spec`` (None: of the platform's default settings), for ``run``
        and ``doctor``."""

    @classmethod
    @abstractmethod
    def priors(cls, spec: Spec) -> Priors:
        """Its costs besides the tools' own time (seconds), for the plan's estimate (a running run re-bases them on
        what it measures)."""

    def confirm(self, spec: Spec, plan: Plan, *, yes: bool, stdin: TextIO, out: TextIO) -> bool:
        """Ask before a run that costs money (False: the user said no); free platforms need nothing."""
        return True

    def environment(self, spec: Spec) -> dict[str, Any]:
        """Facts to record in ``environment.json`` besides the machine's (tool versions, images)."""
        return {}

    @classmethod
    def what_is_measured(cls, spec: Spec) -> list[str]:
        """What the numbers of a run of ``spec`` on this platform mean (:attr:`measured_notes`, and what the spec's
        scenarios add there), one sentence each."""
        return list(cls.measured_notes)

    def metrics_collector(self, record: Callable[[Sample], None]) -> MetricsCollector | None:
        """What queries the node metrics of repetitions whose window is ``deferred`` (None: the measuring module
        queries them itself); ``record`` takes each sample once its metrics are in."""
        return None

    @abstractmethod
    def compile(self, plan: Plan, *, run_dir: Path, prefix: str) -> Compiled:
        """Turn a plan into the playbook's inputs. Pure: ``cnibench plan`` and ``render`` call it too."""

    # ---- the run's bookkeeping and its end ------------------------------------------------------------------------
    @abstractmethod
    def reserve(self, run_dir: Path, owner_pid: int) -> str:
        """Pick the run's prefix and record its owner before anything is created; return the prefix."""

    @abstractmethod
    def note_playbook(self, prefix: str, pid: int) -> None:
        """Record the run's ansible-playbook process, for ``clean`` after a crash."""

    @abstractmethod
    def cleanup(self, prefix: str, compiled: Compiled | None) -> list[str]:
        """Remove whatever the run with ``prefix`` left behind (but what ``compiled`` keeps); return what."""

    # ---- after a crash --------------------------------------------------------------------------------------------
    @classmethod
    @abstractmethod
    def leftovers(cls) -> list[Leftover]:
        """Runs of this platform with state or resources left (``clean``)."""

    @classmethod
    @abstractmethod
    def remove(cls, leftover: Leftover) -> list[str]:
        """Remove what ``leftover`` names; return what was removed. Raises CnibenchError."""


def repetitions_of(compiled: Compiled, cni: str) -> list[Repetition]:
    return [r for r in compiled.repetitions if r.cni == cni]
