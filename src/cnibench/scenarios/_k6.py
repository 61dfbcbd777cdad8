"""What the k6 samples share (ingress, ingested): the fields one parsed k6 summary gives. A private module: the
scenario registry does not import it as a scenario."""

from __future__ import annotations

from pydantic import Field

from cnibench.results.sample import SampleBase


class K6Fields(SampleBase):
    """The sample fields of one k6 run (:func:`cnibench.tools.k6.parse_summary`): requests, requests/s, latency in
    ms (k6's ``http_req_duration`` trend), the failed fraction (0..1), bit/s received, and the answers per backend
    pod (0 if it never answered)."""

    requests: int | None = None
    requests_per_s: float | None = None
    latency_avg_ms: float | None = None
    latency_p50_ms: float | None = None
    latency_p90_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    latency_max_ms: float | None = None
    failed_rate: float | None = Field(None, description="Fraction of requests that failed (0..1).")
    data_received_bps: float | None = Field(None, description="Bits per second received by k6.")
    backend_hits: dict[str, int] = Field(default_factory=dict, description="Pod -> answers; 0 if it never answered.")
