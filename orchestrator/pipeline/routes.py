"""``GET /api/v1/sessions/{id}/processing``: where the post-session pipeline is for a session."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel
from sqlalchemy import select

from orchestrator.core.vocabulary import SessionStatus
from orchestrator.db.audit import actor_of
from orchestrator.db.incidents import recorded_incidents
from orchestrator.db.models import ProcessingTrack, SessionProcessing
from orchestrator.scheduling import service as svc
from orchestrator.web.api import Route, reply, user_of
from orchestrator.web.api import path_int as _int
from orchestrator.web.app_keys import DB

NOT_STARTED = "not_started"


class TrackProcessingOut(BaseModel):
    """One speaker track's transcription."""

    track_sid: str
    identity: str
    display_name: str
    state: str  # pending | running | done | failed
    audio_s: float
    done_s: float
    reason: str | None  # why a failed track failed
    attempts: int


class IntegrityIncidentOut(BaseModel):
    """A recorded file found altered before the pipeline read it (``found_*`` null: missing).
    It was not transcribed nor archived as the recording; ``archived_as`` is where the altered
    bytes were archived instead, as evidence."""

    path: str
    expected_sha256: str
    expected_bytes: int
    found_sha256: str | None
    found_bytes: int | None
    archived_as: str | None
    detected_at: datetime


class ProcessingOut(BaseModel):
    """The pipeline's progress for one session.

    ``state``: ``not_started``, ``planned``, ``running``, ``done``, ``done_with_warnings``
    (processed with warnings: some track or file was left out, see ``warnings``) or ``failed``
    (see ``error``). ``percent``: share of the recorded audio handled (transcribed, or found
    unusable).
    """

    session_id: int
    session_status: SessionStatus
    state: str
    processed_with_warnings: bool
    steps_done: list[str]
    audio_s: float
    transcribed_s: float
    percent: float
    tracks: list[TrackProcessingOut]
    warnings: list[str]
    integrity_incidents: list[IntegrityIncidentOut]
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None


def _handled_s(track: ProcessingTrack) -> float:
    return track.audio_s if track.state == "failed" else min(track.done_s, track.audio_s)


async def get_processing(request: web.Request) -> web.Response:
    user = user_of(request)
    async with request.app[DB]() as db:
        session = await svc.get_session(db, actor_of(user), _int(request, "id"))
        row = await db.get(SessionProcessing, session.id)
        tracks = list(
            await db.scalars(
                select(ProcessingTrack)
                .where(ProcessingTrack.session_id == session.id)
                .order_by(ProcessingTrack.display_name, ProcessingTrack.track_sid)
            )
        )
        incidents = await recorded_incidents(db, session.id)
    audio_s = sum(t.audio_s for t in tracks)
    handled_s = sum(_handled_s(t) for t in tracks)
    state = row.state if row else NOT_STARTED
    return reply(
        ProcessingOut(
            session_id=session.id,
            session_status=session.status,
            state=state,
            processed_with_warnings=state == "done_with_warnings",
            steps_done=row.steps_done if row else [],
            audio_s=round(audio_s, 3),
            transcribed_s=round(sum(t.done_s for t in tracks if t.state != "failed"), 3),
            percent=round(100 * handled_s / audio_s, 1) if audio_s else (100.0 if row else 0.0),
            tracks=[TrackProcessingOut.model_validate(t, from_attributes=True) for t in tracks],
            warnings=row.warnings if row else [],
            integrity_incidents=[
                IntegrityIncidentOut.model_validate(i, from_attributes=True) for i in incidents
            ],
            error=row.error if row else None,
            started_at=row.started_at if row else None,
            finished_at=row.finished_at if row else None,
        )
    )


ROUTES = [
    Route("GET", "/sessions/{id}/processing", get_processing,
          "Post-session pipeline progress: steps, percent of audio, failed tracks, warnings",
          response=ProcessingOut),
]  # fmt: skip
