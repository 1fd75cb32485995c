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

__all__ = ["Queue", "RetryLater", "RetryingTask", "TaskName", "create_celery", "send"]
