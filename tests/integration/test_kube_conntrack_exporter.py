"""The Kubernetes platforms' conntrack figures come from node_exporter as cnibench renders it (a DaemonSet on the host
network with host PID, the host's /proc and /sys mounted at /host/proc and /host/sys): run here with exactly the
rendered arguments, in a network namespace standing for a node (its own conntrack table) with /proc and /sys bound
at the rendered mount points in a private mount namespace (what the hostPath volumes are), it must report that
namespace's table, every series the saved conntrack query selects, as /proc of the namespace reads it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from cnibench import commands
from cnibench.metrics.queries import CONNTRACK_SERIES
from cnibench.tools.conntrack import COUNTERS, parse_node_exporter

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "platforms" / "kube"))
from kube_examples import write_example

pytestmark = pytest.mark.integration
PORT = 19181


def _in(ns: str, *argv: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, check=True, **kw)


def test_node_exporter_as_rendered_reads_the_nodes_own_conntrack_table(tmp_path):
    spec = write_example(tmp_path, "kind-antrea-vs-cilium.yaml",
                         scenarios={"east-west": {"workloads": ["crr"], "protocols": ["tcp"]}})  # fmt: skip
    assert commands.render(spec, tmp_path / "out") == 0
    docs = yaml.safe_load_all((tmp_path / "out/rendered/antrea/manifests/20-monitoring.yaml").read_text())
    pod = next(d for d in docs if d and d["kind"] == "DaemonSet")["spec"]["template"]["spec"]
    assert pod["hostNetwork"] and pod["hostPID"]
    (container,) = pod["containers"]
    host = tmp_path / "host"
    mounts = {m["mountPath"]: next(v["hostPath"]["path"] for v in pod["volumes"] if v["name"] == m["name"])
              for m in container["volumeMounts"]}  # fmt: skip
    assert mounts == {"/host/proc": "/proc", "/host/sys": "/sys"}
    args = [a.replace("/host/", f"{host}/") for a in container["args"]]
    args = [f"--web.listen-address=127.0.0.1:{PORT}" if a.startswith("--web.listen-address") else a for a in args]
    assert "--collector.conntrack" in args
    binds = "; ".join(f"mkdir -p {host}{p[5:]} && mount --bind {src} {host}{p[5:]}" for p, src in mounts.items())
    ns = f"cnirrk{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    exporter = None
    try:
        _in(ns, "ip", "link", "set", "lo", "up")
        _in(ns, "nft", "add table inet t; add chain inet t in { type filter hook input priority 0 ; }; "
                       "add rule inet t in ct state new counter")  # fmt: skip
        # flows for the table: a UDP datagram to each of 40 ports (each an unreplied flow, kept 30 s)
        _in(ns, sys.executable, "-c", "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "for p in range(21001, 21041): s.sendto(b'x', ('127.0.0.1', p))")  # fmt: skip
        exporter = subprocess.Popen(
            ["ip", "netns", "exec", ns, "unshare", "--mount", "sh", "-c",
             f"mount --make-rprivate / && {binds} && exec prometheus-node-exporter {' '.join(args)}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        scrape = (
            f"import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:{PORT}/metrics').read().decode())"
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                text = _in(ns, sys.executable, "-c", scrape).stdout
                break
            except subprocess.CalledProcessError:
                if time.monotonic() > deadline or exporter.poll() is not None:
                    raise
                time.sleep(0.2)
        count = int(_in(ns, "cat", "/proc/sys/net/netfilter/nf_conntrack_count").stdout)
        limit = int(_in(ns, "cat", "/proc/sys/net/netfilter/nf_conntrack_max").stdout)
    finally:
        if exporter is not None:
            exporter.terminate()
            exporter.communicate(timeout=10)  # and closes its stderr pipe
        subprocess.run(["ip", "netns", "del", ns], check=False)
    table = parse_node_exporter(text)
    # the namespace's own table (the 40 UDP flows and the scrapes), not this machine's
    assert table.entries is not None and 40 <= table.entries <= count and table.limit == limit
    assert all(getattr(table.counters, c) >= 0 for c in COUNTERS)
    selected = re.search(r'__name__=~"([^"]+)"', CONNTRACK_SERIES)
    assert selected is not None
    names = {line.split()[0] for line in text.splitlines() if line.startswith("node_nf_conntrack")}
    wanted = {"node_nf_conntrack_entries", "node_nf_conntrack_entries_limit"}
    wanted |= {f"node_nf_conntrack_stat_{c}" for c in COUNTERS}
    assert {n for n in names if re.fullmatch(selected.group(1), n)} == wanted
