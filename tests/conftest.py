from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def data_dir() -> Path:
    return DATA


#: Integration test sessions on one machine take turns (they measure, and they check for leftovers by name).
INTEGRATION_LOCK = Path("/run/lock/cnibench-integration-tests.lock")
#: The machine's run lock the integration tests' runs take (cnibench.machine.LOCK_ENV), apart from real runs'.
TEST_RUN_LOCK = Path("/run/lock/cnibench-test-runs.lock")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Integration tests build real namespaces: they need root (CI runs as root); elsewhere they are skipped. A
    session with integration tests waits for any other one on this machine first (here, before any test's timeout
    starts), and holds the lock until it ends."""
    if os.geteuid() == 0:
        if any("integration" in item.keywords for item in items):
            INTEGRATION_LOCK.parent.mkdir(parents=True, exist_ok=True)
            lock = INTEGRATION_LOCK.open("w")
            fcntl.flock(lock, fcntl.LOCK_EX)
            config.add_cleanup(lock.close)
            # the runs of the tests take turns with each other (the lock above), not with a benchmark someone runs
            # on this machine meanwhile: a measuring run would refuse them (exit 2) and they would fail for nothing
            os.environ.setdefault("CNIBENCH_RUN_LOCK", str(TEST_RUN_LOCK))
        return
    skip = pytest.mark.skip(reason="integration tests need root (network namespaces)")
    for item in items:
        if "integration" in item.keywords:
            item.add_marker(skip)
