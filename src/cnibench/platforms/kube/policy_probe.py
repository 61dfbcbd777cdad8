"""The network-policy scenario's probes on Kubernetes, at run time: a TCP connection from a pod to the server pod's
port (``nc -z``, netcat-openbsd in the pods' netshoot image), and the waits built on it: a policy size's objects
applied (server-side) until the datapath enforces them (every allowed probe connects, every denied probe does not),
and deleted until it no longer does (the denied probe connects again), each with a deadline.

A NetworkPolicy has no status saying it is in force (its alpha ``status`` of Kubernetes 1.24 was withdrawn and removed
in 1.28: KEP-2943, kubernetes/kubernetes#115843), so the datapath itself is asked, as the egress scenario asks the
external server.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from cnibench.errors import PlatformError
from cnibench.platforms.kube.kubectl import Kubectl
from cnibench.platforms.kube.network_policy import APPLY_FLAGS
from cnibench.proc import CommandError, run, wait_until

#: Seconds one probe waits for the TCP handshake (``nc -w``): a dropped SYN is a denial after this long.
CONNECT_TIMEOUT_S = 2
#: Seconds between two rounds of probes while waiting.
INTERVAL_S = 0.5


@dataclass(frozen=True)
class Probe:
    """A TCP connection from ``pod`` to the server pod's ``port``; ``allowed``: the policy must let it through (a
    client pod), else it must not (the denied probe's pod, which lacks the clients' label)."""

    pod: str
    port: int
    allowed: bool

    def __str__(self) -> str:
        return f"{self.pod} -> :{self.port}"


def nc_argv(kubectl: Kubectl, pod: str, ip: str, port: int) -> list[str]:
    """``kubectl exec`` of one connection attempt: ``nc -z -v -w 2 IP PORT`` (connect, send nothing, close)."""
    return kubectl.argv("exec", pod, "--", "nc", "-z", "-v", "-w", str(CONNECT_TIMEOUT_S), ip, str(port))


#: What one probe found: the handshake completed, the SYN was answered with a RST (it reached the server's node: a
#: port nobody listens on, or a policy that rejects instead of dropping), or no answer in time (dropped).
Outcome = Literal["connected", "refused", "timed-out"]


def nc_outcome(output: str, returncode: int) -> Outcome:
    """What ``nc -z -v`` found, from its own words (stdout and stderr together): "Connection to ... succeeded!"
    (exit 0), "nc: connect to ... failed: Connection refused" or "nc: connect to ... timed out: ..." (exit 1).
    Anything else (kubectl's own failure: no such pod, the API server unreachable; a name that does not resolve) is
    no answer about the datapath: raises PlatformError with it, so a broken probe never passes for a denial."""
    text = " ".join(output.split())
    if returncode == 0 and "succeeded!" in text:
        return "connected"
    if returncode != 0 and "nc: connect to " in text:
        if " timed out: " in text:
            return "timed-out"
        if "Connection refused" in text:
            return "refused"
    raise PlatformError(f"the probe did not run (exit {returncode}): {text[-300:] or 'no output'}")


def probe_once(kubectl: Kubectl, pod: str, ip: str, port: int) -> Outcome:
    """One probe from ``pod`` to ``ip:port``. Raises PlatformError when the probe itself did not run."""
    try:
        proc = run(nc_argv(kubectl, pod, ip, port), timeout=CONNECT_TIMEOUT_S + 30, check=False)
    except CommandError as exc:  # kubectl hung past its timeout
        raise PlatformError(f"the probe from {pod} did not finish: {exc}") from None
    return nc_outcome(proc.stdout + proc.stderr, proc.returncode)


def wrong(results: dict[Probe, Outcome]) -> list[str]:
    """The probes whose outcome is not what the policy says (``results``: probe -> what it found), each in words;
    empty when the datapath enforces the policy. An allowed probe must connect; a denied one must time out (a
    NetworkPolicy drops, as every CNI cnibench installs does by default; a RST means the SYN reached the server's
    node, as the scenario's own denied probe judges it: :func:`cnibench.tools.policy_probe.outcome`). Pure."""
    out = []
    for probe, found in results.items():
        if probe.allowed and found != "connected":
            out.append(f"{probe} is {found} (it must connect)")
        elif not probe.allowed and found != "timed-out":
            out.append(f"{probe} is {found} (it must be dropped: time out)")
    return out


def wait_enforced(probes: Sequence[Probe], probe: Callable[[Probe], Outcome], *, timeout: float, what: str) -> float:
    """Probe every ``probes`` until each one's outcome is what it must be; return the seconds it took. Raises
    PlatformError at the deadline (``timeout``, s) naming ``what`` was awaited and the probes still wrong."""
    start = time.monotonic()
    last: list[str] = []

    def enforced() -> bool | None:
        nonlocal last
        last = wrong({each: probe(each) for each in probes})
        return True if not last else None

    if wait_until(enforced, timeout, interval=INTERVAL_S) is None:
        raise PlatformError(f"{what} after {timeout:g} s: {'; '.join(last)}")
    return time.monotonic() - start


def server_ip(kubectl: Kubectl, pod: str) -> str:
    """The server pod's IP. Raises PlatformError when it has none."""
    ip = (kubectl.json("get", "pod", pod).get("status") or {}).get("podIP")
    if not ip:
        raise PlatformError(f"pod {pod} has no IP")
    return str(ip)


def apply_policy(
    kubectl: Kubectl, *, manifest: str | None, server: str, probes: Sequence[Probe], timeout: float, rules: str
) -> dict[str, Any]:
    """Apply a policy size's objects (``manifest``; None: the no-policy size, nothing applied) server-side and wait
    until the datapath enforces them (:func:`wait_enforced`; with no policy every probe must connect). Returns
    ``policy_enforced_s``: seconds from the apply to the first round of probes all as they must be (a coarse figure,
    probed every :data:`INTERVAL_S` s: the scenario's programming latency measures it finely). Raises
    PlatformError (``rules``: the size in words, for the message)."""
    ip = server_ip(kubectl, server)
    expected = probes if manifest is not None else [Probe(p.pod, p.port, True) for p in probes]
    start = time.monotonic()
    if manifest is not None:
        run(kubectl.argv("apply", *APPLY_FLAGS, "--filename", manifest, namespaced=False), timeout=120)
    what = f"the NetworkPolicy ({rules}) is not enforced" if manifest else "traffic is not open without a policy"
    wait_enforced(expected, lambda p: probe_once(kubectl, p.pod, ip, p.port), timeout=timeout, what=what)
    return {"policy_enforced_s": round(time.monotonic() - start, 3)}


def delete_policy(
    kubectl: Kubectl, *, manifest: str, server: str, probes: Sequence[Probe], timeout: float, rules: str
) -> float:
    """Delete a policy size's objects and wait until every probe connects again (the next size starts from an open
    datapath); returns the seconds. Raises PlatformError."""
    ip = server_ip(kubectl, server)
    start = time.monotonic()
    run(kubectl.argv("delete", "--ignore-not-found", "--wait", "--filename", manifest, namespaced=False), timeout=120)
    opened = [Probe(p.pod, p.port, True) for p in probes]
    what = f"traffic is still denied after the NetworkPolicy ({rules}) was deleted"
    wait_enforced(opened, lambda p: probe_once(kubectl, p.pod, ip, p.port), timeout=timeout, what=what)
    return time.monotonic() - start
