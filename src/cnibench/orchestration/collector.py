"""What queries the node metrics of repetitions whose window is deferred while the run goes on: the event handler
hands it each such repetition as it ends (a platform provides one: ``Platform.metrics_collector``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from cnibench.repetition import MetricsWindow
    from cnibench.results.model import Sample


class MetricsCollector(Protocol):
    """Queries deferred measurement windows while the run goes on."""

    def submit(self, sample: Sample, window: MetricsWindow, *, started_at: float, ended_at: float) -> None:
        """Query the node metrics of ``sample``'s repetition over ``window`` (its tool ran from ``started_at`` to
        ``ended_at``, Unix time in s), in the background; the sample is recorded once they are in."""
        ...

    def drain(self, timeout: float) -> None:
        """Wait at most ``timeout`` s for the queries still running (the run's end)."""
        ...
