"""``cnibench doctor``: the prerequisites of a platform (of a spec's run), and how to get what is missing."""

from __future__ import annotations

import sys
from pathlib import Path

from cnibench.errors import UsageError
from cnibench.platforms import PLATFORMS
from cnibench.spec import load_spec


def doctor(platform: str | None = None, spec_path: Path | None = None) -> int:
    """The prerequisites of ``platform`` (default netns), or of the run ``spec_path`` describes (its platform).
    Exit code 0 when everything is there, 2 otherwise; :class:`UsageError` (exit 2) when ``platform`` and the
    spec's platform disagree."""
    spec = None
    if spec_path is not None:
        spec, _ = load_spec(spec_path)
        if platform is not None and platform != spec.platform:
            raise UsageError(
                f"--platform {platform}, but {spec_path} is a spec for platform {spec.platform}: leave --platform "
                "out to check what that spec's run needs"
            )
        platform = spec.platform
    platform = platform or "netns"
    checks = PLATFORMS.get(platform).prerequisites(spec)
    width = max(len(c.name) for c in checks)
    for check in checks:
        mark = "ok     " if check.ok else "MISSING"
        line = f"{mark} {check.name.ljust(width)}  {check.detail}"
        if not check.ok and check.hint:
            line += f"  -> {check.hint}"
        print(line)
    missing = [c for c in checks if not c.ok]
    if missing:
        print(f"{len(missing)} prerequisite(s) missing for the {platform} platform", file=sys.stderr)
        return 2
    print(f"all prerequisites of the {platform} platform are here")
    return 0
