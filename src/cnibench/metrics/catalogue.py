"""The query catalogue: name -> PromQL, one place for every platform (netns, kind, AKS use the same).

The expressions are the node-mixin's: CPU utilisation from idle time, memory used as total minus available, and the
network transmit/receive rates of the node's interfaces (bits per second, loopback left out), one series per node
(label ``node``). ``{window}`` is the rate window: two scrape intervals (at least 2 s), so that every point has two
samples to compute a rate from, and as little smearing across the edges of the measurement as that allows.
"""

from __future__ import annotations

QUERIES: dict[str, str] = {
    "cpu_util": '1 - avg by (node) (rate(node_cpu_seconds_total{{mode="idle"}}[{window}]))',
    "mem_used_bytes": "sum by (node) (node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes)",
    "net_tx_bps": 'sum by (node) (rate(node_network_transmit_bytes_total{{device!="lo"}}[{window}])) * 8',
    "net_rx_bps": 'sum by (node) (rate(node_network_receive_bytes_total{{device!="lo"}}[{window}])) * 8',
}

#: What node_exporter can tell inside a network namespace (recorded with every run that has metrics).
NETNS_SCOPE = (
    "node_exporter runs in each node's network namespace: its network counters are that node's own interfaces, "
    "while CPU and memory are the whole machine's (every node shares it), so cpu_util and mem_used_bytes are "
    "machine-wide, not per node"
)


def rate_window_s(scrape_interval_s: float) -> float:
    """The range for rate(), in seconds: two scrape intervals, at least 2 s (rate() needs two samples)."""
    return max(2 * scrape_interval_s, 2.0)


def expressions(scrape_interval_s: float) -> dict[str, str]:
    window = f"{rate_window_s(scrape_interval_s):g}s"
    return {name: query.format(window=window) for name, query in QUERIES.items()}
