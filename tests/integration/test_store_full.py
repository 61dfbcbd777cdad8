"""A full disk under the results store: a real one (a small tmpfs in a private mount namespace)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

SCRIPT = r"""
set -eu
mount -t tmpfs -o size=512k tmpfs "$MNT"
"$PY" -m cnibench import "$FIRST" --db "$MNT/cnibench.db"
dd if=/dev/zero of="$MNT/fill" bs=4k 2>/dev/null || true  # until the disk is full
set +e
"$PY" -m cnibench import "$SECOND" --db "$MNT/cnibench.db"
echo "rc=$?"
"$PY" -m cnibench runs --db "$MNT/cnibench.db"
"$PY" -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("PRAGMA integrity_check").fetchone()[0])' \
  "$MNT/cnibench.db"
"""


def test_a_full_disk_is_named_and_the_store_stays_whole(tmp_path, data_dir):
    runs = []
    for name in ("netns-hostgw-vxlan", "netns-ingress-l7"):
        (tmp_path / name).mkdir()
        shutil.copy(data_dir / "results" / f"{name}.json", tmp_path / name / "results.json")
        runs.append(tmp_path / name)
    (tmp_path / "mnt").mkdir()
    env = {"MNT": str(tmp_path / "mnt"), "PY": sys.executable, "FIRST": str(runs[0]), "SECOND": str(runs[1])}
    proc = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", SCRIPT],
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.stderr == f"cnibench: error: {tmp_path}/mnt/cnibench.db: the disk is full (database or disk is full)\n"
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("added: 20261126-051618-local")
    assert lines[1] == "rc=2"
    assert [line.split()[0] for line in lines[2:-1]] == ["run", "20261126-051618-local"]  # the first run, whole
    assert lines[-1] == "ok"
