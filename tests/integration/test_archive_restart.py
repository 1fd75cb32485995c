"""An archive job survives its S3 going away mid-way: run again, it completes exactly once.

Uses a second SeaweedFS of its own (other ports, other data dir), never the shared stack's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3
from minio import Minio

from config import Settings
from config.local_stack.parts import _s3_part
from storage import make_s3_client
from storage.archive import SessionPlace, archive_directory, signing_key, verify_archive
from storage.errors import ArchiveError
from storage.spool import SessionSpool, track_dir

S3_PORT = 22333  # away from the shared stack (8333) and the stack tests' second one (21333)


class Weed:
    """A ``weed mini`` process that can be stopped and started again on the same data."""

    def __init__(self, settings: Settings) -> None:
        self.part = _s3_part(settings, Path(sys.executable).parent)
        self.settings = settings
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.part.prepare()
        with (self.settings.paths.state_dir / "weed.log").open("ab") as log:
            self.proc = subprocess.Popen(
                self.part.command, env={**os.environ, **self.part.env}, stdout=log, stderr=log
            )
        deadline = time.monotonic() + 90
        while True:
            try:
                self.part.check_health()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
            self.proc = None


@pytest.fixture
def weed(local_stack: Settings, tmp_path: Path, unique_name: str) -> Iterator[Weed]:
    s3 = local_stack.s3.model_copy(
        update={"endpoint": f"http://127.0.0.1:{S3_PORT}", "bucket": unique_name,
                "retention_media_days": 1, "retention_transcript_days": 1,
                "retention_metadata_days": 1}
    )  # fmt: skip
    paths = local_stack.paths.model_copy(update={"state_dir": tmp_path / "state"})
    w = Weed(local_stack.model_copy(update={"s3": s3, "paths": paths}))
    w.start()
    try:
        yield w
    finally:
        w.stop()


def _client(settings: Settings) -> Minio:
    s3 = settings.s3
    # No retries: a stopped S3 must fail the job quickly, as the worker would see it.
    return Minio(s3.host, access_key=s3.access_key, secret_key=s3.secret_key.get_secret_value(),
                 secure=False, region=s3.region,
                 http_client=urllib3.PoolManager(timeout=5, retries=False))  # fmt: skip


def test_s3_stopped_mid_job_then_completes_exactly_once(weed: Weed, tmp_path: Path) -> None:
    settings = weed.settings
    key = signing_key(settings)
    spool = SessionSpool(tmp_path / "spool" / "session")
    directory = spool.directory
    for i in range(6):
        track = directory / track_dir(f"speaker-{i}") / "0001.opus"
        track.parent.mkdir(parents=True)
        track.write_bytes(os.urandom(2 * 1024 * 1024 + i))
    spool.manifest.write_text('{"tracks": 6}')
    place = SessionPlace(7, "ninh-binh", 2026)

    stored: list[str] = []

    def stop_after_two(name: str) -> None:
        stored.append(name)
        if len(stored) == 2:
            weed.stop()

    with pytest.raises(ArchiveError, match="S3 unreachable") as failed:
        archive_directory(_client(settings), settings.s3, key, place, directory,
                          on_stored=stop_after_two)  # fmt: skip
    assert failed.value.retryable
    assert "Connection refused" in repr(failed.value) or "Max retries" in repr(failed.value)
    assert len(stored) == 2
    assert len(list(directory.rglob("*.opus"))) == 6  # nothing deleted before confirmation

    weed.start()
    manifest = archive_directory(make_s3_client(settings.s3), settings.s3, key, place, directory)
    assert len(manifest.objects) == 7
    assert list(directory.rglob("*")) == []  # the spool is empty
    client = make_s3_client(settings.s3)
    versions = [
        o.object_name
        for o in client.list_objects(settings.s3.bucket, recursive=True, include_version=True)
    ]
    assert sorted(versions) == sorted({*versions})  # every object exactly once
    assert len(versions) == 8  # seven files and the manifest
    assert [r.ok for r in verify_archive(client, settings.s3.bucket, key.public_key())] == [True]
