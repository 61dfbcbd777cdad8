from __future__ import annotations

import os
import stat

import pytest

from cnibench.files import atomic_write_text
from cnibench.orchestration.ansible import keep_artifacts


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600), (0o002, 0o664)])
def test_an_atomic_write_gets_the_mode_the_umask_gives(tmp_path, umask, mode):
    """results.json used to be 0600 whatever the umask (mkstemp's mode), unreadable to anyone but its owner."""
    path = tmp_path / "results.json"
    old = os.umask(umask)
    try:
        atomic_write_text(path, "first\n")
        atomic_write_text(path, "second\n")
    finally:
        os.umask(old)
    assert _mode(path) == mode
    assert path.read_text() == "second\n"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]  # no temporary file left


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "results.json"
    atomic_write_text(path, "old\n")
    with pytest.raises(UnicodeEncodeError):
        atomic_write_text(path, "\udcff")  # a lone surrogate cannot be written as UTF-8
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_kept_ansible_artifacts_lose_ansible_runners_0600(tmp_path):
    source, dest = tmp_path / "scratch", tmp_path / "run" / "artifacts"
    (source / "job_events").mkdir(parents=True)
    for path in (source / "stdout", source / "rc", source / "job_events" / "1-a.json"):
        path.write_text("x")
        path.chmod(0o600)
    old = os.umask(0o022)
    try:
        keep_artifacts(source, dest)
    finally:
        os.umask(old)
    kept = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*"))
    assert kept == ["job_events", "job_events/1-a.json", "rc", "stdout"]
    assert {_mode(p) for p in dest.rglob("*") if p.is_file()} == {0o644}
