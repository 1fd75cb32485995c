"""Test-only fault points (``faults.kill_at``): a process kills itself where a point is named, to
prove that what it was doing survives the crash. Nothing happens unless the point is set, as in
production it never is."""

from __future__ import annotations

import logging
import os
import signal

from config import Settings

log = logging.getLogger(__name__)


def kill_if_asked(settings: Settings, point: str) -> None:
    """SIGKILL this process at ``point`` if the settings name it."""
    if point in settings.faults.kill_at:
        log.warning("fault injection: killing this process at %s", point)
        os.kill(os.getpid(), signal.SIGKILL)


def kill_worker_if_asked(settings: Settings, point: str) -> None:
    """SIGKILL the whole Celery worker at ``point`` if the settings name it: its main process
    (this pool process's parent) first, so that nothing hands the task in hand back to the
    broker, then this process, as when the machine or container running it dies."""
    if point in settings.faults.kill_at:
        log.warning("fault injection: killing the worker at %s", point)
        os.kill(os.getppid(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)
