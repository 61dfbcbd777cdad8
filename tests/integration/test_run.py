"""`cnibench run` end to end: real namespaces, real iperf3, real Ansible; cleanup after success, failure, signals."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from cnibench import commands
from cnibench.platforms.netns import ops
from cnibench.platforms.netns import platform as netns_platform
from cnibench.platforms.netns.render import render_cluster
from cnibench.platforms.netns.scenarios import egress as netns_egress
from cnibench.results.model import read_results
from cnibench.results.store import Store
from cnibench.runstate import STATE_DIR
from cnibench.tools import iperf3

from .conftest import cnibench, prefix_of, processes_mentioning, run_dir_of, wait_for_samples, write_spec

pytestmark = pytest.mark.integration
IPERF3 = shutil.which("iperf3")  # iperf3 names itself by the path it was run as


def _assert_clean(run_dir):
    prefix = prefix_of(run_dir)
    assert not [n for n in ops.list_namespaces() if n.startswith(prefix)]
    assert not list(STATE_DIR.glob(f"{prefix}.*")), "state file left behind"
    # ansible-runner's record of the environment (credentials may be in it) does not outlive the run
    assert not list(Path(tempfile.gettempdir()).glob(f"cnibench-ansible-{prefix}-*")), "artifact scratch left behind"
    assert not processes_mentioning(str(run_dir)), "processes of the run still running"
    assert not processes_mentioning(f"{prefix}-"), "processes of the run still running"


def test_run_end_to_end(tmp_path):
    # everything the default has: two rounds, metrics on, egress paired with its baseline
    write_spec(tmp_path / "spec.yaml", duration=2, omit=1, metrics=True, rounds=2, repetitions=1)
    results_dir = tmp_path / "results"  # the default, relative to the working directory
    proc = cnibench("run", "spec.yaml", cwd=tmp_path)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err + out
    # no progress on a pipe, no Ansible output on the terminal: only what 2 clusters per CNI can show, said up front
    assert err.startswith("warning: 2 clusters per CNI cannot show a 10 % difference with 80 % power")
    assert err.count("\n") == 1
    run_dir = run_dir_of(results_dir)
    results = read_results(run_dir)
    assert results.status == "complete"
    # round 1 hostgw then vxlan, round 2 the other way round (ABBA), each on a fresh cluster
    assert [(s.round, s.cni, s.scenario, s.repetition) for s in results.samples] == [
        (round_, cni, scenario, round_)
        for round_, cnis in ((1, ("hostgw", "vxlan")), (2, ("vxlan", "hostgw")))
        for cni in cnis
        for scenario in ("egress-baseline", "egress")
    ]
    for sample in results.samples:
        assert sample.status == "ok", sample.error
        assert sample.throughput_bps > 1e8 and sample.rtt_mean_us > 0
        assert (run_dir / sample.artifact).is_file()
        assert set(sample.node_metrics) == {"control-plane", "worker", "worker2"}
        assert len(sample.intervals_bps) == 2  # 2 s measured, the 1 s warm-up left out
        assert sample.ended_at - sample.started_at >= 3.0
        if sample.scenario == "egress":
            assert sample.egress_ip_ok is True and sample.source_ip_seen == "203.0.113.254"
        else:
            assert sample.source_ip_ok is True and sample.source_ip_seen == "172.18.0.4"
    env = results.environment
    assert env["kernel"] and env["cpu_model"] and env["tools"]["iperf3"] and env["tools"]["ansible-core"]
    assert env["clusters"]["vxlan"]["pod_mtu"] == 1450 and env["clusters"]["hostgw"]["pod_mtu"] == 1500
    observed = env["clusters"]["vxlan"]["links"]
    pod_ns = next(ns for ns in observed if ns.endswith("-pod-iperf3-client"))
    assert set(observed[pod_ns].values()) == {1450}
    for name in (
        "spec.yaml",
        "environment.json",
        "vars.json",
        "ansible.log",
        "logs/hostgw/iperf3-server.log",
        "rendered/vxlan/cluster/bundle.json",
        "rendered/vxlan/egress-policy/bundle.json",
    ):
        assert (run_dir / name).is_file(), name
    assert "Benchmark each CNI on a fresh cluster" in (run_dir / "ansible.log").read_text()
    # one module call ran every cluster, its steps on the measurement stream: a fresh cluster per CNI per round
    stream = (run_dir / "ansible" / "measurements.jsonl").read_text().splitlines()
    steps = [(r["task"], r.get("res", {}).get("cni")) for r in map(json.loads, stream) if r["event"] == "task_result"]
    build, destroy = "Build the netns cluster and start its servers", "Destroy the netns cluster"
    order = ["hostgw", "vxlan", "vxlan", "hostgw"]
    assert steps == [step for cni in order for step in ((build, cni), (destroy, None))]
    assert "2/2 egress IP" in out and re.search(r"[≠≈?] egress / egress-baseline throughput: hostgw", out)
    # the closing note leads with the settings and the headline (2 vs 2 clusters: what they could detect)
    closing = out.splitlines()
    start = next(i for i, line in enumerate(closing) if line.startswith("cnibench run "))
    settings = "settings: egress: tcp, 1 stream(s), 2 s + 1 s warm-up, 1 repetition(s) per round; rounds: 2"
    assert closing[start + 1] == settings
    assert closing[start + 2].startswith("what the numbers mean: every node is a network namespace of this machine")
    verdicts = next(i for i, line in enumerate(closing) if line.startswith("verdicts: "))
    assert verdicts < next(i for i, line in enumerate(closing) if line.startswith("cni "))  # the answer first
    assert closing[verdicts].startswith("verdicts: each CNI against hostgw; 2 cluster(s) per CNI, the cluster is")
    assert any(re.match(r"  [≠≈?]  egress-baseline  throughput \(Gbit/s\)", line) for line in closing)
    assert f"\nresults: results/{run_dir.name}\n" in out
    # every run is stored and gets its report
    assert "stored in results/cnibench.db" in out
    assert out.rstrip().endswith(f"report: results/{run_dir.name}/report.html (and report.md)")
    assert [r.run_id for r in Store(results_dir / "cnibench.db").runs()] == [run_dir.name]
    page = (run_dir / "report.html").read_text()
    assert "Egress throughput per CNI" in page and "Gateway node during egress" in page
    _assert_readable_by_others(results_dir, run_dir)
    _assert_clean(run_dir)


def _assert_readable_by_others(results_dir, run_dir):
    """A run made as root: its files have the umask's mode (results.json was 0600), so another user can report,
    export and compare it, and read the store; writing into root's run directory fails with one line."""
    umask = os.umask(0)
    os.umask(umask)
    for name in ("results.json", "store.json", "spec.yaml", "report.html", "ansible/artifacts/playbook/stdout"):
        assert stat.S_IMODE((run_dir / name).stat().st_mode) == 0o666 & ~umask, name
    # pytest's temporary directories are root's alone (0700): the other user gets a copy, modes kept, in a
    # directory it can reach (SQLite opens the store by its absolute path)
    shared = Path(tempfile.mkdtemp(prefix="cnibench-shared-"))
    try:
        shared.chmod(0o777)
        shutil.copytree(results_dir, shared / "results", symlinks=True)
        nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]

        def as_nobody(*args):
            return subprocess.run(
                [*nobody, sys.executable, "-m", "cnibench", *args],
                cwd=shared,
                env={**os.environ, "HOME": str(shared)},  # a home of its own (matplotlib's cache)
                capture_output=True,
                text=True,
            )

        report = as_nobody("report", "results/latest", "-o", "nobody/report.html")
        assert report.returncode == 0, report.stderr
        assert (shared / "nobody" / "report.html").stat().st_uid != 0
        export = as_nobody("export", "results/latest", "--csv")
        assert export.returncode == 0 and export.stdout.count("\n") == 9, export.stderr  # header + 8 repetitions
        compare = as_nobody("compare", run_dir.name, "results/latest")  # a stored run id: read from root's store
        assert compare.returncode == 0, compare.stderr
        denied = as_nobody("report", "results/latest")  # into root's run directory
        assert denied.returncode == 2 and denied.stderr.count("\n") == 1, denied.stderr  # checked before writing
        assert "not writable for this user" in denied.stderr and "with -o" in denied.stderr
    finally:
        shutil.rmtree(shared)


def test_a_failing_step_is_one_line_and_cleans_up(tmp_path, monkeypatch, capsys):
    """A step that fails half-way through building the cluster (a route the kernel refuses)."""

    broken_step = {}

    def broken(topo, **kwargs):
        bundle = render_cluster(topo, **kwargs)
        last = broken_step["step"] = bundle.apply[-1]
        bad = type(last)(last.kind, last.netns, last.file, last.content + "route add 10.99.0.0/16 via 192.0.2.1\n")
        return type(bundle)(bundle.name, bundle.prefix, bundle.namespaces, (*bundle.apply[:-1], bad), bundle.remove)

    monkeypatch.setattr(netns_platform, "render_cluster", broken)
    spec = write_spec(tmp_path / "spec.yaml", cnis=["hostgw"])
    code = commands.run(spec, results_dir=tmp_path / "results", progress=False)
    out = capsys.readouterr().out
    assert code == 1
    run_dir = run_dir_of(tmp_path / "results")
    results = read_results(run_dir)
    assert results.status == "failed" and results.samples == []
    prefix = prefix_of(run_dir)
    step = broken_step["step"]
    lines = step.content.count("\n") + 1  # the added line is the last one of the file
    assert results.error.startswith(
        f"Build the netns cluster and start its servers: {step.file} in {step.netns}: ip failed: Error: "
    )
    assert step.netns.startswith(prefix)
    assert "Nexthop has invalid gateway" in results.error and f"{step.file}:{lines}" in results.error
    logical = re.sub(r"\n    (?=\S)", " ", out).splitlines()  # the summary wraps a long line, continuation indented
    assert f"error: {results.error}" in logical
    _assert_clean(run_dir)


def test_a_wrong_egress_ip_fails_the_repetitions_and_the_run_goes_on(tmp_path, monkeypatch, capsys):
    """A gateway that SNATs to another address than the policy's: the server-side check catches it."""

    real_policy = netns_egress.render_egress_policy

    def misconfigured(topo, *, pods, egress_ip, destinations):
        return real_policy(topo, pods=pods, egress_ip="203.0.113.200", destinations=destinations)

    monkeypatch.setattr(netns_egress, "render_egress_policy", misconfigured)
    spec = write_spec(tmp_path / "spec.yaml", cnis=["hostgw"])
    code = commands.run(spec, results_dir=tmp_path / "results", progress=False)
    out = capsys.readouterr().out
    assert code == 1
    results = read_results(run_dir_of(tmp_path / "results"))
    assert results.status == "complete"
    egress = [s for s in results.samples if s.scenario == "egress"]
    assert len(egress) == 2 and all(s.status == "failed" and s.egress_ip_ok is False for s in egress)
    assert "server saw 203.0.113.200, expected the egress IP 203.0.113.254" in egress[0].error
    assert all(s.status == "ok" for s in results.samples if s.scenario == "egress-baseline")
    assert "0/2 egress IP" in out
    _assert_clean(run_dir_of(tmp_path / "results"))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        # nothing listens there: iperf3 writes its error into the JSON and exits 0
        (lambda argv: [*argv, "--port", "5999"], "iperf3: unable to connect to server: Connection refused"),
        # iperf3 refuses the option: no JSON, exit code 1, the reason on stderr
        (lambda argv: [*argv, "--not-an-option"], f"exit code 1: {IPERF3}: unrecognized option '--not-an-option'"),
    ],
    ids=["refused", "exit-code"],
)
def test_a_failing_tool_is_a_failed_repetition_and_the_run_goes_on(tmp_path, monkeypatch, capsys, change, reason):
    """iperf3 really fails: every repetition is kept as failed with iperf3's reason, and both CNIs still run."""
    real = iperf3.client_argv
    monkeypatch.setattr(iperf3, "client_argv", lambda server, **kw: change(real(server, **kw)))
    spec = write_spec(tmp_path / "spec.yaml", repetitions=1)
    code = commands.run(spec, results_dir=tmp_path / "results", progress=False)
    out = capsys.readouterr().out
    assert code == 1
    run_dir = run_dir_of(tmp_path / "results")
    results = read_results(run_dir)
    assert results.status == "complete" and results.error is None
    assert [(s.cni, s.scenario) for s in results.samples] == [
        ("hostgw", "egress-baseline"),
        ("hostgw", "egress"),
        ("vxlan", "egress-baseline"),
        ("vxlan", "egress"),
    ]
    for sample in results.samples:
        assert sample.status == "failed"
        assert sample.error == reason
    assert "0/4 repetitions ok" in out
    _assert_clean(run_dir)


@pytest.mark.parametrize(
    ("sig", "times"), [(signal.SIGINT, 1), (signal.SIGTERM, 1), (signal.SIGINT, 2), (signal.SIGQUIT, 1)]
)
def test_a_signal_keeps_finished_results_and_cleans_up(tmp_path, sig, times):
    """One signal stops the playbook cleanly; a second one forces it (its workers are orphaned, and ended). The
    exit code is 128 + the signal's number, as a shell reports it."""
    spec = write_spec(tmp_path / "spec.yaml", repetitions=5, duration=2)
    results_dir = tmp_path / "results"
    proc = cnibench("run", str(spec), "--results-dir", str(results_dir))
    run_dir = wait_for_samples(results_dir, 1)
    for _ in range(times):
        proc.send_signal(sig)
        time.sleep(0.05)
    start = time.monotonic()
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - start < 15
    assert proc.returncode == 128 + sig, err
    results = read_results(run_dir)
    assert results.status == "interrupted" and results.error == f"interrupted by {sig.name}"
    assert 1 <= len(results.samples) < 20
    assert all(s.status == "ok" for s in results.samples)  # the interrupted repetition is not recorded
    assert "interrupted" in out
    _assert_clean(run_dir)


def _run_on_a_terminal_that_goes_away(spec: Path, results_dir: Path, *, nohup: bool) -> tuple[Path, int, str]:
    """`cnibench run` on a real terminal (a pty, as an SSH session or a tmux pane has) that goes away after the
    first repetition: the kernel hangs it up, sends SIGHUP, and writes to it fail with EIO from then on. Returns
    the run directory, the exit code and what the terminal showed."""
    pid, master = pty.fork()  # the child: a session of its own with the pty as its controlling terminal
    if pid == 0:
        os.chdir(spec.parent)
        argv = [sys.executable, "-m", "cnibench", "run", str(spec), "--results-dir", str(results_dir)]
        if nohup:  # the real one: SIGHUP ignored, output to ./nohup.out
            os.execv(shutil.which("nohup") or "/usr/bin/nohup", ["nohup", *argv])
        signal.signal(signal.SIGHUP, signal.SIG_DFL)  # a login shell's cnibench, even if the tests run under nohup
        os.execv(sys.executable, argv)
    seen = bytearray()

    def drain() -> None:  # a terminal shows what it is sent; a full pty would block the writer
        with contextlib.suppress(OSError):
            while chunk := os.read(master, 4096):
                seen.extend(chunk)

    threading.Thread(target=drain, daemon=True).start()
    try:
        run_dir = wait_for_samples(results_dir, 1)
        time.sleep(1.0)  # into the next repetition
        os.close(master)  # the terminal goes away
        master = -1
        deadline = time.monotonic() + 90
        while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert done[0] == pid, "cnibench still running 90 s after its terminal went away"
    finally:
        if master >= 0:
            os.close(master)
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == 0:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
    return run_dir, os.waitstatus_to_exitcode(done[1]), seen.decode(errors="replace")


def test_a_run_that_loses_its_terminal_cleans_up(tmp_path):
    """The run stops, cleans up, keeps what it measured and says why; exit code 129. Before, SIGHUP killed
    cnibench on the spot and everything it had created stayed."""
    spec = write_spec(tmp_path / "spec.yaml", repetitions=5, duration=2)
    results_dir = tmp_path / "results"
    start = time.monotonic()
    run_dir, code, shown = _run_on_a_terminal_that_goes_away(spec, results_dir, nohup=False)
    assert "cnibench ▸" in shown  # it had a progress line on its terminal
    assert code == 128 + signal.SIGHUP
    assert time.monotonic() - start < 60  # it stopped; it did not run its 20 repetitions
    results = read_results(run_dir)
    assert results.status == "interrupted" and results.error == "interrupted by SIGHUP"
    assert len(results.samples) >= 1 and all(s.status == "ok" for s in results.samples)
    assert Store(results_dir / "cnibench.db").runs()[0].status == "interrupted"  # it went on after the hang-up
    assert (run_dir / "report.html").is_file()
    _assert_clean(run_dir)


def test_under_nohup_a_run_outlives_its_terminal(tmp_path):
    spec = write_spec(tmp_path / "spec.yaml", repetitions=3, duration=1, cnis=["hostgw"])
    run_dir, code, _ = _run_on_a_terminal_that_goes_away(spec, tmp_path / "results", nohup=True)
    assert code == 0
    results = read_results(run_dir)
    assert results.status == "complete" and len(results.samples) == 6
    assert f"cnibench run {results.run_id} on netns: complete" in (tmp_path / "nohup.out").read_text()
    _assert_clean(run_dir)


def test_clean_after_sigkill(tmp_path):
    spec = write_spec(tmp_path / "spec.yaml", repetitions=5, duration=2)
    results_dir = tmp_path / "results"
    proc = cnibench("run", str(spec), "--results-dir", str(results_dir))
    run_dir = wait_for_samples(results_dir, 1)
    proc.kill()
    proc.communicate(timeout=10)
    prefix = prefix_of(run_dir)
    assert [n for n in ops.list_namespaces() if n.startswith(prefix)], "expected leftovers after SIGKILL"
    assert processes_mentioning(str(run_dir)), "expected the orphaned ansible-playbook"
    # the file still says "running"; every reader says abandoned, and how to clean up
    assert read_results(run_dir).status == "running"
    for command in (["status", str(run_dir)], ["runs", "--db", str(results_dir / "cnibench.db")]):
        shown = subprocess.run([sys.executable, "-m", "cnibench", *command], capture_output=True, text=True)
        assert shown.returncode == 0, shown.stderr
        assert "abandoned" in shown.stdout and "`cnibench clean`" in shown.stdout + shown.stderr
    dry = subprocess.run([sys.executable, "-m", "cnibench", "clean", "--dry-run"], capture_output=True, text=True)
    assert dry.returncode == 0 and f"would remove {prefix}" in dry.stdout
    assert [n for n in ops.list_namespaces() if n.startswith(prefix)]
    done = subprocess.run([sys.executable, "-m", "cnibench", "clean"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"removed {prefix}" in done.stdout
    results = json.loads((run_dir / "results.json").read_text())
    assert results["status"] == "abandoned" and len(results["samples"]) >= 1
    assert "`cnibench clean` removed what it left" in results["error"]
    _assert_clean(run_dir)
    again = subprocess.run([sys.executable, "-m", "cnibench", "clean"], capture_output=True, text=True)
    assert prefix not in again.stdout  # (runs of others on this machine may still be listed)


def test_clean_leaves_a_live_run_alone(tmp_path):
    spec = write_spec(tmp_path / "spec.yaml", repetitions=3, duration=2, cnis=["hostgw"])
    results_dir = tmp_path / "results"
    proc = cnibench("run", str(spec), "--results-dir", str(results_dir))
    try:
        run_dir = wait_for_samples(results_dir, 1)
        done = subprocess.run([sys.executable, "-m", "cnibench", "clean"], capture_output=True, text=True)
        assert "still running" in done.stdout
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
    _assert_clean(run_dir)


def test_two_runs_started_together_never_measure_at_once(tmp_path):
    """The second run refuses (exit 2, one line naming the first run's id and PID, nothing created); with --wait it
    starts once the first has ended, so that neither run has the other's load in its numbers."""
    spec = write_spec(tmp_path / "spec.yaml", repetitions=2, duration=2, cnis=["hostgw"])
    first_dir, second_dir, third_dir = (tmp_path / name for name in ("first", "second", "third"))
    first = cnibench("run", str(spec), "--results-dir", str(first_dir))
    try:
        run_dir = wait_for_samples(first_dir, 1)
        refused = subprocess.run([sys.executable, "-m", "cnibench", "run", str(spec), "--results-dir", str(second_dir)],
                                 capture_output=True, text=True, timeout=60)  # fmt: skip
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr.count("\n") == 1
        assert f"run {run_dir.name} in {first_dir / run_dir.name} (PID {first.pid}, measuring for" in refused.stderr
        assert not second_dir.exists()  # nothing created
        waiting = cnibench("run", str(spec), "--wait", "--results-dir", str(third_dir))
        _out, err = first.communicate(timeout=120)
        assert first.returncode == 0, err
        out, err = waiting.communicate(timeout=120)
        assert waiting.returncode == 0, err
        assert err.startswith(f"waiting: another cnibench run is measuring on this machine: run {run_dir.name}")
    finally:
        for proc in (first, locals().get("waiting")):
            if proc is not None and proc.poll() is None:
                proc.kill()
    first_results, third_results = read_results(run_dir), read_results(run_dir_of(third_dir))
    assert first_results.ended_at is not None
    assert third_results.started_at >= first_results.ended_at  # one after the other, never together
    assert third_results.status == "complete"
    assert set(third_results.environment["background_load"]) == {"cpu_percent", "window_s", "cores"}
    _assert_clean(run_dir)


def test_unprivileged_user_gets_exit_2_and_nothing_is_created(tmp_path):
    results_dir = tmp_path / "results"
    tmp_path.chmod(0o777)
    drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"]
    for command in (["run", "--results-dir", str(results_dir)], ["clean"]):
        proc = subprocess.run(
            [*drop, sys.executable, "-m", "cnibench", *command], capture_output=True, text=True, cwd=tmp_path
        )
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1
        assert "not root" in proc.stderr and "sudo" in proc.stderr
    assert not results_dir.exists()


def test_the_report_is_written_while_the_run_still_holds_the_machine_lock(tmp_path, monkeypatch):
    """A run waiting for the machine must not start measuring while this one stores its results and draws its
    report (a waiting run measured 50 % background load when the lock was released before the report)."""
    import fcntl

    from cnibench import lifecycle, machine
    from cnibench.plan import make_plan
    from cnibench.spec import load_spec

    monkeypatch.setenv(machine.LOCK_ENV, str(tmp_path / "run.lock"))
    spec, _ = load_spec(write_spec(tmp_path / "spec.yaml", cnis=["hostgw"], repetitions=1, duration=1))
    held: list[bool] = []

    def after(run_dir: Path, results) -> list[str]:
        fd = os.open(machine.lock_path(), os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held.append(False)
        except BlockingIOError:
            held.append(True)
        finally:
            os.close(fd)
        return commands.store_and_report(run_dir, results, tmp_path / "cnibench.db")

    outcome = lifecycle.execute(spec, make_plan(spec), results_dir=tmp_path / "results", progress=False, after=after)
    assert held == [True]
    assert outcome.exit_code == 0 and any(line.startswith("report: ") for line in outcome.after)
    assert (outcome.run_dir / "report.html").is_file()
    _assert_clean(outcome.run_dir)
