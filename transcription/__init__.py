"""Post-session jobs: transcription with faster-whisper, merge, minutes. Uses ``storage``."""

from __future__ import annotations

from transcription.celery_app import QUEUES, create_celery

__all__ = ["QUEUES", "create_celery"]
