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
from typing import Any

from cnibench.errors import PlatformError
from cnibench.platforms.kube.kubectl import Kubectl
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


def nc_connected(output: str, returncode: int) -> bool:
    """Whether ``nc -z -v`` connected, from its own words (stdout and stderr together): "Connection to ... succeeded!"
    (exit 0) or "nc: connect to ... failed: ..." / "... timed out: ..." (exit 1; a NetworkPolicy's drop times out,
    a reject is refused). Anything else (kubectl's own failure: no such pod, the API server unreachable) is no
    answer about the datapath: raises PlatformError with it, so a broken probe never passes for a denial."""
    text = " ".join(output.split())
    if returncode == 0 and "succeeded!" in text:
        return True
    if returncode != 0 and "nc: connect to " in text and (" failed: " in text or " timed out: " in text):
        return False
    raise PlatformError(f"the probe did not run (exit {returncode}): {text[-300:] or 'no output'}")


def connects(kubectl: Kubectl, pod: str, ip: str, port: int) -> bool:
    """One probe from ``pod`` to ``ip:port``. Raises PlatformError when the probe itself did not run."""
    try:
        proc = run(nc_argv(kubectl, pod, ip, port), timeout=CONNECT_TIMEOUT_S + 30, check=False)
    except CommandError as exc:  # kubectl hung past its timeout
        raise PlatformError(f"the probe from {pod} did not finish: {exc}") from None
    return nc_connected(proc.stdout + proc.stderr, proc.returncode)


def wrong(results: dict[Probe, bool]) -> list[str]:
    """The probes whose outcome is not what the policy says (``results``: probe -> it connected), each in words;
    empty when the datapath enforces the policy. Pure."""
    out = []
    for probe, connected in results.items():
        if probe.allowed and not connected:
            out.append(f"{probe} is refused (it must be allowed)")
        elif not probe.allowed and connected:
            out.append(f"{probe} gets through (it must be denied)")
    return out


def wait_enforced(probes: Sequence[Probe], connect: Callable[[Probe], bool], *, timeout: float, what: str) -> float:
    """Probe every ``probes`` until each one's outcome is what it must be; return the seconds it took. Raises
    PlatformError at the deadline (``timeout``, s) naming ``what`` was awaited and the probes still wrong."""
    start = time.monotonic()
    last: list[str] = []

    def enforced() -> bool | None:
        nonlocal last
        last = wrong({probe: connect(probe) for probe in probes})
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
        run(kubectl.argv("apply", "--server-side", "--field-manager", "cnibench", "--force-conflicts", "--filename",
                         manifest, namespaced=False), timeout=120)  # fmt: skip
    what = f"the NetworkPolicy ({rules}) is not enforced" if manifest else "traffic is not open without a policy"
    wait_enforced(expected, lambda p: connects(kubectl, p.pod, ip, p.port), timeout=timeout, what=what)
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
    wait_enforced(opened, lambda p: connects(kubectl, p.pod, ip, p.port), timeout=timeout, what=what)
    return time.monotonic() - start
