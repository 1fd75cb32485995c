"""The S3 client, built one way for MinIO (production) and SeaweedFS (local stack) alike, and the
translation of what it raises into :mod:`storage.errors`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from minio import Minio
from minio.error import MinioException, S3Error
from urllib3.exceptions import HTTPError

from config.settings import S3Settings
from storage.errors import ArchiveError

RETRYABLE_S3_CODES: Final = frozenset(
    {"InternalError", "OperationAborted", "RequestTimeout", "ServiceUnavailable", "SlowDown"}
)
"""S3 error codes that mean "not now" rather than "no" (the server is busy or failing)."""


def make_s3_client(s3: S3Settings) -> Minio:
    """A minio client for the configured endpoint and credentials."""
    return Minio(
        s3.host,
        access_key=s3.access_key,
        secret_key=s3.secret_key.get_secret_value(),
        secure=s3.secure,
        region=s3.region,
    )


@contextmanager
def archive_errors(action: str) -> Iterator[None]:
    """Raise :class:`ArchiveError` for what S3, the network or the spool's disk raise in the block.

    Usable as a decorator too. An S3 refusal is retryable only for the codes of
    :data:`RETRYABLE_S3_CODES`; S3 unreachable (a connection refused, a timeout, a 5xx without an
    S3 error body) and an OS error (a spool file that cannot be read) are retryable.

    Args:
        action: what was being done, for the message (``"archive session 7"``).
    """
    try:
        yield
    except S3Error as e:
        raise ArchiveError(
            f"{action}: S3 answered {e.code}: {e.message}", retryable=e.code in RETRYABLE_S3_CODES
        ) from e
    except (MinioException, HTTPError) as e:
        raise ArchiveError(f"{action}: S3 unreachable or failing: {e!r}", retryable=True) from e
    except OSError as e:
        raise ArchiveError(f"{action}: {e}", retryable=True) from e
