"""Errors raised while transcribing: what went wrong, and whether trying again may help."""

from __future__ import annotations

from pathlib import Path


class TranscriptionError(Exception):
    """Base class: a transcription could not be produced.

    Attributes:
        retryable: whether trying the same thing again later may succeed (a task retries only
            these; a missing model or a corrupt file fails the same way every time).
    """

    retryable: bool = False


class ModelLoadError(TranscriptionError):
    """The Whisper model cannot be located or loaded (missing, corrupt, or the wrong device)."""


class InferenceError(TranscriptionError):
    """The model failed while running (out of memory, a device error): may succeed later."""

    retryable = True


class AudioError(TranscriptionError):
    """An audio file cannot be decoded, or holds no audio at all.

    Attributes:
        path: the file at fault.
        reason: why it cannot be used, for a person to read.
    """

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


class TranscriptFormatError(TranscriptionError):
    """A stored transcript cannot be read: malformed, or of a schema version we do not know."""
