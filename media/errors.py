"""Errors of the media agent, each saying whether trying again may help."""

from __future__ import annotations


class MediaError(Exception):
    """Base of the media agent's errors.

    Attributes:
        retryable: whether the same call may succeed later (a network or server hiccup), as
            opposed to a mistake that repeats (a malformed manifest, a room of another session).
    """

    retryable: bool = False


class ManifestError(MediaError):
    """A recording manifest is malformed or of an unknown schema version."""


class RecorderError(MediaError):
    """The recorder could not join, or resume, a room."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class EncoderError(MediaError):
    """Encoding or writing a segment failed; the segment is lost, recording goes on."""
