"""A local stack service started from a test process: no warning when its handle goes."""

from __future__ import annotations

import gc
import warnings
from pathlib import Path

import psutil

from config.local_stack.processes import ManagedProcess


def test_a_started_service_outlives_the_call_that_started_it_without_a_warning(
    tmp_path: Path,
) -> None:
    """The fault suite restarts services from the test process: a Popen collected while its
    daemon ran warned, and pytest failed whichever test the collection fell in."""
    service = ManagedProcess("sleeper", tmp_path / "sleeper.pid", tmp_path / "sleeper.log")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pid = service.start(["sleep", "60"], env={}, cwd=tmp_path).pid
        gc.collect()
        assert service.stop(timeout_s=5)
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert not psutil.pid_exists(pid)  # stopped and reaped, not left a zombie
