"""The aks platform's run-time parts behind the collection's modules: the kubeconfig out of Terraform's state into a
private file, and ``terraform destroy`` after a crash. Credentials never pass through return values or logs."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnibench.errors import PlatformError
from cnibench.proc import CommandError, run

KUBECONFIG_OUTPUT = "kube_config"
#: The subscription a run bills, pinned in its private state directory (Terraform reads ARM_SUBSCRIPTION_ID).
SUBSCRIPTION_FILE = "azure-subscription"


@dataclass(frozen=True)
class Subscription:
    """An Azure subscription: its id (never printed), its name (None when it cannot be looked up) and where cnibench
    took it from."""

    id: str
    name: str | None
    source: str


def resolve_subscription(spec_id: str | None = None, *, environ: Mapping[str, str] | None = None) -> Subscription:
    """The subscription a run bills: the spec's ``aks.subscription_id``, else ``ARM_SUBSCRIPTION_ID``, else the Azure
    CLI's selected one (``az account show``). azurerm 4.x requires one (terraform-provider-azurerm PR #26621);
    its own fallback to the CLI's (PR #30251, azurerm 4.60) happens at each plan, so a later ``az account set``
    would send ``terraform destroy`` to another subscription: cnibench resolves it once and passes it to apply and
    destroy. Raises PlatformError when there is none."""
    env = os.environ if environ is None else environ
    az = shutil.which("az")
    if spec_id:
        chosen, source = spec_id, "aks.subscription_id in the spec"
    elif env.get("ARM_SUBSCRIPTION_ID"):
        chosen, source = env["ARM_SUBSCRIPTION_ID"], "ARM_SUBSCRIPTION_ID"
    elif env.get("ARM_CLIENT_ID"):  # a service principal: azurerm does not fall back to the CLI's subscription
        raise PlatformError(
            "ARM_CLIENT_ID is set but ARM_SUBSCRIPTION_ID is not (Terraform cannot tell the subscription)"
        )
    elif az is None:
        raise PlatformError("no subscription: az not found, ARM_SUBSCRIPTION_ID and aks.subscription_id not set")
    else:
        account = _az_account(az, None)
        if account is None or not account.get("id"):
            raise PlatformError("no subscription selected in the Azure CLI (az account show failed)")
        return Subscription(str(account["id"]), account.get("name"), "the Azure CLI's selected subscription")
    account = _az_account(az, chosen) if az else None
    return Subscription(chosen, account.get("name") if account else None, source)


def _az_account(az: str, subscription: str | None) -> dict[str, Any] | None:
    argv = [az, "account", "show", "--output", "json", *(["--subscription", subscription] if subscription else [])]
    try:
        data = json.loads(run(argv, timeout=60).stdout)
    except (CommandError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def pin_subscription(state_dir: Path, spec_id: str | None = None) -> Subscription:
    """The run's subscription, resolved once and kept in ``state_dir`` (mode 0600) for its apply, destroy and a
    later ``cnibench clean``; a run's second cluster reads it back. Returns it (only its name is ever shown)."""
    path = state_dir / SUBSCRIPTION_FILE
    if path.exists():
        return Subscription(path.read_text(encoding="utf-8").strip(), None, "pinned for this run")
    subscription = resolve_subscription(spec_id)
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(subscription.id + "\n")
    return subscription


def pinned_subscription(state_dir: Path) -> dict[str, str]:
    """``ARM_SUBSCRIPTION_ID`` for Terraform from the run's pinned subscription (nothing if none was pinned)."""
    path = state_dir / SUBSCRIPTION_FILE
    try:
        return {"ARM_SUBSCRIPTION_ID": path.read_text(encoding="utf-8").strip()}
    except OSError:
        return {}


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
            env={
                "TF_PLUGIN_CACHE_DIR": str(work_dir.parent.parent / "terraform-plugins"),
                **pinned_subscription(work_dir.parent),
            },
            new_session=True,
        )
    except CommandError as exc:
        what = f"resource group {resource_group}" if resource_group else "the resource group the run created"
        raise PlatformError(
            f"terraform destroy in {work_dir} failed ({exc.detail or exc.returncode}): delete {what} yourself "
            f"(az group delete --name {resource_group or '<name>'} --yes); Terraform's state is kept there"
        ) from None
    return f"terraform destroy in {work_dir}"


def destroy_run(state: Path, *, keep_cni: str | None = None) -> list[str]:
    """``terraform destroy`` in every working directory of the run whose state still holds resources (but the kept
    CNI's). A state that cannot be read is not taken for "nothing there": the directory stays, with an error."""
    removed: list[str] = []
    for work in sorted(state.glob("terraform-*")):
        if keep_cni is not None and work.name == f"terraform-{keep_cni}":
            continue
        path = work / "terraform.tfstate"
        if not path.exists():
            if (work / "errored.tfstate").exists():
                raise PlatformError(
                    f"{work}: Terraform could not save its state (errored.tfstate): check the resource group by hand"
                )
            continue  # never applied
        try:
            tfstate = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PlatformError(
                f"{path}: unreadable Terraform state ({exc}): check the resource group by hand"
            ) from None
        if not tfstate.get("resources"):
            continue  # already destroyed
        try:
            infix = json.loads((work / "terraform.tfvars.json").read_text(encoding="utf-8"))["common_infix"]
        except (OSError, ValueError, KeyError):
            infix = None
        removed.append(destroy(work, f"rg{infix}" if infix else None))
    return removed
