"""The tamper-evident archive against the local stack's real SeaweedFS S3 (object lock on)."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from minio import Minio
from minio.commonconfig import CopySource
from minio.error import S3Error
from pydantic import SecretStr
from sqlalchemy import select

from config import Settings
from orchestrator.cli.archive_commands import verify_command
from orchestrator.core.vocabulary import SessionKind, SessionStatus
from orchestrator.db.models import ArchiveOutbox, AuditEntry, ReceptionSession, RecordingRequest
from orchestrator.pipeline.archive_step import (
    archive_session_job,
    due_for_archive,
    province_chain_lock,
    prune_spools,
    verify_archive_job,
)
from storage import make_s3_client
from storage.archive import SessionPlace, archive_directory, signing_key, verify_archive
from storage.errors import ArchiveError
from storage.files import write_atomic
from storage.records import public_key_pem
from storage.spool import (
    MINUTES,
    MIXED_AUDIO,
    PIPELINE_DIR,
    RECORDING_MANIFEST,
    SessionSpool,
    track_dir,
    transcript_name,
)
from tests.integration.conftest import World

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _opus(path: Path, freq: int, seconds: float = 1.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
         f"sine=frequency={freq}:duration={seconds}", "-c:a", "libopus", "-b:a", "24k", str(path)],
        check=True,
    )  # fmt: skip


CITIZEN_TRACK = f"{track_dir('citizen-1')}/0001.opus"
OFFICER_TRACK = f"{track_dir('officer-1')}/0001.opus"


# What session_dir writes.
SESSION_DIR_FILES = {RECORDING_MANIFEST, MIXED_AUDIO, transcript_name(".json"),
                     transcript_name(".txt"), CITIZEN_TRACK, OFFICER_TRACK}  # fmt: skip


def session_dir(root: Path, tag: str) -> Path:
    """A session directory as the recorder and pipeline leave it (no minutes: that step failed)."""
    spool = SessionSpool(root / tag)
    spool.directory.mkdir(parents=True)
    spool.manifest.write_text(json.dumps({"tag": tag}))
    _opus(spool.directory / CITIZEN_TRACK, 440)
    _opus(spool.directory / OFFICER_TRACK, 660)
    _opus(spool.mixed, 550)
    spool.transcript(".json").write_text(json.dumps({"tag": tag, "utterances": []}))
    spool.transcript(".txt").write_text(f"Biên bản {tag}\n")
    return spool.directory


def write_scratch(directory: Path) -> None:
    """What the pipeline and the recorder leave beside the record: a track's result, and a
    partial manifest that a crash kept."""
    spool = SessionSpool(directory)
    write_atomic(spool.track_result("TR_citizen1"), json.dumps({"version": 1, "state": "done"}))
    spool.partial_manifest.write_text(json.dumps({"stale": True}))


@pytest.fixture
def s3_settings(local_stack: Settings, unique_name: str) -> Settings:
    """The local stack with a bucket of this test's own, retention one day (so it expires)."""
    s3 = local_stack.s3.model_copy(
        update={"bucket": unique_name, "retention_media_days": 1, "retention_transcript_days": 1,
                "retention_minutes_days": 1, "retention_metadata_days": 1}
    )  # fmt: skip
    return local_stack.model_copy(update={"s3": s3})


def _versions(client: Minio, bucket: str) -> list[tuple[str, str | None]]:
    return sorted(
        (o.object_name or "", o.version_id)
        for o in client.list_objects(bucket, recursive=True, include_version=True)
    )


def _verify(settings: Settings, *args: str) -> tuple[int, list[dict[str, object]]]:
    result = CliRunner().invoke(verify_command, list(args), obj=settings)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result.exit_code, lines


def test_archive_verify_duplicate_and_locked(s3_settings: Settings, tmp_path: Path) -> None:
    client = make_s3_client(s3_settings.s3)
    key = signing_key(s3_settings)
    bucket = s3_settings.s3.bucket
    place = SessionPlace(101, "ninh-binh", 2026, {"title": "Phiên thử"})
    directory = session_dir(tmp_path, "a")

    manifest = archive_directory(client, s3_settings.s3, key, place, directory)
    assert manifest.key == "2026/ninh-binh/101/manifest-r1.json"
    assert {o.name for o in manifest.objects} == SESSION_DIR_FILES
    assert set(manifest.missing) == {transcript_name(".vtt"), transcript_name(".srt"), MINUTES}
    assert list(directory.rglob("*")) == []  # local copies gone once S3 confirmed them
    stored = _versions(client, bucket)
    assert len(stored) == 7  # six files and the manifest, one version each

    code, reports = _verify(s3_settings, "--session", "101")
    assert code == 0 and reports[0]["ok"] is True and reports[0]["objects"] == 6

    # A duplicate job (the files gone, or the same files again) is a no-op.
    again = archive_directory(client, s3_settings.s3, key, place, directory)
    assert again == manifest
    redo = session_dir(tmp_path / "again", "a")
    for path in sorted(redo.rglob("*.opus")):
        # Opus encodes identically only by chance: reuse the archived bytes for a true duplicate.
        rel = path.relative_to(redo).as_posix()
        obj = next(o for o in manifest.objects if o.name == rel)
        path.write_bytes(client.get_object(bucket, obj.key).read())
    assert archive_directory(client, s3_settings.s3, key, place, redo) == manifest
    assert _versions(client, bucket) == stored

    # Deletion and overwrite within retention.
    mixed = next(o for o in manifest.objects if o.name == MIXED_AUDIO)
    with pytest.raises(S3Error) as refused:
        client.remove_object(bucket, mixed.key, version_id=mixed.version_id)
    assert refused.value.code == "AccessDenied"
    client.put_object(bucket, mixed.key, io.BytesIO(b"forged"), 6)
    code, reports = _verify(s3_settings, "--province", "ninh-binh")
    assert code == 1
    assert any("other version(s) written on the archived key" in p for p in reports[0]["problems"])
    assert client.stat_object(bucket, mixed.key, version_id=mixed.version_id).size == mixed.size


def test_scratch_files_stay_out_of_the_archive(s3_settings: Settings, tmp_path: Path) -> None:
    """The pipeline's per-track results and a stale partial manifest are working state, not the
    record: neither the manifest nor the bucket holds them (no ten-year retention on them),
    verify passes, and archiving still leaves the spool empty."""
    client = make_s3_client(s3_settings.s3)
    key = signing_key(s3_settings)
    directory = session_dir(tmp_path, "scratch")
    write_scratch(directory)
    partial = SessionSpool(directory).partial_manifest.name

    place = SessionPlace(21, "tw", 2026)
    manifest = archive_directory(client, s3_settings.s3, key, place, directory)
    assert {o.name for o in manifest.objects} == SESSION_DIR_FILES
    stored = [name for name, _version in _versions(client, s3_settings.s3.bucket)]
    assert len(stored) == 7  # the six files of the record and the manifest
    assert not [k for k in stored if PIPELINE_DIR in k.split("/") or k.endswith(partial)]
    reports = verify_archive(client, s3_settings.s3.bucket, key.public_key())
    assert [(r.session_id, r.ok) for r in reports] == [(21, True)]
    assert list(directory.rglob("*")) == []


def test_s3_refusals_arrive_as_archive_errors(s3_settings: Settings, tmp_path: Path) -> None:
    """minio's exceptions do not leave storage: a refusal that repeats is not retryable."""
    wrong = s3_settings.s3.model_copy(update={"secret_key": SecretStr("not-the-secret-key")})
    directory = session_dir(tmp_path, "refused")
    with pytest.raises(ArchiveError, match="S3 answered") as refused:
        archive_directory(make_s3_client(wrong), wrong, signing_key(s3_settings),
                          SessionPlace(1, "tw", 2026), directory)  # fmt: skip
    assert not refused.value.retryable and isinstance(refused.value.__cause__, S3Error)
    assert len(list(directory.rglob("*.opus"))) == 3  # nothing lost


def test_verify_reports_altered_and_wrongly_signed_manifests(
    s3_settings: Settings, tmp_path: Path
) -> None:
    client = make_s3_client(s3_settings.s3)
    key = signing_key(s3_settings)
    bucket = s3_settings.s3.bucket
    for sid in (1, 2):
        archive_directory(client, s3_settings.s3, key, SessionPlace(sid, "ha-noi", 2026),
                          session_dir(tmp_path, f"s{sid}"))  # fmt: skip
    # Signed with a key that is not the archive's.
    archive_directory(client, s3_settings.s3, Ed25519PrivateKey.generate(),
                      SessionPlace(3, "ha-noi", 2026), session_dir(tmp_path, "s3"))  # fmt: skip
    code, reports = _verify(s3_settings, "--province", "ha-noi")
    by_session = {r["session_id"]: r for r in reports}
    assert code == 1
    assert by_session[1]["ok"] and by_session[2]["ok"]
    assert by_session[3]["problems"] == ["manifest signature does not verify"]

    # Alter session 1's manifest: a new version with another checksum.
    first = "2026/ha-noi/1/manifest-r1.json"
    envelope = json.loads(client.get_object(bucket, first).read())
    envelope["manifest"]["objects"][0]["sha256"] = "0" * 64
    body = json.dumps(envelope).encode()
    client.put_object(bucket, first, io.BytesIO(body), len(body))
    code, reports = _verify(s3_settings, "--province", "ha-noi")
    by_session = {r["session_id"]: r for r in reports}
    assert code == 1
    assert "manifest has 2 versions (rewritten)" in by_session[1]["problems"]
    assert "manifest signature does not verify" in by_session[1]["problems"]
    assert any("was altered" in p for p in by_session[2]["problems"])


def test_verify_reports_a_session_removed_from_the_chain(
    s3_settings: Settings, tmp_path: Path
) -> None:
    client = make_s3_client(s3_settings.s3)
    key = signing_key(s3_settings)
    bucket = s3_settings.s3.bucket
    for i in range(3):
        archive_directory(client, s3_settings.s3, key, SessionPlace(10 + i, "tw", 2026),
                          session_dir(tmp_path, f"c{i}"))  # fmt: skip
    # The locked bucket refuses deletion, so play the attacker on a copy without object lock.
    plain = bucket + "-copy"
    client.make_bucket(plain)
    for obj in client.list_objects(bucket, recursive=True):
        assert obj.object_name
        client.copy_object(plain, obj.object_name, CopySource(bucket, obj.object_name))
    client.remove_object(plain, "2026/tw/11/manifest-r1.json")
    reports = verify_archive(client, plain, key.public_key(), province_code="tw", full=False)
    by_session = {r.session_id: r for r in reports}
    assert set(by_session) == {10, 12}
    assert "previous manifest 2026/tw/11/manifest-r1.json is missing" in by_session[12].problems
    assert verify_archive(client, bucket, key.public_key(), province_code="tw") == [
        r for r in verify_archive(client, bucket, key.public_key(), province_code="tw") if r.ok
    ]


async def test_playback_url_allowed_and_denied(
    world: World, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    settings = world.settings.model_copy(
        update={"s3": world.settings.s3.model_copy(update={"retention_media_days": 1,
                "retention_transcript_days": 1, "retention_metadata_days": 1})}
    )  # fmt: skip
    async with world.db() as db:
        row = ReceptionSession(
            title="Phiên thử nghe lại", kind=SessionKind.AD_HOC,
            agency_id=world.agencies["ninh-binh"],
            starts_at=NOW, ends_at=NOW + timedelta(hours=1), status=SessionStatus.ARCHIVED,
        )  # fmt: skip
        db.add(row)
        await db.commit()
        session_id = row.id
    directory = session_dir(tmp_path, "play")
    expected = SessionSpool(directory).mixed.read_bytes()
    archive_directory(make_s3_client(settings.s3), settings.s3, signing_key(settings),
                      SessionPlace(session_id, "ninh-binh", 2026), directory)  # fmt: skip

    url = f"{world.base_url}/api/v1/sessions/{session_id}/media/{MIXED_AUDIO}"
    async with http.get(url, headers=world.headers("archivist"), allow_redirects=False) as r:
        assert r.status == 302
        location = r.headers["Location"]
    assert "X-Amz-Expires=600" in location
    async with http.get(location) as r:
        assert r.status == 200 and await r.read() == expected

    track = f"{world.base_url}/api/v1/sessions/{session_id}/media/{CITIZEN_TRACK}"
    async with http.get(track, headers=world.headers("archivist")) as r:
        assert r.status == 200 and (await r.read())[:4] == b"OggS"
    # Another province's session is not there for her: the 404 of an absent session.
    async with http.get(url, headers=world.headers("other_officer"), allow_redirects=False) as r:
        assert r.status == 404
        assert "Không tìm thấy phiên tiếp" in (await r.json())["detail"]
    async with http.get(f"{world.base_url}/api/v1/sessions/{session_id}/media/{MINUTES}",
                        headers=world.headers("archivist")) as r:  # fmt: skip
        assert r.status == 404
    async with world.db() as db:
        target = f"session:{session_id}/{MIXED_AUDIO}"
        query = select(AuditEntry).where(AuditEntry.target == target).order_by(AuditEntry.id)
        rows = list(await db.scalars(query))
    assert [(e.actor_user_id, e.outcome) for e in rows] == [
        (world.users["archivist"], "allowed"), (world.users["other_officer"], "denied"),
    ]  # fmt: skip

    async with http.get(f"{world.base_url}/api/v1/archive/public-key") as r:
        assert r.status == 200 and await r.text() == public_key_pem(signing_key(settings))


@pytest.mark.usefixtures("worker_db")
async def test_archive_job_marks_session_and_reverification_is_recorded(
    world: World, tmp_path: Path, unique_name: str
) -> None:
    s3 = world.settings.s3.model_copy(
        update={"bucket": unique_name, "retention_media_days": 1,
                "retention_transcript_days": 1, "retention_metadata_days": 1}
    )  # fmt: skip
    settings = world.settings.model_copy(update={"s3": s3})
    directory = session_dir(tmp_path, "job")
    write_scratch(directory)
    async with world.db() as db:
        row = ReceptionSession(
            title="Phiên thử lưu trữ", kind=SessionKind.AD_HOC,
            agency_id=world.agencies["ninh-binh"], starts_at=NOW,
            ends_at=NOW + timedelta(hours=1), status=SessionStatus.PROCESSING,
        )  # fmt: skip
        db.add(row)
        await db.flush()
        db.add(RecordingRequest(session_id=row.id, room_name=f"room-{unique_name}",
                                manifest_path=str(SessionSpool(directory).manifest)))  # fmt: skip
        await db.commit()
        session_id = row.id

    # S3 unreachable: the outbox keeps the failure and when to try again.
    down = settings.model_copy(
        update={"s3": s3.model_copy(update={"endpoint": "http://127.0.0.1:1"})}
    )
    with pytest.raises(ArchiveError, match="S3 unreachable") as unreachable:
        await asyncio.to_thread(archive_session_job, down, session_id)
    assert unreachable.value.retryable
    async with world.db() as db:
        row = await db.get(ArchiveOutbox, session_id)
        assert row is not None and (row.state, row.attempts) == ("pending", 1)
        assert row.last_error and row.next_attempt_at
        assert session_id not in await due_for_archive(db, datetime.now(UTC))
        assert session_id in await due_for_archive(db, row.next_attempt_at)
    assert len(list(directory.rglob("*.opus"))) == 3  # nothing lost

    key = await asyncio.to_thread(archive_session_job, settings, session_id)
    assert key == f"2026/ninh-binh/{session_id}/manifest-r1.json"
    async with world.db() as db:
        row = await db.get(ArchiveOutbox, session_id)
        assert row is not None and (row.state, row.attempts, row.manifest_key) == ("done", 2, key)
        assert session_id not in await due_for_archive(db, datetime.now(UTC) + timedelta(days=1))
    # The index step still reads the files; the spool is pruned a day after archiving.
    assert len(list(directory.rglob("*.opus"))) == 3
    assert await asyncio.to_thread(prune_spools, settings, datetime.now(UTC)) == []
    later = datetime.now(UTC) + timedelta(days=1, minutes=1)
    assert session_id in await asyncio.to_thread(prune_spools, settings, later)
    assert list(directory.rglob("*")) == []  # the scratch files too
    assert await asyncio.to_thread(archive_session_job, settings, session_id) == key  # no-op
    async with world.db() as db:
        assert (await db.get(ReceptionSession, session_id)).status == SessionStatus.ARCHIVED  # type: ignore[union-attr]

    # The shared database holds other tests' sessions, archived elsewhere: counted, not this one.
    others = await asyncio.to_thread(verify_archive_job, settings)
    assert await verify_outcomes(world, session_id) == ["ok" if others == 0 else "mismatch"]
    client = make_s3_client(s3)
    client.put_object(unique_name, f"2026/ninh-binh/{session_id}/transcript.txt",
                      io.BytesIO(b"sua"), 3)  # fmt: skip
    assert await asyncio.to_thread(verify_archive_job, settings) == others + 1
    assert await verify_outcomes(world, session_id) == ["mismatch", "mismatch"]


async def verify_outcomes(world: World, session_id: int) -> list[str]:
    """The outcomes of the ``archive.verify`` audit rows about the session, then of the last
    run's summary."""
    async with world.db() as db:
        rows = await db.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "archive.verify",
                   AuditEntry.target.in_([f"session:{session_id}", "archive"]))
            .order_by(AuditEntry.id)
        )  # fmt: skip
        targets = [(e.target, e.outcome) for e in rows]
    summary = [outcome for target, outcome in targets if target == "archive"][-1]
    return [outcome for target, outcome in targets if target != "archive"] + [summary]


def test_changed_outputs_make_a_superseding_revision(s3_settings: Settings, tmp_path: Path) -> None:
    client = make_s3_client(s3_settings.s3)
    key = signing_key(s3_settings)
    place = SessionPlace(5, "ninh-binh", 2026)
    first = archive_directory(client, s3_settings.s3, key, place, session_dir(tmp_path, "v1"))
    # The pipeline reran: a corrected transcript and the minutes that failed the first time.
    redo = SessionSpool(tmp_path / "v2")
    redo.directory.mkdir()
    redo.transcript(".txt").write_text("Biên bản đã sửa\n")
    redo.minutes.write_bytes(b"PK-minutes")
    second = archive_directory(client, s3_settings.s3, key, place, redo.directory)
    assert (second.revision, second.supersedes) == (2, first.key)
    assert (second.previous_key, second.key) == (first.key, "2026/ninh-binh/5/manifest-r2.json")
    changed = {o.name: o.key for o in second.objects if o.key.startswith("2026/ninh-binh/5/r2/")}
    assert changed == {"transcript.txt": "2026/ninh-binh/5/r2/transcript.txt",
                       "minutes.docx": "2026/ninh-binh/5/r2/minutes.docx"}  # fmt: skip
    assert MINUTES not in second.missing and len(second.objects) == 7
    reports = verify_archive(client, s3_settings.s3.bucket, key.public_key())
    assert [(r.manifest_key, r.ok) for r in reports] == [(first.key, True), (second.key, True)]


def test_refuses_a_bucket_without_object_lock(s3_settings: Settings, tmp_path: Path) -> None:
    client = make_s3_client(s3_settings.s3)
    client.make_bucket(s3_settings.s3.bucket)
    directory = session_dir(tmp_path, "nolock")
    with pytest.raises(ArchiveError, match="without object lock") as refused:
        archive_directory(client, s3_settings.s3, signing_key(s3_settings),
                          SessionPlace(1, "tw", 2026), directory)  # fmt: skip
    assert not refused.value.retryable
    assert len(list(directory.rglob("*.opus"))) == 3  # nothing lost
    assert list(client.list_objects(s3_settings.s3.bucket, recursive=True)) == []


def test_two_sessions_of_a_province_archived_at_once_keep_one_chain(
    s3_settings: Settings, tmp_path: Path
) -> None:
    """Two workers finish uploading two sessions of one province at the same moment: the Redis
    chain lock has them link one after the other, never both to the same head (a fork)."""
    client = make_s3_client(s3_settings.s3)
    key = signing_key(s3_settings)
    both_uploaded = threading.Barrier(2)

    @contextmanager
    def race(lock: AbstractContextManager[object]) -> Iterator[None]:
        both_uploaded.wait(timeout=60)  # then both reach for the chain's head at once
        with lock:
            yield

    def archive(session_id: int) -> str:
        lock = province_chain_lock(s3_settings, "ninh-binh")
        return archive_directory(
            client, s3_settings.s3, key, SessionPlace(session_id, "ninh-binh", 2026),
            session_dir(tmp_path, f"s{session_id}"), chain_lock=race(lock),
        ).key  # fmt: skip

    with ThreadPoolExecutor(2) as pool:
        keys = set(pool.map(archive, (31, 32)))
    reports = verify_archive(
        client, s3_settings.s3.bucket, key.public_key(), province_code="ninh-binh"
    )
    assert {r.manifest_key for r in reports} == keys
    assert all(r.ok for r in reports), [r.problems for r in reports]
