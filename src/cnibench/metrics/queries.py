"""The node metrics queries: name -> PromQL, one place for every platform (netns, kind, AKS use the same).

The expressions are the node-mixin's: CPU utilisation from idle time, memory used as total minus available, and the
network transmit/receive rates (bits per second) of the node's uplinks (``{uplinks}``, a device regex the platform
gives), one series per node (label ``node``). ``{window}`` is the rate window: two scrape intervals (at least 2 s),
so that every point has two samples to compute a rate from, with as little smearing across the edges of the
measurement as that allows.
"""

from __future__ import annotations

QUERIES: dict[str, str] = {
    "cpu_util": '1 - avg by (node) (rate(node_cpu_seconds_total{{mode="idle"}}[{window}]))',
    "mem_used_bytes": "sum by (node) (node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes)",
    "net_tx_bps": 'sum by (node) (rate(node_network_transmit_bytes_total{{device=~"{uplinks}"}}[{window}])) * 8',
    "net_rx_bps": 'sum by (node) (rate(node_network_receive_bytes_total{{device=~"{uplinks}"}}[{window}])) * 8',
}
#: The CPU time counters, raw (a range selector at the window's end: every scrape with its own timestamp), for the
#: CPU seconds per mode over a window and the idle window before it (cnibench.scenarios.load). Every mode but idle.
CPU_SECONDS = "cpu_seconds"
CPU_COUNTERS = 'node_cpu_seconds_total{{mode!="idle"}}[{range}]'
#: node_exporter's conntrack collector, raw (a range selector: every scrape), for a request/response repetition's
#: conntrack table per node (:mod:`cnibench.metrics.conntrack`): entries, limit and the error counters.
CONNTRACK = "conntrack"
CONNTRACK_SERIES = (
    '{{__name__=~"node_nf_conntrack_entries|node_nf_conntrack_entries_limit|'
    'node_nf_conntrack_stat_(insert_failed|drop|early_drop|invalid)"}}[{range}]'
)
#: Queries that are a utilisation (a fraction of capacity): every point is clamped to UTILISATION_RANGE.
UTILISATION = frozenset({"cpu_util"})
UTILISATION_RANGE = (0.0, 1.0)
#: The node's own links to the outside: on netns the node network uplink (``<prefix>-eth``) and the gateway's
#: external link (``<prefix>-ext``). Counting every device would count forwarded traffic twice or more (the pod
#: bridge and its veths, the vxlan device and the uplink it rides on). Kubernetes platforms pass theirs (eth0).
NETNS_UPLINKS = ".*-(eth|ext)"

#: What node_exporter can tell inside a network namespace (recorded with every run that has metrics).
NETNS_SCOPE = (
    "node_exporter runs in each node's network namespace: its network counters are that node's own interfaces, "
    "while CPU and memory are the whole machine's (every node shares it), so cpu_util and mem_used_bytes are "
    "machine-wide, not per node"
)


#: The same for the Kubernetes platforms (node_exporter as a DaemonSet on the host network, host /proc and /sys).
KUBE_SCOPE = (
    "node_exporter runs on every node as a DaemonSet on the host network with the host's /proc and /sys: network "
    "counters are the node's uplinks; on kind the nodes are containers sharing one kernel, so cpu_util and "
    "mem_used_bytes are the whole machine's there, while on real nodes (kubeconfig, AKS) they are per node"
)


def rate_window_s(scrape_interval_s: float) -> float:
    """The range for rate(), in seconds: two scrape intervals, at least 2 s (rate() needs two samples)."""
    return max(2 * scrape_interval_s, 2.0)


def duration(seconds: float) -> str:
    """A duration Prometheus accepts: whole milliseconds (``2.5`` -> ``2500ms``; it refuses ``2.5s``)."""
    return f"{round(seconds * 1000)}ms"


def expressions(scrape_interval_s: float, uplinks: str = NETNS_UPLINKS) -> dict[str, str]:
    window = duration(rate_window_s(scrape_interval_s))
    return {name: query.format(window=window, uplinks=uplinks) for name, query in QUERIES.items()}
