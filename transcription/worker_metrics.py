"""The worker's metrics: how long each pipeline step takes, which fail, and how fast speech
recognition runs against real time.

Celery's prefork pool runs jobs in child processes, so the metrics use prometheus-client's
multiprocess mode: each child writes its values to memory-mapped files in a directory of the
worker's own, and the parent serves their sum on ``metrics.worker_port``. (A port per child
would give Prometheus a moving set of targets, and lose a child's counts when it is replaced.)
Every metric here has a label, so its values are only created inside a job, after the mode is
switched on.
"""

from __future__ import annotations

import os
import shutil
import time
from typing import Any

from celery.signals import task_failure, task_postrun, task_prerun, worker_process_shutdown
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server, values
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from config import Settings

STEP_SECONDS = Histogram(
    "tiepdan_pipeline_step_seconds",
    "Pipeline jobs, from start to end, by task.",
    ["step"],
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800, 3600, 7200),
)
STEP_FAILURES = Counter("tiepdan_pipeline_step_failures", "Pipeline jobs that failed.", ["step"])
ASR_REAL_TIME_FACTOR = Histogram(
    "tiepdan_asr_real_time_factor",
    "Seconds of recognition per second of audio, per track (below 1: faster than real time).",
    ["model"],
    buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0),
)
_started: dict[str, float] = {}


def _start(task_id: str, **_: Any) -> None:
    _started[task_id] = time.monotonic()


def _end(task_id: str, task: Any, **_: Any) -> None:
    if (start := _started.pop(task_id, None)) is not None:
        STEP_SECONDS.labels(task.name).observe(time.monotonic() - start)


def _failed(sender: Any = None, **_: Any) -> None:
    STEP_FAILURES.labels(getattr(sender, "name", "?")).inc()


def _child_exits(pid: int | None = None, **_: Any) -> None:
    mark_process_dead(pid or os.getpid())  # type: ignore[no-untyped-call]


def serve_worker_metrics(settings: Settings) -> None:
    """Switch to multiprocess mode and serve the pool's metrics on ``metrics.worker_port``
    (nothing when 0). Call in the worker's parent process before the pool starts."""
    port = settings.metrics.worker_port
    if not port:
        return
    directory = settings.paths.state_dir / "metrics" / f"worker-{port}"
    shutil.rmtree(directory, ignore_errors=True)  # values of an earlier run are not ours
    directory.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    # prometheus-client chooses its value store when first imported; choose again now.
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    start_http_server(port, addr=settings.metrics.host, registry=registry)
    task_prerun.connect(_start, weak=False, dispatch_uid="tiepdan-metrics-start")
    task_postrun.connect(_end, weak=False, dispatch_uid="tiepdan-metrics-end")
    task_failure.connect(_failed, weak=False, dispatch_uid="tiepdan-metrics-failed")
    worker_process_shutdown.connect(_child_exits, weak=False, dispatch_uid="tiepdan-metrics-exit")
