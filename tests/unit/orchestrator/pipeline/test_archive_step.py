"""The archive's Celery wiring: task names, beat schedule, queues (no broker needed)."""

from __future__ import annotations

from celery import Celery

from config import Settings
from orchestrator.pipeline import archive_step as archive


def test_register_names_tasks_and_schedules_them_on_the_archive_queue() -> None:
    app = Celery("test-archive", set_as_current=False)
    archive.register(app, Settings())
    assert {"tiepdan.archive_session", "tiepdan.verify_archive", "tiepdan.archive_outbox"} <= set(
        app.tasks
    )
    schedule = app.conf.beat_schedule
    assert schedule["tiepdan-verify-archive"]["task"] == "tiepdan.verify_archive"
    assert schedule["tiepdan-archive-outbox"]["schedule"] == 300
    assert {entry["options"]["queue"] for entry in schedule.values()} == {"archive"}
