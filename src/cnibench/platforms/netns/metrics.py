"""The netns platform's Prometheus, reached from a thread that lives in the namespace Prometheus listens in (the host
in front of the cluster, which outlives every cluster of the run): no process is started to ask it.

setns(2) with ``CLONE_NEWNET`` moves only the calling thread; the sockets it opens afterwards belong to that
namespace. Python 3.11 has no ``os.setns`` (it came in 3.12), so libc's is called through ctypes.
"""

from __future__ import annotations

import ctypes
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, Any, TypeVar

from cnibench.metrics.prometheus import PrometheusError, fetch_window, wait_targets_up
from cnibench.orchestration.events import with_node_metrics
from cnibench.spawn import NETNS_DIR

if TYPE_CHECKING:
    from cnibench.repetition import MetricsWindow
    from cnibench.results.model import Sample

T = TypeVar("T")
#: <sched.h>
CLONE_NEWNET = 0x40000000


def enter_netns(netns: str) -> None:
    """Move the calling thread into network namespace ``netns`` (``/run/netns/<netns>``). Raises OSError."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(NETNS_DIR / netns, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns into network namespace {netns}: {os.strerror(errno)}")
    finally:
        os.close(fd)


class NetnsThread:
    """One worker thread that runs what it is given inside ``netns``, one call after the other (in order)."""

    def __init__(self, netns: str) -> None:
        self.netns = netns
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"in-{netns}")

    def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        return self._pool.submit(self._call, fn, args, kwargs)

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        enter_netns(self.netns)  # a no-op after the first call; cheap, and it names the namespace if it is gone
        return fn(*args, **kwargs)

    def shutdown(self, *, cancel: bool = False) -> None:
        self._pool.shutdown(wait=not cancel, cancel_futures=cancel)


def wait_targets(netns: str, url: str, targets: int, *, since: float, timeout: float) -> float:
    """Wait until Prometheus (in ``netns``) has scraped every one of ``targets`` node_exporters up since ``since``
    (Unix time); the seconds it took. Raises :class:`PrometheusError` naming the laggards."""
    worker = NetnsThread(netns)
    try:
        return worker.submit(wait_targets_up, url, targets, timeout, since).result()
    except OSError as exc:
        raise PrometheusError(str(exc)) from None
    finally:
        worker.shutdown()


class NetnsMetricsCollector:
    """The node metrics of each repetition, queried from the run's Prometheus in a background thread while the next
    repetition runs (it waits for the scrape after the window ended: on the critical path that was about a second
    per repetition). A sample is recorded (``record``) once its metrics are in, in the order repetitions ended.

    Prometheus outlives every cluster of the run (it is stopped with the node network when the run is cleaned up),
    so a window can be queried after its cluster is gone; :meth:`drain` waits for the last ones before that."""

    def __init__(self, record: Callable[[Sample], None]) -> None:
        self._record = record
        self._workers: dict[str, NetnsThread] = {}
        self._pending: list[tuple[Future[None], Sample]] = []
        self._lock = threading.Lock()
        self._recorded: set[tuple[str, str, int]] = set()

    def _record_once(self, sample: Sample) -> None:
        """Record ``sample`` unless it already was (a query that finishes after :meth:`drain` gave up on it)."""
        key = (sample.cni, sample.scenario, sample.repetition)
        with self._lock:
            if key in self._recorded:
                return
            self._recorded.add(key)
        self._record(sample)

    def submit(self, sample: Sample, window: MetricsWindow, *, started_at: float, ended_at: float) -> None:
        netns = str(window.access["netns"])
        worker = self._workers.get(netns) or self._workers.setdefault(netns, NetnsThread(netns))
        idle = (started_at, started_at + window.idle_s) if window.idle_s else None
        future = worker.submit(self._collect, sample, window, started_at + window.warmup_s, ended_at, idle)
        self._pending.append((future, sample))

    def _collect(
        self, sample: Sample, window: MetricsWindow, start: float, end: float, idle: tuple[float, float] | None
    ) -> None:
        try:
            fetch_window(
                str(window.access["url"]),
                start=start,
                end=end,
                scrape_interval_s=window.scrape_interval_s,
                out_dir=window.out,
                idle=idle,
                cpu_scope="machine",  # every node exporter here sees this machine's CPUs (NetnsPlatform.cpu_scope)
            )
        except (PrometheusError, OSError) as exc:
            self._record_once(with_node_metrics(sample, window.out, str(exc)))
        else:
            self._record_once(with_node_metrics(sample, window.out, None))

    def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the metrics still being queried; a repetition whose metrics are not in
        by then is recorded without them (and says why)."""
        deadline = time.monotonic() + timeout
        for future, sample in self._pending:
            try:
                future.result(timeout=max(deadline - time.monotonic(), 0.0))
            except FutureTimeout:
                future.cancel()
                error = f"metrics missing: not queried within {timeout:g} s of the run's end"
                self._record_once(sample.model_copy(update={"metrics_error": error}))
        for worker in self._workers.values():
            worker.shutdown(cancel=True)
        self._pending.clear()
