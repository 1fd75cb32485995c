"""Post-session jobs: transcription with faster-whisper, merge, minutes. Uses ``storage``."""

from __future__ import annotations

from transcription.celery_app import (
    Queue,
    RetryingTask,
    RetryLater,
    TaskName,
    create_celery,
    send,
)
from transcription.task_context import PUBLISHED_AT_HEADER

__all__ = [
    "PUBLISHED_AT_HEADER",
    "Queue",
    "RetryLater",
    "RetryingTask",
    "TaskName",
    "create_celery",
    "send",
]
