"""Errors of the storage layer, each saying whether trying again may help.

minio's, urllib3's and the OS's exceptions do not leave :mod:`storage`: they are translated where
they enter it (:func:`storage.s3.s3_errors`), the original kept as ``__cause__``.
"""

from __future__ import annotations


class StorageError(Exception):
    """Base of the storage layer's errors.

    Attributes:
        retryable: whether the same call may succeed later (S3 unreachable or overloaded, a spool
            disk that comes back), as opposed to a refusal that repeats (a bucket without object
            lock, credentials S3 does not accept, a manifest whose signature fails).
    """

    retryable: bool = False


class ArchiveError(StorageError):
    """The archive could not be written, read or trusted."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class ArchiveFormatError(ArchiveError):
    """A manifest that cannot be read (not JSON, fields missing): reading it again will not help."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)
