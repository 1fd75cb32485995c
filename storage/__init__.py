"""The S3/MinIO archive. Uses only ``config``."""

from __future__ import annotations

from storage.s3 import make_s3_client

__all__ = ["make_s3_client"]
