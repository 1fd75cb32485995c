"""Write one session's transcript into the search index (both backends: the FTS5 triggers or the
generated tsvector columns follow the rows)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.core.errors import NotFound
from orchestrator.db.models import (
    Agency,
    Province,
    ReceptionSession,
    RecordingRequest,
    TranscriptUtterance,
)
from orchestrator.search.folding import fold
from orchestrator.search.keys import search_key
from orchestrator.search.numbers import indexed_tokens
from storage.spool import SessionSpool
from transcription.confidence import unsure_spans
from transcription.formats import from_json
from transcription.merge import Transcript

__all__ = ["CASE_CLASSIFICATIONS", "index_session", "index_transcript", "transcript_path"]

log = logging.getLogger(__name__)

CASE_CLASSIFICATIONS = {
    "khieu_nai": "Khiếu nại",
    "to_cao": "Tố cáo",
    "kien_nghi": "Kiến nghị",
    "phan_anh": "Phản ánh",
}
"""Case classifications (form 03 of Circular 04/2021/TT-TTCP), by the code the index stores."""


async def index_transcript(
    db: AsyncSession,
    session_id: int,
    transcript: Transcript,
    *,
    case_classification: str | None = None,
) -> int:
    """Replace the indexed utterances of one session with ``transcript``'s (in ``db``'s
    transaction; the caller commits). Idempotent: indexing twice leaves one copy.

    Returns:
        The number of utterances indexed.

    Raises:
        NotFound: no such session.
        ValueError: an unknown case classification.
        orchestrator.search.keys.KeyRangeError: a session the search key cannot hold (started
            before 2000, or over 65,536 utterances).
    """
    if case_classification is not None and case_classification not in CASE_CLASSIFICATIONS:
        raise ValueError(f"unknown case classification {case_classification!r}")
    session = await db.get(ReceptionSession, session_id)
    if session is None:
        raise NotFound(f"Không có phiên tiếp mã {session_id}.")
    agency = await db.get(Agency, session.agency_id)
    assert agency is not None  # a foreign key
    province = await db.get(Province, agency.province_code)
    assert province is not None  # a foreign key
    if case_classification is None:
        # Re-indexing (the pipeline run again) keeps a classification given earlier.
        case_classification = await db.scalar(
            select(TranscriptUtterance.case_classification)
            .where(TranscriptUtterance.session_id == session_id).limit(1)
        )  # fmt: skip
    await db.execute(
        delete(TranscriptUtterance).where(TranscriptUtterance.session_id == session_id)
    )
    rows = [
        TranscriptUtterance(
            session_id=session_id,
            seq=seq,
            start_s=u.start,
            end_s=u.end,
            speaker_name=u.speaker.display_name[:200],
            speaker_folded=fold(u.speaker.display_name)[:200],
            speaker_role=u.speaker.role[:32],
            connection_point=u.speaker.connection_point[:200],
            text=u.text,
            text_folded=indexed_tokens(u.text, exact=False),
            text_exact=indexed_tokens(u.text, exact=True),
            unsure=[list(span) for span in unsure_spans(u)],
            province_code=agency.province_code,
            agency_id=session.agency_id,
            session_start=session.starts_at,
            session_kind=session.kind.value,
            case_classification=case_classification,
            restricted=session.restricted,
            search_key=search_key(session.starts_at, province.gso_code, session_id, seq),
        )
        for seq, u in enumerate(transcript.utterances)
        if u.text.strip()
    ]
    db.add_all(rows)
    await db.flush()
    log.info("indexed %d utterances", len(rows), extra={"session_id": session_id})
    return len(rows)


async def transcript_path(db: AsyncSession, session_id: int) -> Path:
    """Where the pipeline wrote the session's ``transcript.json``: beside ``recording.json``.

    Raises:
        NotFound: the session has no finished recording.
    """
    manifest = await db.scalar(
        select(RecordingRequest.manifest_path).where(RecordingRequest.session_id == session_id)
    )
    if not manifest:
        raise NotFound(f"Phiên tiếp mã {session_id} chưa có bản ghi âm hoàn tất.")
    return SessionSpool.of_manifest(manifest).transcript(".json")


async def index_session(
    db: AsyncSession, session_id: int, *, case_classification: str | None = None
) -> int:
    """Index the session's ``transcript.json`` and commit.

    Raises:
        NotFound: no session, no recording, or no transcript yet.
        transcription.errors.TranscriptFormatError: the file is not a transcript.
    """
    path = await transcript_path(db, session_id)
    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8")  # off the event loop
    except (FileNotFoundError, IsADirectoryError) as e:
        msg = f"Chưa có bản ghi lời (transcript.json) của phiên {session_id}: {path}"
        raise NotFound(msg) from e
    transcript = from_json(text)
    count = await index_transcript(
        db, session_id, transcript, case_classification=case_classification
    )
    await db.commit()
    return count
