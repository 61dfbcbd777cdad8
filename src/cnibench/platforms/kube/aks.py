"""The aks platform's run-time parts behind the collection's modules: the kubeconfig out of Terraform's state into a
private file, and ``terraform destroy`` after a crash. Credentials never pass through return values or logs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cnibench.errors import PlatformError
from cnibench.proc import CommandError, run

KUBECONFIG_OUTPUT = "kube_config"


def write_kubeconfig(project_path: str | Path, dest: str | Path) -> None:
    """``terraform output -raw kube_config`` into ``dest`` (mode 0600, created so: never readable by others)."""
    try:
        proc = run(["terraform", f"-chdir={project_path}", "output", "-raw", KUBECONFIG_OUTPUT], timeout=120)
    except CommandError as exc:
        # the output itself is never in the message: only the command and Terraform's complaint
        raise PlatformError(f"terraform output {KUBECONFIG_OUTPUT} failed (exit code {exc.returncode})") from None
    if not proc.stdout.strip():
        raise PlatformError(f"terraform output {KUBECONFIG_OUTPUT} is empty")
    path = Path(dest)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(proc.stdout)
    path.chmod(0o600)


def destroy(work_dir: Path, resource_group: str | None = None) -> str:
    """``terraform destroy`` in a working directory left by a run; raises with exactly what to delete by hand.

    It runs in its own session: a second Ctrl-C at the terminal must not cut the destroy short."""
    print(
        f"cnibench: terraform destroy of {resource_group or work_dir} (Azure takes several minutes)",
        file=sys.stderr,
        flush=True,
    )
    try:
        run(
            ["terraform", f"-chdir={work_dir}", "destroy", "-auto-approve", "-input=false", "-no-color"],
            timeout=3600,
            env={"TF_PLUGIN_CACHE_DIR": str(work_dir.parent.parent / "terraform-plugins")},
            new_session=True,
        )
    except CommandError as exc:
        what = f"resource group {resource_group}" if resource_group else "the resource group the run created"
        raise PlatformError(
            f"terraform destroy in {work_dir} failed ({exc.detail or exc.returncode}): delete {what} yourself "
            f"(az group delete --name {resource_group or '<name>'} --yes); Terraform's state is kept there"
        ) from None
    return f"terraform destroy in {work_dir}"
