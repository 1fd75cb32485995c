"""Fault: recorded segment files altered in the spool before the pipeline reads them (3,000
random bytes written into one, another truncated to half), then the whole pipeline run by a
real worker. Each is an integrity incident, shown by the API, the player page and
``tiepdan archive verify``; the altered bytes are archived only under ``incidents/``, never
signed as the recording (before: processing ``done``, no warning, the altered files signed
under their new hashes, ``verify`` passed).

Also: ``archive verify --all`` lists a session the database says should be archived that has
no manifest (before: not listed at all, "0 with problems")."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid
from pathlib import Path

import aiohttp

from config import Settings
from media import RecordingManifest
from storage import make_s3_client
from storage.archive import ensure_bucket, latest_manifest, signing_key
from storage.files import hash_file
from storage.records import session_prefix
from storage.spool import SessionSpool
from tests.integration.conftest import World
from tests.integration.test_launch import eventually
from tests.integration.test_pipeline import (
    CHAIR,
    CITIZEN,
    TIEPDAN,
    ended_session,
    finished,
    session_ended,
    worker,
)


def archive_cli(settings: Settings, bucket: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``tiepdan archive ARGS`` against the test's database and ``bucket``."""
    env = {**os.environ, "TIEPDAN_DB__URL": settings.db.url, "TIEPDAN_S3__BUCKET": bucket,
           "TIEPDAN_PATHS__STATE_DIR": str(settings.paths.state_dir)}  # fmt: skip
    return subprocess.run([TIEPDAN, "archive", *args], env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def incident_name(name: str) -> str:
    """Where the archive keeps an altered recorded file (spelled out: the layout is what is
    checked here, as ``audio/`` is elsewhere)."""
    return f"incidents/{name}"


def alter(path: Path) -> None:
    """3,000 random bytes written into the middle of the file (its size unchanged)."""
    data = bytearray(path.read_bytes())
    start = len(data) // 2 - 1500
    assert start > 0
    data[start : start + 3000] = os.urandom(3000)
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    """The file cut to half its size."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


async def test_altered_segments_are_incidents_never_signed_as_the_recording(
    world: World, http: aiohttp.ClientSession, tmp_path: Path, unique_name: str
) -> None:
    spool = SessionSpool(tmp_path / "recording")
    session_id = await ended_session(world, spool.directory, [CHAIR, CITIZEN])
    recording = RecordingManifest.from_json(spool.manifest.read_text(encoding="utf-8"))
    by_identity = {t.participant_identity: t for t in recording.tracks}
    altered, truncated = by_identity["chair-1"].segments[0], by_identity["citizen-7"].segments[0]
    await asyncio.to_thread(alter, spool.directory / altered.path)
    await asyncio.to_thread(truncate, spool.directory / truncated.path)
    found = {s.path: hash_file(spool.directory / s.path) for s in (altered, truncated)}
    intact = [s for t in recording.tracks for s in t.segments if s not in (altered, truncated)]
    assert intact, "the recording keeps a segment that nobody touched"

    with worker(world.settings, tmp_path, f"integrity{uuid.uuid4().hex[:6]}",
                TIEPDAN_S3__BUCKET=unique_name):  # fmt: skip
        session_ended(world, session_id)
        body = await finished(world, http, session_id)

        async def archived() -> dict[str, object] | None:
            url = f"{world.base_url}/api/v1/sessions/{session_id}/processing"
            async with http.get(url, headers=world.headers("chair")) as r:
                now = await r.json()
            return now if now["session_status"] == "archived" else None

        after = await eventually(archived, timeout=120)
        assert after, "the session was not archived"

    # The API: an incident per file, with what recording.json says and what was found.
    assert body["state"] == "done_with_warnings", body
    incidents = {i["path"]: i for i in after["integrity_incidents"]}  # type: ignore[attr-defined]
    assert set(incidents) == {altered.path, truncated.path}
    for segment in (altered, truncated):
        incident = incidents[segment.path]
        assert (incident["expected_sha256"], incident["expected_bytes"]) == (
            segment.sha256, segment.bytes
        )  # fmt: skip
        assert (incident["found_sha256"], incident["found_bytes"]) == found[segment.path]
        assert incident["archived_as"] == incident_name(segment.path)
    assert sum("đã bị thay đổi" in w for w in body["warnings"]) == 2

    # The archive: the altered bytes only under incidents/, listed as such in the signed manifest.
    s3 = world.settings.s3.model_copy(update={"bucket": unique_name})
    key = signing_key(world.settings)
    prefix = session_prefix(recording.session_started_at.year, world.province_code, session_id)
    manifest = await asyncio.to_thread(
        latest_manifest, make_s3_client(s3), unique_name, key.public_key(), prefix
    )
    assert manifest is not None
    objects = {o.name: o for o in manifest.objects}
    for segment in (altered, truncated):
        assert segment.path not in objects, f"altered {segment.path} archived as the recording"
        kept = objects[incident_name(segment.path)]
        assert (kept.sha256, kept.size) == found[segment.path]
        assert kept.key == prefix + incident_name(segment.path)
    for segment in intact:
        assert objects[segment.path].sha256 == segment.sha256
    assert {a.name for a in manifest.altered} == {altered.path, truncated.path}

    # verify says what happened, for the session and for the whole archive.
    done = await asyncio.to_thread(archive_cli, world.settings, unique_name, "verify",
                                   "--session", str(session_id))  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout, done.stderr
    [report] = [json.loads(line) for line in done.stdout.splitlines()]
    assert not report["ok"]
    for segment in (altered, truncated):
        assert any(p.startswith(f"{segment.path}: integrity incident") for p in report["problems"])

    # The player page says it too.
    async with http.get(f"{world.base_url}/archive/sessions/{session_id}",
                        headers=world.headers("archivist")) as r:  # fmt: skip
        page = await r.text()
        assert r.status == 200
    assert "Sự cố toàn vẹn bản ghi" in page and altered.path in page and truncated.path in page


async def test_verify_all_lists_a_session_that_has_no_archive(
    world: World, tmp_path: Path, unique_name: str
) -> None:
    # Ended and recorded, its pipeline never ran (a worker killed, a lost job): no manifest.
    session_id = await ended_session(world, tmp_path / "recording", [CHAIR])
    s3 = world.settings.s3.model_copy(update={"bucket": unique_name})
    await asyncio.to_thread(ensure_bucket, make_s3_client(s3), unique_name)
    done = await asyncio.to_thread(archive_cli, world.settings, unique_name, "verify", "--all")
    reports = {r["session_id"]: r for r in map(json.loads, done.stdout.splitlines())}
    assert session_id in reports, done.stdout + done.stderr
    assert reports[session_id]["problems"] == ["no manifest in the archive"]
    assert done.returncode == 1
