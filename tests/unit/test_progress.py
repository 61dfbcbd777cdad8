from __future__ import annotations

import io

from cnibench.progress import Progress
from cnibench.scenarios.base import PlannedRun


def _runs():
    return [
        PlannedRun(cni="hostgw", scenario="egress", repetition=i, artifact=f"/a{i}", expected_seconds=12.0)
        for i in (1, 2, 3)
    ]


def test_silent_when_not_a_terminal():
    stream = io.StringIO()  # isatty() is False
    progress = Progress(_runs(), stream=stream)
    progress.start()
    progress.set_task("Measure")
    progress.finished(_runs()[0])
    progress.note("something")
    progress.close()
    assert stream.getvalue() == ""


def test_line_shows_trial_repetition_and_time_left():
    runs = _runs()
    progress = Progress(runs, stream=io.StringIO(), enabled=True)
    assert "hostgw · egress · rep 1/3" in progress.line()
    assert "0/3 done" in progress.line()
    before = progress.seconds_left()
    progress.finished(runs[0])
    assert "rep 2/3" in progress.line() and "1/3 done" in progress.line()
    assert progress.seconds_left() < before
    progress.finished(runs[1])
    progress.finished(runs[2])
    assert progress.seconds_left() == 0 and "finishing" in progress.line()
