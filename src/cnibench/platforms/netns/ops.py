"""Apply and remove rendered bundles; find and destroy namespaces and the processes inside them."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from cnibench import runstate as run_state
from cnibench.errors import PlatformError
from cnibench.platforms.netns.render import Bundle, Step
from cnibench.platforms.netns.topology import PREFIX_RE
from cnibench.proc import CommandError, descendants, run, terminate
from cnibench.spawn import NETNS_DIR

STEP_TIMEOUT = 30.0


def list_namespaces() -> list[str]:
    """Names of all named network namespaces (what ``ip netns list`` shows)."""
    try:
        return sorted(entry.name for entry in NETNS_DIR.iterdir())
    except FileNotFoundError:
        return []


def is_cnibench_namespace(name: str) -> bool:
    head = name.split("-", 1)[0]
    return bool(PREFIX_RE.match(head)) and "-" in name


def step_argv(step: Step, path: Path) -> list[str]:
    """The command that applies one rendered step."""
    if step.kind == "ip":
        argv = ["ip"]
        if step.netns:
            argv += ["-n", step.netns]
        if step.tolerant:
            argv.append("-force")
        return [*argv, "-batch", str(path)]
    if step.kind == "bridge":
        return ["bridge", "-n", str(step.netns), "-batch", str(path)]
    if step.kind == "sysctl":
        return ["ip", "netns", "exec", str(step.netns), "sysctl", "-q", "-p", str(path)]
    if step.kind == "nft":
        return ["ip", "netns", "exec", str(step.netns), "nft", "-f", str(path)]
    if step.kind == "ethtool":  # ethtool has no batch mode: one command per line (ethtool_argvs)
        return ["ip", "netns", "exec", str(step.netns), "ethtool"]
    raise ValueError(f"step {step.file}: no command for kind {step.kind!r}")


#: How many steps of a bundle run at once (each is a short-lived ip, bridge, sysctl or nft process).
STEP_WORKERS = 4


def touched(step: Step) -> frozenset[str] | None:
    """The namespaces a step changes: its own, and those an ``ip`` step creates links in (``... netns NAME``).
    None: it runs alone (a step in the host's namespace, such as ``netns add``, or the destroy step)."""
    if step.netns is None or step.kind == "destroy":
        return None
    names = {step.netns}
    if step.kind == "ip":
        words = step.content.split()
        names.update(name for word, name in itertools.pairwise(words) if word == "netns")
    return frozenset(names)


def step_dependencies(steps: Sequence[Step]) -> list[set[int]]:
    """For each step, the earlier steps it must wait for: every one that touches a namespace it touches (or that
    runs alone, or when it does). Steps in different namespaces are independent: the nodes' sysctls, addresses,
    FDBs and masquerade rules, and the pods, are each configured from their own namespace."""
    touches = [touched(step) for step in steps]

    def ordered(a: frozenset[str] | None, b: frozenset[str] | None) -> bool:
        return a is None or b is None or bool(a & b)

    return [{i for i in range(j) if ordered(touches[i], touches[j])} for j in range(len(steps))]


def _apply_step(step: Step, directory: Path) -> list[str]:
    if step.kind == "destroy":
        destroy_namespaces([line for line in step.content.splitlines() if line.strip()])
        return ["destroy", *step.content.split()]
    argv = step_argv(step, directory / step.file)
    argvs = [[*argv, *line.split()] for line in step.content.splitlines() if line.strip()]
    for one in argvs if step.kind == "ethtool" else [argv]:
        try:
            run(one, timeout=STEP_TIMEOUT, check=not step.tolerant)
        except CommandError as exc:
            where = f" in {step.netns}" if step.netns else ""
            raise PlatformError(f"{step.file}{where}: {step.kind} failed: {exc.detail or exc}") from exc
    return argv


def apply_steps(steps: Iterable[Step], directory: Path, *, workers: int = STEP_WORKERS) -> list[list[str]]:
    """Apply steps in their order, where it matters: a step waits for every earlier step that touches one of its
    namespaces (:func:`step_dependencies`); steps in different namespaces run side by side (up to ``workers`` at
    once: a cluster's build was 26 processes one after the other). The end state is the same as one after the
    other. The first failing step (in the bundle's order) raises :class:`PlatformError` (unless it is tolerant)
    once the steps already running have ended; nothing more is started after a failure. Returns the commands run,
    in the bundle's order."""
    steps = list(steps)
    deps = step_dependencies(steps)
    done: dict[int, list[str]] = {}
    failures: dict[int, PlatformError] = {}
    pending = list(range(len(steps)))
    with ThreadPoolExecutor(max_workers=max(workers, 1), thread_name_prefix="netns-step") as pool:
        running: dict[Future[list[str]], int] = {}
        while pending or running:
            if not failures:
                ready = [j for j in pending if deps[j] <= done.keys()]
                for j in ready:
                    pending.remove(j)
                    running[pool.submit(_apply_step, steps[j], directory)] = j
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                j = running.pop(future)
                try:
                    done[j] = future.result()
                except PlatformError as exc:
                    failures[j] = exc
    if failures:
        raise failures[min(failures)]
    return [done[j] for j in sorted(done)]


def apply_bundle(bundle_path: Path, *, present: bool, state_file: Path | None = None) -> list[list[str]]:
    """Apply (``present``) or remove a bundle written by :meth:`Bundle.write`.

    Namespaces a bundle creates are registered in ``state_file`` *before* they are created, so a killed run
    leaves a record for ``cnibench clean``. If applying fails half-way, what was created is removed again.
    """
    bundle = Bundle.load(bundle_path)
    directory = bundle_path.parent
    if not present:
        done = apply_steps(bundle.remove, directory)
        if state_file is not None and bundle.namespaces:
            run_state.drop_namespaces(state_file, list(bundle.namespaces))
        return done
    if state_file is not None and bundle.namespaces:
        run_state.add_namespaces(state_file, bundle.prefix, list(bundle.namespaces))
    try:
        return apply_steps(bundle.apply, directory)
    except PlatformError:
        with contextlib.suppress(PlatformError):
            apply_steps(bundle.remove, directory)
        if state_file is not None and bundle.namespaces:
            run_state.drop_namespaces(state_file, list(bundle.namespaces))
        raise


#: The offloads (ethtool -k feature names) the effective configuration records per interface.
OFFLOADS = ("rx-checksumming", "tx-checksumming", "tcp-segmentation-offload", "generic-segmentation-offload",
            "generic-receive-offload")  # fmt: skip


def link_offloads(netns: str, ifname: str) -> dict[str, bool] | None:
    """The :data:`OFFLOADS` of one interface, from ``ethtool --json -k`` (``active``); None without ethtool."""
    from cnibench.proc import tool_path

    ethtool = tool_path("ethtool")
    if ethtool is None:
        return None
    proc = run(["ip", "netns", "exec", netns, ethtool, "--json", "-k", ifname], timeout=STEP_TIMEOUT)
    features = json.loads(proc.stdout)[0]
    return {name: bool(features[name]["active"]) for name in OFFLOADS if isinstance(features.get(name), dict)}


def link_mtus(bundle_path: Path) -> dict[str, dict[str, int]]:
    """Read back the MTU of every interface in the namespaces a bundle created: ``{netns: {ifname: mtu}}``."""
    bundle = Bundle.load(bundle_path)
    out: dict[str, dict[str, int]] = {}
    for ns in bundle.namespaces:
        proc = run(["ip", "-j", "-n", ns, "link", "show"], timeout=STEP_TIMEOUT)
        out[ns] = {link["ifname"]: int(link["mtu"]) for link in json.loads(proc.stdout) if link["ifname"] != "lo"}
    return out


# --------------------------------------------------------------------------------------------- processes


def _netns_inode(name: str) -> int | None:
    try:
        return (NETNS_DIR / name).stat().st_ino
    except OSError:
        return None


def pids_in_namespaces(names: Iterable[str]) -> dict[int, str]:
    """Every process whose network namespace is one of ``names``: ``{pid: namespace}``."""
    inodes = {ino: name for name in names if (ino := _netns_inode(name)) is not None}
    found: dict[int, str] = {}
    if not inodes:
        return found
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            ino = (entry / "ns" / "net").stat().st_ino
        except OSError:
            continue
        if ino in inodes:
            found[int(entry.name)] = inodes[ino]
    return found


def end_playbook(state: dict[str, object]) -> list[int]:
    """End a run's orphaned ansible-playbook and every process below it (its workers run in their own
    sessions since ansible-core 2.19, so a process-group kill would miss them). Only the exact process that
    was recorded is touched: a recycled PID has another start time."""
    playbook = state.get("playbook")
    if not isinstance(playbook, dict) or not run_state.same_process(playbook.get("pid"), playbook.get("start")):
        return []
    pid = int(playbook["pid"])
    return terminate([pid, *descendants(pid)])


@dataclass
class DestroyReport:
    namespaces: list[str] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)


def destroy_namespaces(names: Iterable[str]) -> DestroyReport:
    """End every process inside ``names`` (they are ours: they run in our namespaces), then delete them.

    Missing namespaces are fine: removal is idempotent.
    """
    existing = [n for n in dict.fromkeys(names) if (NETNS_DIR / n).exists()]
    report = DestroyReport()
    if not existing:
        return report
    report.pids = terminate(pids_in_namespaces(existing))
    batch = "".join(f"netns del {name}\n" for name in existing)
    proc = run(["ip", "-force", "-batch", "-"], input=batch, timeout=STEP_TIMEOUT, check=False)
    left = [n for n in existing if (NETNS_DIR / n).exists()]
    if left:
        raise PlatformError(f"could not delete namespaces {', '.join(left)}: {proc.stderr.strip()}")
    report.namespaces = existing
    return report


def destroy_prefix(prefix: str, state_file: Path | None) -> DestroyReport:
    """Remove everything of one run: its recorded namespaces and any namespace carrying its prefix."""
    recorded: list[str] = []
    ended: list[int] = []
    if state_file is not None:
        data = run_state.read_state(state_file)
        recorded = list(data.get("namespaces", []))
        ended = end_playbook(data)
    names = recorded + [n for n in list_namespaces() if n.startswith(prefix + "-")]
    report = destroy_namespaces(names)
    report.pids = ended + report.pids
    if state_file is not None:
        run_state.remove_state(state_file)
    return report


# --------------------------------------------------------------------------------------------- leftovers


@dataclass
class Leftover:
    prefix: str
    namespaces: list[str]
    state_file: Path | None
    owner_alive: bool
    run_dir: str | None = None


def find_leftovers(state_dir: Path = run_state.STATE_DIR) -> list[Leftover]:
    """Every run prefix that still has a state file or namespaces, with whether its owner still runs."""
    by_prefix: dict[str, Leftover] = {}
    for path in sorted(state_dir.glob("cnib*.json")):
        data = run_state.read_state(path)
        prefix = str(data.get("prefix") or path.stem)
        by_prefix[prefix] = Leftover(
            prefix=prefix,
            namespaces=[n for n in data.get("namespaces", []) if (NETNS_DIR / n).exists()],
            state_file=path,
            owner_alive=run_state.state_owner_alive(data),
            run_dir=data.get("run_dir"),
        )
    for name in list_namespaces():
        if not is_cnibench_namespace(name):
            continue
        prefix = name.split("-", 1)[0]
        entry = by_prefix.setdefault(prefix, Leftover(prefix, [], None, False))
        if name not in entry.namespaces:
            entry.namespaces.append(name)
    return list(by_prefix.values())
