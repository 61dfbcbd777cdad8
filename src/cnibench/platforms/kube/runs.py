"""A Kubernetes run's state on this machine: where it lives (never in the run directory: kind's kubeconfigs and
Terraform's state hold credentials), the run's prefix reserved there, its ansible-playbook noted, the runs a dead
cnibench left (``cnibench clean``), and forgetting a run once what it created is gone. What a run created in a
cluster or in Azure is each platform's to remove (``KubePlatform.remove_run``)."""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnibench import runstate as run_state

#: Overrides where the Kubernetes platforms keep run state and kind's kubeconfigs.
KUBE_STATE_ENV = "CNIBENCH_STATE_DIR"


def kube_state_dir() -> Path:
    """Where Kubernetes runs keep their state: on disk, not tmpfs (a kept kind cluster or an AKS cluster's Terraform
    state must survive a reboot for `clean`): ``/var/lib/cnibench/kube`` for root, else
    ``$XDG_STATE_HOME/cnibench`` or ``~/.local/state/cnibench``."""
    if override := os.environ.get(KUBE_STATE_ENV):
        return Path(override)
    if os.geteuid() == 0:
        return Path("/var/lib/cnibench/kube")
    state = os.environ.get("XDG_STATE_HOME")
    return Path(state) / "cnibench" if state else Path.home() / ".local" / "state" / "cnibench"


def reserve(platform: str, run_dir: Path, owner_pid: int) -> str:
    """Pick a prefix no run in :func:`kube_state_dir` has (``cnib`` + 4 hex digits), record the run's owner, its
    directory and ``platform`` there, and create its private directory (mode 0700); return the prefix."""
    directory = kube_state_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    while True:
        prefix = f"cnib{secrets.token_hex(2)}"
        path = run_state.state_file(prefix, directory)
        if not path.exists():
            break
    run_state.init_state(path, prefix=prefix, owner_pid=owner_pid, run_dir=str(run_dir))
    run_state.set_fields(path, platform=platform)
    (directory / prefix).mkdir(mode=0o700, exist_ok=True)
    return prefix


def note_playbook(prefix: str, pid: int) -> None:
    """Record the run's ansible-playbook process (``clean`` stops it if its cnibench died)."""
    run_state.set_playbook(run_state.state_file(prefix, kube_state_dir()), pid)


def run_dir_of(prefix: str) -> str | None:
    """The run directory recorded for ``prefix`` (None: unknown)."""
    run_dir = run_state.read_state(run_state.state_file(prefix, kube_state_dir())).get("run_dir")
    return str(run_dir) if run_dir else None


def forget(prefix: str, *, kept: bool) -> None:
    """After what the run created is removed: its private directory (kubeconfigs: credentials) and its state go;
    ``kept`` (``--keep``): both stay for ``cnibench clean``, only kind's preloaded image archives go."""
    directory = kube_state_dir()
    if kept:
        shutil.rmtree(directory / prefix / "images", ignore_errors=True)
        return
    shutil.rmtree(directory / prefix, ignore_errors=True)
    run_state.remove_state(run_state.state_file(prefix, directory))


@dataclass(frozen=True)
class KubeLeftover:
    """A run's state file in :func:`kube_state_dir`: its prefix, whether its cnibench still runs, its directory."""

    prefix: str
    state_file: Path
    owner_alive: bool
    run_dir: str | None
    data: dict[str, Any]


def find_leftovers(platform: str) -> list[KubeLeftover]:
    """The runs of ``platform`` with state left (state files from before the platform was recorded are kind's)."""
    out: list[KubeLeftover] = []
    try:
        paths = sorted(kube_state_dir().glob("cnib*.json"))
    except OSError:  # not ours to read (another user's home): no run of ours can be there
        return out
    for path in paths:
        data = run_state.read_state(path)
        if str(data.get("platform", "kind")) != platform:
            continue
        out.append(
            KubeLeftover(
                prefix=str(data.get("prefix") or path.stem),
                state_file=path,
                owner_alive=run_state.state_owner_alive(data),
                run_dir=data.get("run_dir"),
                data=data,
            )
        )
    return out


def stop_playbook(data: dict[str, Any]) -> None:
    """A dead run's ansible-playbook, if it still runs (the same process: PID and start time), is stopped first."""
    from cnibench.proc import terminate

    playbook = data.get("playbook") or {}
    if run_state.same_process(playbook.get("pid"), playbook.get("start")):
        terminate([int(playbook["pid"])])
