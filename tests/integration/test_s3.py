"""The real S3 store of the local stack, through the minio client the archive uses."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from minio.commonconfig import COMPLIANCE
from minio.error import S3Error
from minio.retention import Retention

from config import Settings
from storage import make_s3_client


def test_put_get_round_trip(local_stack: Settings, unique_name: str) -> None:
    client = make_s3_client(local_stack.s3)
    client.make_bucket(unique_name)
    body = "Biên bản tiếp công dân".encode() * 1000
    client.put_object(unique_name, "a/b.txt", io.BytesIO(body), len(body))
    response = client.get_object(unique_name, "a/b.txt")
    try:
        assert response.read() == body
    finally:
        response.close()
        response.release_conn()
    client.remove_object(unique_name, "a/b.txt")
    client.remove_bucket(unique_name)


def test_compliance_retention_refuses_deletion(local_stack: Settings, unique_name: str) -> None:
    client = make_s3_client(local_stack.s3)
    client.make_bucket(unique_name, object_lock=True)
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    written = client.put_object(
        unique_name,
        "recording.opus",
        io.BytesIO(b"OggS-record"),
        11,
        retention=Retention(COMPLIANCE, until),
    )
    assert written.version_id

    with pytest.raises(S3Error) as refused:
        client.remove_object(unique_name, "recording.opus", version_id=written.version_id)
    assert refused.value.code == "AccessDenied"

    retention = client.get_object_retention(unique_name, "recording.opus")
    assert retention is not None and retention.mode == COMPLIANCE
    assert client.stat_object(unique_name, "recording.opus").size == 11
