"""The S3 client, built one way for MinIO (production) and SeaweedFS (local stack) alike."""

from __future__ import annotations

from minio import Minio

from config.settings import S3Settings


def make_s3_client(s3: S3Settings) -> Minio:
    """A minio client for the configured endpoint and credentials."""
    return Minio(
        s3.host,
        access_key=s3.access_key,
        secret_key=s3.secret_key.get_secret_value(),
        secure=s3.secure,
        region=s3.region,
    )
