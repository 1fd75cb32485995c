"""What a session's record knows that its speakers are likely to say, for the decoder."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.models import Invitation, ReceptionSession, TranscriptUtterance
from orchestrator.search.indexer import CASE_CLASSIFICATIONS
from transcription.glossary import SessionVocabulary


async def session_vocabulary(db: AsyncSession, session_id: int) -> SessionVocabulary | None:
    """The session's title, agency, province, connection points, chair and invited names, and
    its case classification when one was given (a re-run keeps the indexed one); None if there
    is no such session."""
    session = await db.get(ReceptionSession, session_id)
    if session is None:
        return None
    invited = await db.scalars(
        select(Invitation.display_name)
        .where(Invitation.session_id == session_id)
        .order_by(Invitation.id)
    )
    classification = await db.scalar(
        select(TranscriptUtterance.case_classification)
        .where(TranscriptUtterance.session_id == session_id)
        .limit(1)
    )
    chair = [session.chair.display_name] if session.chair is not None else []
    return SessionVocabulary(
        title=session.title,
        agency=session.agency.name,
        province=session.agency.province.name,
        places=tuple(cp.name for cp in session.connection_points),
        people=(*chair, *invited),
        case_classification=CASE_CLASSIFICATIONS.get(classification or "", ""),
    )
