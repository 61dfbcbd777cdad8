from __future__ import annotations

import signal
import time
from pathlib import Path

from cnibench.lifecycle import Outcome
from cnibench.results.model import RunResults


def test_exit_code_counts_repetitions_that_did_not_run(tmp_path):
    done = RunResults(
        run_id="r", name="t", platform="netns", status="complete", started_at=time.time(), cnibench_version="0",
        spec={}, environment={}, planned_repetitions=12,
    )  # fmt: skip
    assert Outcome(Path("x"), done).exit_code == 1  # planned 12, recorded 0
    assert Outcome(Path("x"), done.model_copy(update={"planned_repetitions": 0})).exit_code == 0
    interrupted = done.model_copy(update={"status": "interrupted"})
    assert Outcome(Path("x"), interrupted).exit_code == 130
    # 128 + the signal's number, as a shell reports a process a signal ended
    for sig, code in ((signal.SIGINT, 130), (signal.SIGHUP, 129), (signal.SIGQUIT, 131), (signal.SIGTERM, 143)):
        assert Outcome(Path("x"), interrupted, signal=sig).exit_code == code
