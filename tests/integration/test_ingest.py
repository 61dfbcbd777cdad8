"""``cnibench ingest`` end to end through the command line (a subprocess): InfraBuilder's 2024 campaign subset (read
from the local snapshot, as tests/unit/ingest/test_campaign.py says why), then ``summary``, ``compare`` and ``export``
on the stored run; and each kind of manifest error refused with exit code 2 and nothing stored."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
DATA = Path(__file__).parents[1] / "data"
SRC = Path(__file__).parents[2] / "src"
#: InfraBuilder/benchmark-k8s-cni-2024-01 at the pinned commit (no licence: read from the local snapshot, never
#: committed) and its published per-run DTS_BW, bit/s (``results/<cni>/<run>/dts.results``)
SNAPSHOT = Path("/work/.mirror/InfraBuilder+benchmark-k8s-cni-2024-01/repo")
COMMIT = "3a5c159000f26ac9a1686ddd5d6f6169fb5b6218"
PUBLISHED = {
    "cilium": (22349827892.57093, 22293187999.043053, 21165993138.877987),
    "calico": (19277830771.569412, 19607755277.469833, 20326539876.34848),
    "flannel": (19587401486.345478, 20601319199.044209, 19796781710.408119),
    "kubeovn": (11076424708.03993, 11025914759.109524, 11246877389.863577),
}


def campaign_file(path: str, into: Path) -> None:
    target = into / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(
        subprocess.run(
            ["git", "-C", str(SNAPSHOT), "show", f"{COMMIT}:results/{path}"],
            check=True,
            capture_output=True,
            timeout=60,
        ).stdout
    )


def cnibench(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC), "CNIBENCH_DB": str(cwd / "results" / "cnibench.db")}
    return subprocess.run(
        [sys.executable, "-m", "cnibench", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.skipif(not SNAPSHOT.exists(), reason=f"the campaign's snapshot is not on this machine ({SNAPSHOT})")
def test_ingest_then_summary_compare_export(tmp_path: Path) -> None:
    lines = ["file,tool,cni,trial,round"]
    for cni in ("cilium", "calico", "flannel", "kubeovn"):
        for run in (1, 2, 3):
            campaign_file(f"{cni}/{run}/dts-client.stdout", tmp_path)
            lines.append(f"{cni}/{run}/dts-client.stdout,iperf3,{cni},DTS,{run}")
    (tmp_path / "manifest.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = cnibench("ingest", "manifest.csv", "-o", "results", "--name", "ib-dts", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "ingested 12 file(s)" in done.stdout and "stored in" in done.stdout
    run_dir = (tmp_path / "results" / "latest").resolve()
    assert (run_dir / "report.html").is_file() and (run_dir / "report.md").is_file()
    assert len(list((run_dir / "raw").rglob("*.iperf3.json"))) == 12

    summary = cnibench("summary", "--json", run_dir.name, cwd=tmp_path)
    assert summary.returncode == 0, summary.stderr
    verdicts = {v["cni"]: v for v in json.loads(summary.stdout)["verdicts"] if v["metric"] == "throughput_bps"}
    assert verdicts["kubeovn"]["outcome"] == "different" and verdicts["kubeovn"]["ratio"] < 0.55
    assert verdicts["kubeovn"]["clusters"] == {"cilium": 3, "kubeovn": 3}

    export = cnibench("export", run_dir.name, "--json", cwd=tmp_path)
    assert export.returncode == 0, export.stderr
    samples = json.loads(export.stdout)["samples"]
    for sample in samples:
        figure = PUBLISHED[sample["cni"]][sample["round"] - 1]
        assert abs(sample["throughput_bps"] - figure) / figure < 0.005

    same = cnibench("compare", run_dir.name, run_dir.name, cwd=tmp_path)
    assert same.returncode == 0, same.stdout + same.stderr


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("a.json,iperf4,c,DTS,1", "line 2, column tool: unknown tool 'iperf4'"),
        ("missing.json,iperf3,c,DTS,1", "line 2, column file: missing.json: no such file"),
        ("a.json,iperf3,c,DTS,1.5", "line 2, column round: '1.5' is not an integer"),
        ("a.json,iperf3,c,DTS,1\na.json,iperf3,d,DTS,1", "line 3, column file: the same file as line 2"),
        ("k.json,iperf3,c,DTS,1", "line 2, column file: k.json is not iperf3 -J output"),
    ],
)
def test_manifest_errors_exit_2_nothing_stored(tmp_path: Path, row: str, expected: str) -> None:
    (tmp_path / "a.json").write_bytes((DATA / "iperf3" / "tcp-hostgw-east-west-pod-cross-node.json").read_bytes())
    (tmp_path / "k.json").write_bytes((DATA / "k6" / "l7-hostgw-3-backends.json").read_bytes())
    (tmp_path / "manifest.csv").write_text(f"file,tool,cni,trial,round\n{row}\n", encoding="utf-8")
    done = cnibench("ingest", "manifest.csv", "-o", "results", cwd=tmp_path)
    assert done.returncode == 2
    assert expected in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "results").exists()
