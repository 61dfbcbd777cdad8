"""The measurement stream: a long module call appends each step and repetition the moment it ends, and the event
handler's thread reads complete records only, in order, before Ansible's next event; a stopping run says so."""

from __future__ import annotations

import threading
import time

import pytest

from cnibench.errors import PlatformError
from cnibench.orchestration.stream import MeasurementStream, appending, step, stop_path, tailed


def test_the_stream_delivers_complete_lines_only(tmp_path):
    path = tmp_path / "s.jsonl"
    seen: list[dict] = []
    stream = MeasurementStream(path, seen.append)
    assert stream.poll() == 0  # no file yet
    with path.open("a") as out:
        out.write('{"event": "measured", "n": 1}\n{"event": "meas')
        out.flush()
        assert stream.poll() == 1
        out.write('ured", "n": 2}\nnot json\n')
        out.flush()
        assert stream.poll() == 1
    assert [r["n"] for r in seen] == [1, 2]


def test_tailed_passes_the_stop_request_on_and_reads_the_last_records(tmp_path):
    path = tmp_path / "s.jsonl"
    seen: list[dict] = []
    stopping = threading.Event()
    stop_file = tmp_path / "stop"
    with tailed(MeasurementStream(path, seen.append), lock=threading.RLock(), stopping=stopping.is_set,
                stop_file=stop_file):  # fmt: skip
        path.write_text('{"event": "loop_started"}\n')
        deadline = time.monotonic() + 5
        while not seen and time.monotonic() < deadline:
            time.sleep(0.02)
        assert seen  # delivered while the module still runs
        assert not stop_file.exists()
        stopping.set()
        while not stop_file.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert stop_file.exists()
        with path.open("a") as out:
            out.write('{"event": "measured"}\n')
    assert [r["event"] for r in seen] == ["loop_started", "measured"]  # read a last time on exit


def test_a_step_is_streamed_as_the_task_it_stands_for_with_its_result_or_why_it_failed(tmp_path):
    path = tmp_path / "s.jsonl"
    seen: list[dict] = []
    with appending(path) as emit:
        step(emit, "Build", "netns_setup", lambda: {"kind": "done", "changed": True})
        with pytest.raises(PlatformError):
            step(emit, "Destroy", "netns_setup", lambda: (_ for _ in ()).throw(PlatformError("ip failed")))
    MeasurementStream(path, seen.append).poll()
    assert [(r["event"], r["task"]) for r in seen] == [
        ("task_started", "Build"), ("task_result", "Build"), ("task_started", "Destroy"), ("task_result", "Destroy"),
    ]  # fmt: skip
    assert seen[1]["res"] == {"kind": "done", "changed": True} and not seen[1]["failed"] and seen[1]["duration"] >= 0
    assert seen[3]["failed"] and seen[3]["res"] == {"msg": "ip failed"}
    assert not stop_path(tmp_path).exists()
