"""A real Celery worker subprocess on the local stack's Redis runs a task and answers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery

from config import Settings
from transcription import create_celery
from transcription.celery_app import TaskName, send

TIEPDAN = str(Path(sys.executable).parent / "tiepdan")


@pytest.fixture
def worker_queue(local_stack: Settings, unique_name: str, tmp_path: Path) -> Iterator[str]:
    """A `tiepdan worker` subprocess consuming a queue of its own."""
    log = (tmp_path / "worker.log").open("w")
    proc = subprocess.Popen(
        [TIEPDAN, "worker", f"--queues={unique_name}", f"--hostname={unique_name}@%h"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "TIEPDAN_PATHS__STATE_DIR": str(local_stack.paths.state_dir)},
    )
    try:
        yield unique_name
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_worker_runs_a_task_and_returns_its_result(
    local_stack: Settings, worker_queue: str
) -> None:
    app: Celery = create_celery(local_stack)
    try:
        result = app.send_task(TaskName.PING.value, args=["xin chào"], queue=worker_queue)
        answer = result.get(timeout=60)
    finally:
        app.close()
    assert answer["payload"] == "xin chào"
    assert answer["pid"] != os.getpid()


def test_a_step_is_sent_without_a_result_to_wait_for(local_stack: Settings) -> None:
    """Nobody reads a pipeline step's result: sending one left the sender subscribed to its
    result channel, and leaving it, once the result was collected on a Redis no longer reached,
    failed a later fault test. A ping, which is waited on, keeps its result."""
    url = local_stack.broker.url.rsplit("/", 1)[0] + "/10"  # no worker reads it
    broker = local_stack.broker.model_copy(update={"url": url})
    app: Celery = create_celery(local_stack.model_copy(update={"broker": broker}))
    try:
        step = send(app, TaskName.INDEX_SESSION, 0)
        ping = send(app, TaskName.PING, "xin chào")
        listening = app.backend.result_consumer.subscribed_to
        assert app.backend.get_key_for_task(step.id) not in listening and step.ignored
        assert app.backend.get_key_for_task(ping.id) in listening and not ping.ignored
    finally:
        app.close()
        redis.Redis.from_url(url).flushdb()
