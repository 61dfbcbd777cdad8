"""``cnibench ingest`` on real captured outputs (tests/data/iperf3, tests/data/k6: see their READMEs): manifest
errors, iperf3 variants, k6, free-text trials, and the run as every other command reads it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cnibench.ingest import ingest
from cnibench.ingest.manifest import ManifestError, read_manifest
from cnibench.results.model import read_results
from cnibench.results.store import Store
from cnibench.scenarios import scenario_of
from cnibench.scenarios.ingested import IngestedSample

DATA = Path(__file__).parents[2] / "data"


def setup(tmp: Path, rows: list[str], files: dict[str, str], header: str = "file,tool,cni,trial,round") -> Path:
    """Copy ``files`` (name -> path under tests/data) into ``tmp`` and write a manifest of ``rows``."""
    for name, source in files.items():
        shutil.copyfile(DATA / source, tmp / name)
    manifest = tmp / "manifest.csv"
    manifest.write_text(header + "\n" + "".join(r + "\n" for r in rows), encoding="utf-8")
    return manifest


TCP = {"a.json": "iperf3/tcp-hostgw-east-west-pod-cross-node.json", "b.json": "iperf3/tcp-vxlan-egress.json"}
K6 = {"k.json": "k6/l7-hostgw-3-backends.json"}
TEXT = {"r.csv": "ansible/stdout-missing-vars-file.txt"}


@pytest.mark.parametrize(
    ("rows", "files", "expected"),
    [
        (["a.json,iperf4,hostgw,DTS,1"], TCP, "line 2, column tool: unknown tool 'iperf4'; valid: iperf3, k6"),
        (["a.json,iperf3,hostgw,DTS,1", "gone.json,iperf3,vxlan,DTS,1"], TCP, "line 3, column file: gone.json: no"),
        (["a.json,iperf3,hostgw,DTS,one"], TCP, "line 2, column round: 'one' is not an integer"),
        (["a.json,iperf3,hostgw,DTS,0"], TCP, "line 2, column round: 0 is not a positive integer"),
        (["a.json,iperf3,hostgw,DTS,1", "a.json,iperf3,vxlan,DTS,1"], TCP, "line 3, column file: the same file as line 2"),  # noqa: E501
        (["a.json,iperf3,hostgw,DTS,1", "b.json,iperf3,hostgw,DTS,1"], TCP, None),  # two repetitions, not duplicates
        (["a.json,iperf3,,DTS,1"], TCP, "line 2, column cni: empty (required)"),
        (["a.json,k6,hostgw,ingress,1"], TCP, "line 2, column file: a.json is not a k6 --summary-export file"),
        (["k.json,iperf3,hostgw,DTS,1"], K6, "line 2, column file: k.json is not iperf3 -J output"),
        (["r.csv,iperf3,hostgw,DTS,1"], TEXT, "line 2, column file: r.csv is not iperf3 -J output"),
        (["a.json,iperf3,hostgw,DUS,1"], TCP, "line 2, column trial: DUS is UDP (DUS) but a.json is a TCP test"),
        (["a.json,iperf3,hostgw,DTM,1"], TCP, "column trial: DTM is multi-stream (DTM) but a.json ran 1 stream"),
        (["a.json,iperf3,hostgw,DTS,1,x"], TCP, "line 2: 6 fields but the header has 5 columns"),
    ],
)  # fmt: skip
def test_manifest_errors_name_the_row_and_column_and_store_nothing(
    tmp_path: Path, rows: list[str], files: dict[str, str], expected: str | None
) -> None:
    manifest = setup(tmp_path, rows, files)
    results = tmp_path / "results"
    if expected is None:
        assert len(ingest(manifest, results).results.samples) == len(rows)
        return
    with pytest.raises(ManifestError) as caught:
        ingest(manifest, results)
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)
    assert caught.value.exit_code == 2
    assert not results.exists()  # no run directory, no store


def test_duplicate_row(tmp_path: Path) -> None:
    manifest = setup(
        tmp_path,
        ["a.json,iperf3,hostgw,DTS,1,1", "b.json,iperf3,hostgw,DTS,1,1"],
        TCP,
        "file,tool,cni,trial,round,repetition",
    )
    with pytest.raises(ManifestError, match=r"line 3, columns cni/trial/round/repetition: duplicate of line 2"):
        read_manifest(manifest)
    # the same trial spelt two ways (a code's case) is still the same cluster's same repetition
    manifest = setup(
        tmp_path,
        ["a.json,iperf3,hostgw,DTS,1,1", "b.json,iperf3,hostgw,dts,1,1"],
        TCP,
        "file,tool,cni,trial,round,repetition",
    )
    with pytest.raises(ManifestError, match=r"line 3, column trial: dts is the same trial as line 2"):
        ingest(manifest, tmp_path / "results")
    assert not (tmp_path / "results").exists()


def test_header_errors(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"line 1: missing column\(s\) round"):
        read_manifest(setup(tmp_path, ["a.json,iperf3,x,DTS"], TCP, "file,tool,cni,trial"))
    with pytest.raises(ManifestError, match=r"line 1, column 'rund': unknown column"):
        read_manifest(setup(tmp_path, ["a.json,iperf3,x,DTS,1"], TCP, "file,tool,cni,trial,rund"))


def test_udp_client_only_and_the_server_file(tmp_path: Path) -> None:
    """A real UDP client's -J output without the server's (iperf3 3.12 on loopback, see tests/data/iperf3/README):
    throughput from its end.sum_received, loss and jitter unknown; with the server's own JSON as server_file, the
    receiver's loss and jitter, and expected_source verified against who the server saw."""
    files = {"c.json": "iperf3/udp-client-only-loopback.json", "s.json": "iperf3/udp-server-own-json-loopback.json"}
    manifest = setup(
        tmp_path,
        ["c.json,iperf3,lo,DUS,1,,", "c.json,iperf3,lo2,DUS,1,s.json,127.0.0.1"],
        files,
        "file,tool,cni,trial,round,server_file,expected_source",
    )
    with pytest.raises(ManifestError, match="the same file as line 2"):
        ingest(manifest, tmp_path / "r")
    shutil.copyfile(tmp_path / "c.json", tmp_path / "c2.json")
    manifest.write_text(
        "file,tool,cni,trial,round,server_file,expected_source\nc.json,iperf3,lo,DUS,1,,\n"
        "c2.json,iperf3,lo2,DUS,1,s.json,127.0.0.1\nc2.json,iperf3,lo3,DUS,1,s.json,10.0.0.9\n",
        encoding="utf-8",
    )
    with pytest.raises(ManifestError, match="line 4, column file: the same file as line 3"):
        ingest(manifest, tmp_path / "r")
    shutil.copyfile(tmp_path / "c.json", tmp_path / "c3.json")
    manifest.write_text(manifest.read_text().replace("c2.json,iperf3,lo3", "c3.json,iperf3,lo3"), encoding="utf-8")
    samples = {s.cni: s for s in ingest(manifest, tmp_path / "r").results.samples}
    alone, served, wrong = samples["lo"], samples["lo2"], samples["lo3"]
    assert alone.status == "ok" and alone.lost_percent is None and alone.jitter_ms is None  # type: ignore[attr-defined]
    assert alone.throughput_bps == pytest.approx(200004971.72904074)  # type: ignore[attr-defined]
    assert served.status == "ok" and served.verified and served.lost_percent is not None  # type: ignore[attr-defined]
    assert served.jitter_ms is not None and served.intervals_bps  # type: ignore[attr-defined]
    assert wrong.status == "failed" and "the server saw 127.0.0.1, expected_source is 10.0.0.9" in str(wrong.error)


@pytest.mark.parametrize(
    ("source", "trial", "status", "needle"),
    [
        ("iperf3/tcp-reverse-loopback.json", "loopback -R", "ok", "reverse mode"),
        ("iperf3/udp-reverse-loopback.json", "loopback -R -u", "ok", "reverse mode"),
        ("iperf3/tcp-bidir-loopback.json", "bidir", "failed", "--bidir"),
        ("iperf3/udp-bidir-loopback.json", "bidir udp", "failed", "--bidir"),
        ("iperf3/error-refused.json", "refused", "failed", "iperf3:"),
        ("iperf3/tcp-no-server-output.json", "no server", "ok", "intervals are the sender's"),
        ("iperf3/tcp-text-server-output.json", "text server", "ok", "the server wrote text"),
        ("iperf3/tcp-p4-hostgw-egress.json", "-P 4", "ok", ""),
        ("iperf3/udp-vxlan-egress.json", "udp 500M", "ok", ""),
        ("cases/parsers/iperf3-rtt-zero-not-measured.json", "rtt zero", "ok", "TCP RTT not measured"),
    ],
)
def test_iperf3_variants_as_free_text_trials(tmp_path: Path, source: str, trial: str, status: str, needle: str) -> None:
    """Real outputs of -R, --bidir (refused per sample with the reason), errors, client-only TCP, text server output,
    -P, UDP and -O, under free-text trials: ``iperf3:<trial>`` samples of the ingested scenario."""
    if not (DATA / source).exists():
        pytest.skip(f"{source} is not in tests/data")
    manifest = setup(tmp_path, [f'x.json,iperf3,c,"{trial}",1'], {"x.json": source})
    sample = ingest(manifest, tmp_path / "r").results.samples[0]
    assert isinstance(sample, IngestedSample) and sample.scenario == f"iperf3:{trial}"
    assert scenario_of(sample.scenario).name == "ingested"
    assert sample.status == status, sample.error
    assert needle in " ".join([*sample.notes, str(sample.error)])
    if status == "ok":
        assert sample.throughput_bps is not None and sample.throughput_bps > 0


def test_k6_summaries_and_a_run_every_command_reads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Real k6 1.1.0 --summary-export files (tests/data/k6) as free-text trials; backends counted where named; a
    summary whose requests all failed is a failed repetition. The run is stored and summary/export/compare read it."""
    from cnibench import commands

    files = {
        "l7.json": "k6/l7-hostgw-3-backends.json",
        "l4.json": "k6/l4-hostgw-reuse.json",
        "bad.json": "k6/refused-thresholds-crossed.json",
    }
    manifest = setup(
        tmp_path,
        ["l7.json,k6,l7,keepalive,1,echo-1;echo-2;echo-3", "l4.json,k6,l4,keepalive,1,", "bad.json,k6,l4,keepalive,2,"],
        files,
        "file,tool,cni,trial,round,backends",
    )
    done = ingest(manifest, tmp_path / "results", reference="l4")
    by_cni = {(s.cni, s.round): s for s in done.results.samples}
    l7 = by_cni[("l7", 1)]
    assert isinstance(l7, IngestedSample) and l7.scenario == "k6:keepalive" and l7.status == "ok"
    assert l7.requests_per_s and sum(l7.backend_hits.values()) > 0
    assert by_cni[("l4", 2)].status == "failed" and "failed" in str(by_cni[("l4", 2)].error)
    assert done.results.spec["reference"] == "l4"
    assert read_results(done.run_dir).samples == done.results.samples
    db = tmp_path / "results" / "cnibench.db"
    Store(db).add(done.results, done.run_dir)
    assert commands.summary(str(done.run_dir), db=db) == 0
    assert "k6:keepalive" in capsys.readouterr().out
    assert commands.export(str(done.run_dir), fmt="csv", db=db) == 0
    assert "k6:keepalive" in capsys.readouterr().out


def test_reference_must_be_a_cni(tmp_path: Path) -> None:
    manifest = setup(tmp_path, ["a.json,iperf3,hostgw,DTS,1"], TCP)
    with pytest.raises(ManifestError, match=r"--reference 'cilium': no row has this cni; the manifest's: hostgw"):
        ingest(manifest, tmp_path / "r", reference="cilium")


def test_the_ingested_scenario_owns_free_text_trials_only_and_is_not_runnable() -> None:
    """Its trials are ``iperf3:<text>`` / ``k6:<text>``; its sample refuses every other scenario's trials; no spec
    has its section and ``--only`` does not offer it."""
    import pydantic

    from cnibench.cli import SCENARIO_NAMES
    from cnibench.scenarios import SCENARIOS
    from cnibench.spec import Spec

    ingested = SCENARIOS.get("ingested")
    assert not ingested.runnable and "ingested" not in SCENARIO_NAMES
    assert "ingested" not in Spec.model_fields["scenarios"].annotation.model_fields  # type: ignore[union-attr]
    assert scenario_of("iperf3:pod to external").name == "ingested"
    assert scenario_of("k6:l7 keepalive").name == "ingested"
    assert ingested.metrics_of("k6:x")[0].name == "requests_per_s"
    assert ingested.metrics_of("iperf3:x")[0].name == "throughput_bps"
    for other in (t for s in SCENARIOS.values() if s is not ingested for t in s.trials):
        assert not ingested.owns(other)
        with pytest.raises(pydantic.ValidationError):
            IngestedSample(cni="c", scenario=other, repetition=1, status="ok", tool="iperf3", source_scenario="x")
