"""Integrity from capture to archive: every recorded file is checked against the size and
SHA-256 that the recorder wrote in ``recording.json`` before the pipeline reads any of it.

A file that differs (altered, truncated, replaced or gone) is an *integrity incident* of the
session: a row in ``integrity_incidents`` (shown by ``GET /sessions/{id}/processing`` and the
player page), a warning, an audit entry, and a line in the session's signed archive manifest
(``altered``, which ``tiepdan archive verify`` reports). The altered bytes are moved to
``incidents/<name>`` in the spool (:func:`storage.spool.incident_name`): the pipeline never
transcribes or mixes them, and the archive keeps them as evidence under ``incidents/``, never
under the recording's own name, so nothing signs them as the recording.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from media.manifest import RecordingManifest
from orchestrator.db.audit import audit
from orchestrator.db.incidents import recorded_incidents
from orchestrator.db.models import IntegrityIncident
from orchestrator.pipeline import progress
from storage.files import hash_file
from storage.records import AlteredFile
from storage.spool import SessionSpool, incident_name

log = logging.getLogger(__name__)


def altered_files(files: SessionSpool, manifest: RecordingManifest) -> list[AlteredFile]:
    """Every segment of ``manifest`` whose file is not what the recorder closed (blocking)."""
    found = []
    for track in (*manifest.tracks, *manifest.video_tracks):
        for segment in track.segments:
            path = files.directory / segment.path
            if path.is_file():
                sha256, size = hash_file(path)
                if (sha256, size) == (segment.sha256, segment.bytes):
                    continue
                archived_as: str | None = incident_name(segment.path)
            else:
                sha256, size, archived_as = None, None, None
            found.append(
                AlteredFile(segment.path, segment.sha256, segment.bytes, sha256, size, archived_as)
            )
    return found


async def archived_altered(db: AsyncSession, session_id: int) -> tuple[AlteredFile, ...]:
    """The incidents as the archive's manifest lists them."""
    return tuple(
        AlteredFile(
            i.path,
            i.expected_sha256,
            i.expected_bytes,
            i.found_sha256,
            i.found_bytes,
            i.archived_as,
        )  # fmt: skip
        for i in await recorded_incidents(db, session_id)
    )


async def _record(db: AsyncSession, session_id: int, found: Sequence[AlteredFile]) -> None:
    """Record each incident once (a redelivered job finds the file already moved aside)."""
    known = {i.path for i in await recorded_incidents(db, session_id)}
    new = [a for a in found if a.name not in known]
    now = datetime.now(UTC)
    for a in new:
        db.add(IntegrityIncident(
            session_id=session_id, path=a.name, expected_sha256=a.expected_sha256,
            expected_bytes=a.expected_size, found_sha256=a.found_sha256, found_bytes=a.found_size,
            archived_as=a.archived_as, detected_at=now,
        ))  # fmt: skip
        audit(db, action="recording.integrity", target=f"session:{session_id}",
              outcome="mismatch", file=a.name, expected_sha256=a.expected_sha256,
              expected_bytes=a.expected_size, found_sha256=a.found_sha256,
              found_bytes=a.found_size)  # fmt: skip
    if new:
        await progress.add_warnings(db, session_id, *(
            f"Tệp ghi {a.name} đã bị thay đổi sau khi ghi (kích thước hoặc SHA-256 khác "
            "recording.json): không dùng, không lưu trữ như bản ghi gốc." for a in new
        ))  # fmt: skip


def check_recording(session_id: int, files: SessionSpool, manifest: RecordingManifest) -> None:
    """Record every altered file of the recording as an incident and move it aside, before
    any step reads the recording."""
    found = altered_files(files, manifest)
    if not found:
        return
    log.error("session %s: %d recorded file(s) altered: %s", session_id, len(found),
              ", ".join(a.name for a in found))  # fmt: skip
    progress.run_db(lambda db: _record(db, session_id, found))
    for a in found:
        if a.archived_as is not None:
            target = files.directory / a.archived_as
            target.parent.mkdir(parents=True, exist_ok=True)
            (files.directory / a.name).replace(target)
