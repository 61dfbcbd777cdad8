"""The playbook through ansible-runner: its inventory and variables, its output kept in the run directory (never
the terminal), its artifacts without the environment (which may hold cloud credentials), Ansible's own error."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from cnibench.orchestration.events import EventHandler
from cnibench.orchestration.signals import StopController


def ansible_dir() -> Path:
    """The project's Ansible tree (ansible.cfg, collection, playbooks), shipped inside the package."""
    return Path(str(resources.files("cnibench").joinpath("ansible")))


def _inventory() -> dict[str, Any]:
    return {
        "all": {
            "hosts": {
                "localhost": {
                    "ansible_connection": "local",
                    # interpreter discovery can pick a broken python here: use the one cnibench runs in
                    "ansible_python_interpreter": sys.executable,
                }
            }
        }
    }


def ansible_error(run_dir: Path) -> str | None:
    """Ansible's own complaint when no task failed (a broken inventory or vars file): its last [ERROR] line."""
    stdout = run_dir / "ansible" / "artifacts" / "playbook" / "stdout"
    try:
        lines = stdout.read_text(errors="replace").splitlines()
    except OSError:
        return None
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index].strip()
        if line.startswith(("[ERROR]:", "ERROR!")):
            message = line.split(":", 1)[1].strip() if line.startswith("[ERROR]") else line[6:].strip()
            following = [rest.strip() for rest in lines[index + 1 : index + 3] if rest.strip()]
            return "ansible-playbook: " + " ".join([message, *following])[:400]
    return None


def run_playbook(
    playbook: str,
    extravars: dict[str, Any],
    *,
    run_dir: Path,
    handler: EventHandler,
    stop: StopController,
    prefix: str = "cnib0000",
) -> tuple[str, int | None]:
    """Run ``playbook`` (a file of the project's ``playbooks/``) with ansible-runner and ``extravars`` (written to
    ``run_dir/vars.json``); its output goes to ``run_dir/ansible``, never to the terminal. Returns ansible-runner's
    status and the playbook's exit code."""
    vars_path = run_dir / "vars.json"
    vars_path.write_text(json.dumps(extravars, indent=2) + "\n", encoding="utf-8")
    private = run_dir / "ansible"
    private.mkdir(exist_ok=True)
    # ansible-runner records the whole environment of the playbook (cloud credentials such as ARM_CLIENT_SECRET
    # among it) in its artifacts: they go to a private directory and only the output and events are kept
    scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{prefix}-"))
    try:
        runner = _run_ansible(playbook, private=private, artifacts=scratch, run_dir=run_dir, handler=handler, stop=stop)
    finally:
        keep_artifacts(scratch / "playbook", private / "artifacts" / "playbook")
        shutil.rmtree(scratch, ignore_errors=True)
    return str(runner.status), runner.rc


#: ansible-runner's private artifact directories, named after the run (``clean`` removes those of killed runs).
SCRATCH_PREFIX = "cnibench-ansible-"


def remove_scratch(prefix: str) -> None:
    for path in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}{prefix}-*"):
        shutil.rmtree(path, ignore_errors=True)


#: What ansible-runner writes that is kept in the run directory (not ``command``: it holds the environment).
KEPT_ARTIFACTS = ("stdout", "stderr", "status", "rc", "job_events")


def keep_artifacts(source: Path, dest: Path) -> None:
    """Copy the artifacts worth keeping; the command line goes with only the environment's harmless names.

    Copied without their modes: ansible-runner creates its artifacts 0600, and a run directory's files are
    readable as the umask says, like every other file of the run."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in KEPT_ARTIFACTS:
        path = source / name
        if path.is_dir():
            (dest / name).mkdir(exist_ok=True)
            for item in path.iterdir():
                if item.is_file():
                    shutil.copyfile(item, dest / name / item.name)
        elif path.is_file():
            shutil.copyfile(path, dest / name)
    command = source / "command"
    try:
        data = json.loads(command.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    data["env"] = sorted(data.get("env") or {})  # the names only, never a value
    (dest / "command").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _run_ansible(
    playbook: str, *, private: Path, artifacts: Path, run_dir: Path, handler: EventHandler, stop: StopController
) -> Any:
    import ansible_runner

    vars_path = run_dir / "vars.json"
    project = ansible_dir()
    bindir = str(Path(sys.executable).parent)
    return ansible_runner.run(
        private_data_dir=str(private),
        project_dir=str(project),
        playbook=f"playbooks/{playbook}",
        inventory=_inventory(),
        cmdline="-e " + shlex.quote(f"@{vars_path}"),
        envvars={
            "PATH": bindir + os.pathsep + os.environ.get("PATH", os.defpath),
            "ANSIBLE_CONFIG": str(project / "ansible.cfg"),
            "ANSIBLE_COLLECTIONS_PATH": str(project / "collections"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_LOG_PATH": str(run_dir / "ansible.log"),
        },
        settings={"pexpect_timeout": 0.2, "suppress_ansible_output": True},
        suppress_env_files=True,
        artifact_dir=str(artifacts),
        ident="playbook",
        quiet=True,
        event_handler=handler,
        cancel_callback=stop.cancel,
    )
