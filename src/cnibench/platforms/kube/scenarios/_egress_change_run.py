"""``python -m cnibench.platforms.kube.scenarios._egress_change_run measure CONFIG.json EVENT GATEWAYS``: one
repetition of an egress-change event on a live Kubernetes cluster (kind, kubeconfig), run on this machine as the
repetition's measured command (``kube_measure``); its standard output is the pcap (tcpdump ``-w -``), the
repetition's raw artifact, read by the same parser as netns's (:mod:`cnibench.scenarios._egress_capture`).

In order, as on netns: tcpdump at the external server (kind: in its container on kind's network, ``docker exec``;
kubeconfig: on this machine, on the interface holding the server's address) until it says it listens, one-off
iperf3 servers there, for failover the low-rate TCP flow from the probe client pod, the probe (iperf3 UDP at the
spec's rate, ``kubectl exec``; new pod: the new pod is the probe), ``lead`` seconds of probe, the event (its start
and return stamped with ``time.time()``), its marker, ``duration`` seconds, then every process stopped by its PID in
its place and what the event changed undone (the policy or pod deleted, the gateway's link up and its routes back,
the node uncordoned), also when something failed.

The clock: the marker carries ``time.time()`` of this machine (CLOCK_REALTIME). tcpdump stamps packets with the
kernel clock of the machine it runs on: kind's server container runs on the Docker host's kernel, which is this
machine's where Docker runs here (Linux); kubeconfig's tcpdump runs on this machine. The event is the moment the
command returned *here*: what the API server and the agents do after is in the figures.

The waits for ``lead`` and ``duration`` are the measurement's windows, not stand-ins for a condition. The same
module's ``prepare`` and ``clear`` (the role's module ``kube_egress_change``) label the two gateway nodes before the
trials and undo everything after each trial, also after a failed step.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from cnibench.errors import CnibenchError, PlatformError
from cnibench.platforms.kube.cluster import parse_nodes
from cnibench.platforms.kube.kubectl import Kubectl, existing
from cnibench.platforms.kube.scenarios._egress_change_events import (
    PID_PREFIX,
    Place,
    active_gateway,
    agent_pods,
    capture_interface,
    client_seconds,
    cordon_argvs,
    docker_place,
    flow_argv,
    iperf3_server_argv,
    keep_ipv6_argv,
    link_down_argvs,
    link_up_argvs,
    no_port_unreachable_argvs,
    pick_gateways,
    pod_place,
    probe_argv,
    read_pid,
    status_field,
    tcpdump_argv,
)
from cnibench.proc import run, terminate, wait_until
from cnibench.scenarios._egress_capture import Marker, drive, send_markers

if TYPE_CHECKING:
    from cnibench.scenarios._egress_capture import Event

#: Seconds tcpdump and the iperf3 servers may take to start (a ``docker exec`` included), and to end when stopped.
START_TIMEOUT = 15.0


@dataclass
class Proc:
    """A process the driver started: its place, the local client (the tool itself on this machine, else ``docker
    exec`` or ``kubectl exec``), its log (standard error, and standard output unless it is the pcap) and its PID in
    its place."""

    place: Place
    popen: subprocess.Popen[bytes]
    log: Path
    pid: int


def kubectl_of(config: dict[str, Any]) -> Kubectl:
    k = config["kubectl"]
    return Kubectl(k.get("kubeconfig"), k.get("context"), str(k["namespace"]))


class Driver:
    """One repetition: what it started (by PID) and what it has to undo."""

    def __init__(self, config: dict[str, Any], event: str, gateways: list[str], out: IO[bytes]) -> None:
        self.c = config
        self.event = event
        self.gateways = gateways
        self.out = out
        self.kubectl = kubectl_of(config)
        server = config["server"]
        self.server = docker_place(server["container"]) if server["container"] else Place()
        self.client = pod_place(self.kubectl.argv(), config["client_pod"])
        self.logs = Path(config["log_dir"])
        self.procs: list[Proc] = []
        self.undo: list[list[str]] = []

    def start(self, place: Place, command: list[str], name: str, *, stdout: IO[bytes] | None = None,
              ready: str | None = None) -> Proc:  # fmt: skip
        """Start ``command`` in ``place`` (its standard error, and output unless ``stdout``, to its log), read its
        PID there, and wait until its log shows ``ready``. Raises PlatformError when either does not come."""
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{name}.log"
        with log.open("wb") as handle:
            popen = subprocess.Popen(place.argv(command), stdin=subprocess.DEVNULL, stdout=stdout or handle,
                                     stderr=handle)  # fmt: skip
        pid = popen.pid
        if not place.local:
            line = wait_until(lambda: _line(log, PID_PREFIX), START_TIMEOUT, interval=0.02)
            pid = read_pid(line or log.read_text(errors="replace"))
        proc = Proc(place, popen, log, pid)
        self.procs.append(proc)
        if ready is not None and not wait_until(lambda: _line(log, ready), START_TIMEOUT, interval=0.02):
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise PlatformError(f"{command[0]} did not start within {START_TIMEOUT:g} s: {tail[0]}")
        return proc

    def stop(self, proc: Proc) -> None:
        """SIGTERM by its PID in its place (tcpdump flushes and ends), then wait for the local client."""
        if proc.popen.poll() is None:
            if proc.place.local:
                terminate([proc.pid])
            else:
                run(proc.place.kill_argv(proc.pid), check=False, timeout=START_TIMEOUT)
        try:
            proc.popen.wait(START_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.popen.kill()  # the local client only: the process in its place got its signal
            proc.popen.wait(START_TIMEOUT)

    # ---- the event's actions ------------------------------------------------------------------------------------
    def owner(self) -> str:
        """The active gateway, once the CNI reports it (Antrea: the Egress's status; within ``apply_timeout``)."""
        owner = self.c["owner"]
        if owner is None:
            return active_gateway(self.gateways, None)

        def reported() -> str | None:
            return status_field(existing(self.kubectl, owner["resource"], owner["name"]), owner["field"])

        found = wait_until(reported, float(self.c["apply_timeout"]), interval=0.5)
        if found is None:
            raise PlatformError(f"{owner['resource']} {owner['name']}: no status.{owner['field']} within "
                                f"{self.c['apply_timeout']} s (the CNI has not placed the egress IP)")  # fmt: skip
        return active_gateway(self.gateways, found)

    def prepare_failure(self, node: str) -> list[list[str]]:
        """What fails ``node`` on this platform (read before the event: only the action is timed); its undo is noted
        in the state file first, so the role's ``clear`` can undo it even if this process is killed."""
        if self.c["failure"] == "link-down":
            node_place = docker_place(node)
            routes = json.loads(run(node_place.once(["ip", "-j", "-4", "route", "show", "dev", "eth0"])).stdout)
            run(node_place.once(keep_ipv6_argv()), check=False)
            undo = [node_place.once(argv) for argv in link_up_argvs(routes)]
            actions = [node_place.once(argv) for argv in link_down_argvs()]
        else:
            pods = self.kubectl.json("get", "pods", "--all-namespaces", "--field-selector", f"spec.nodeName={node}",
                                     namespaced=False)  # fmt: skip
            base = self.kubectl.argv(namespaced=False)
            actions = cordon_argvs(base, node, agent_pods(pods, self.c["agent_daemonset"]))
            undo = [[*base, "uncordon", node]]
        write_state(Path(self.c["state"]), undo)
        self.undo += undo
        return actions

    def measure(self) -> None:
        c, event = self.c, self.event
        server_ip, ports = c["server"]["ip"], c["ports"]
        device, marker_to = c["server"]["device"], c["marker_to"]
        if device is None:  # kubeconfig: the interface of this machine that holds the server's address
            addresses = json.loads(run(["ip", "-j", "-4", "address", "show"]).stdout)
            device, marker_to = capture_interface(addresses, server_ip)
        # new pod, failover: the existing policy is in place (its owner reported) before anything starts
        owner = self.owner() if event != "policy-apply" else None
        actions = self.prepare_failure(owner) if event == "gateway-failover" and owner is not None else []
        seconds = client_seconds(c["lead"], c["duration"])
        quiet, loud = no_port_unreachable_argvs(server_ip)
        self.undo.append(self.server.once(loud))
        for argv in quiet:
            run(self.server.once(argv), timeout=START_TIMEOUT)
        tcpdump = self.start(self.server, tcpdump_argv(device, c["tcpdump"]), "tcpdump", stdout=self.out,
                             ready="listening on")  # fmt: skip
        flow_port = ports["flow"] if event == "gateway-failover" else None
        pod_port = ports["pod"] if event == "new-pod" else None
        for port in (ports["probe"], flow_port, pod_port):
            if port is not None:
                self.start(self.server, iperf3_server_argv(server_ip, port, c["iperf3"]), f"iperf3-server-{port}",
                           ready="Server listening")  # fmt: skip
        if flow_port is not None:
            self.start(self.client, flow_argv(server_ip, flow_port, seconds, bitrate=c["flow_bitrate"]), "flow")
        if event != "new-pod":
            self.start(self.client, probe_argv(server_ip, ports["probe"], seconds, bitrate=c["probe_bitrate"],
                                               size=c["probe_size"]), "probe")  # fmt: skip
        time.sleep(c["lead"])  # the stream before the event: the measurement's own window
        started = time.time()
        if event == "policy-apply":
            self.undo.append(self.kubectl.argv("delete", "--filename", c["policy"], "--ignore-not-found"))
            run(self.kubectl.argv("apply", "--filename", c["policy"]), timeout=c["apply_timeout"])
        elif event == "new-pod":  # the new pod is the probe: its container runs iperf3 from its start
            self.undo.append(self.kubectl.argv("delete", "--filename", c["new_pod_manifest"], "--ignore-not-found"))
            run(self.kubectl.argv("apply", "--filename", c["new_pod_manifest"]), timeout=c["apply_timeout"])
        else:
            for argv in actions:
                run(argv, timeout=START_TIMEOUT)
        at = time.time()
        window = float(c["duration"])
        if event == "new-pod":  # its figures start at its first packet: the window starts once it runs
            ready = f"--timeout={c['apply_timeout']}s"
            run(self.kubectl.argv("wait", "--for=condition=Ready", f"pod/{c['new_pod']}", ready),
                timeout=c["apply_timeout"] + START_TIMEOUT, check=False)  # fmt: skip
            window += time.time() - at
        marker = Marker(cast("Event", event), started, at, c["egress_ip"], ports["probe"], pod_port, flow_port, window)
        send_markers(marker_to, [marker.line()])  # the marker's payload has the times: when it arrives is no figure
        time.sleep(c["duration"])  # the stream after the event: the measurement's own window
        for proc in self.procs:
            if proc is not tcpdump:
                self.stop(proc)
        self.stop(tcpdump)

    def close(self) -> None:
        """Undo what the event changed (in reverse), then stop whatever still runs, by PID."""
        for argv in reversed(self.undo):
            with contextlib.suppress(CnibenchError):  # a timeout or a missing tool: the rest is still undone
                run(argv, check=False, timeout=120)
        if self.undo:
            Path(self.c["state"]).unlink(missing_ok=True)
        for proc in self.procs:
            with contextlib.suppress(CnibenchError, OSError, subprocess.SubprocessError):
                self.stop(proc)


def _line(log: Path, text: str) -> str | None:
    """The first line of ``log`` that contains ``text`` (None: none yet)."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return None
    return next((line for line in lines if text in line), None)


# ---- the role's module: before the trials, after each ------------------------------------------------------------
def write_state(path: Path, undo: list[list[str]]) -> None:
    """Note what undoes a failure (argv lists), for :func:`clear` when the driver could not."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"undo": undo}), encoding="utf-8")


def undo_noted(state: Path) -> bool:
    """Run the undo :func:`write_state` noted in ``state`` (in reverse; each tried even if one fails) and forget it.
    Returns whether there was one. ``cnibench clean`` calls it too (kubeconfig: the cluster outlives the run)."""
    if not state.exists():
        return False
    for argv in reversed(json.loads(state.read_text(encoding="utf-8"))["undo"]):
        with contextlib.suppress(CnibenchError):  # a timeout or a missing tool: the rest is still undone
            run(argv, check=False, timeout=120)
    state.unlink()
    return True


def prepare(config: dict[str, Any]) -> list[str]:
    """Label the two gateway-capable nodes (``gateway_label=true``); on kind, for a CNI that does not place the
    egress IP itself (Cilium), put it on the active gateway's eth0. Returns the gateway nodes. Raises
    PlatformError."""
    kubectl = kubectl_of(config)
    nodes = parse_nodes(kubectl.json("get", "nodes", namespaced=False))
    workers = [n.name for n in nodes if n.ready and n.schedulable and not n.control_plane]
    gateways = pick_gateways(workers, config["preferred_gateways"])
    for node in gateways:
        run(kubectl.argv("label", "node", node, f"{config['gateway_label']}=true", "--overwrite", namespaced=False))
    assign = config["assign_egress_ip"]
    if assign is not None:
        run(["docker", "exec", active_gateway(gateways, None), "ip", "address", "replace", assign["address"],
             "dev", assign["device"]])  # fmt: skip
    return gateways


def clear(config: dict[str, Any], gateways: list[str] | None = None) -> list[str]:
    """After a trial, whatever became of it: a failure the driver did not undo undone (the link up, the node
    uncordoned), the new pod and the policy deleted; with ``gateways`` (after the last trial) their label removed.
    Returns what it did, in words."""
    kubectl = kubectl_of(config)
    done = []
    if undo_noted(Path(config["state"])):
        done.append("undid the gateway's failure")
    for manifest in (config["new_pod_manifest"], config["policy"]):
        out = run(kubectl.argv("delete", "--filename", manifest, "--ignore-not-found"), timeout=120).stdout
        done += [line for line in out.splitlines() if line.strip()]
    for node in gateways or []:
        run(kubectl.argv("label", "node", node, f"{config['gateway_label']}-", namespaced=False), check=False)
        done.append(f"node {node} unlabelled")
    return done


def main(argv: list[str]) -> int:
    if len(argv) != 4 or argv[0] != "measure":
        print("usage: python -m cnibench.platforms.kube.scenarios._egress_change_run measure CONFIG.json EVENT "
              "GATEWAY,GATEWAY", file=sys.stderr)  # fmt: skip
        return 2
    config = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    return drive(Driver(config, argv[2], [g for g in argv[3].split(",") if g], sys.stdout.buffer))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
