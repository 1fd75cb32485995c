"""A small archive of transcribed sessions for the search tests: four sessions in three places,
one of them restricted (a denunciation)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from orchestrator.core.vocabulary import SessionKind, SessionStatus
from orchestrator.db.models import ReceptionSession
from orchestrator.search import index_transcript
from transcription.merge import Speaker, Transcript, Utterance


@dataclass(frozen=True)
class CorpusSession:
    key: str
    agency: str  # key of the agency (central, ninh-binh, ha-noi, commune)
    kind: SessionKind
    starts: datetime
    case: str | None
    restricted: bool
    lines: tuple[tuple[float, str, str, str, str], ...]  # start, name, role, point, text


CORPUS = (
    CorpusSession(
        "nb_land",
        "ninh-binh",
        SessionKind.PERIODIC,
        datetime(2026, 3, 10, 1, 0, tzinfo=UTC),
        "khieu_nai",
        False,
        (
            (
                2.0,
                "Nguyễn Văn Đức",
                "citizen",
                "UBND xã Gia Viễn",
                "Tôi khiếu nại việc thu hồi đất và bồi thường đất ở Gia Viễn chưa thỏa đáng.",
            ),
            (
                9.5,
                "Phạm Quang Ngọc",
                "chair",
                "Ban Tiếp công dân tỉnh Ninh Bình",
                "Đề nghị sở tài nguyên kiểm tra lại hồ sơ bồi thường của ông Đức.",
            ),
            (
                16.0,
                "Lê Thị Mai",
                "officer",
                "Ban Tiếp công dân tỉnh Ninh Bình",
                "Ghi nhận ý kiến, việc đất đai sẽ được xem xét lại trong tháng.",
            ),
        ),
    ),
    CorpusSession(
        "hn_noise",
        "ha-noi",
        SessionKind.REGULAR,
        datetime(2026, 4, 5, 2, 0, tzinfo=UTC),
        "phan_anh",
        False,
        (
            (
                1.0,
                "Trần Thị Hoa",
                "citizen",
                "TP Hà Nội",
                "Tôi phản ánh tiếng ồn công trình ở Đà Nẵng và Hà Nội, "
                "đất nhà tôi không bị thu hồi.",
            ),
            (
                7.0,
                "Vũ Minh",
                "officer",
                "Ban Tiếp công dân TP Hà Nội",
                "Cong dan da gui don khieu nai truoc day, chung toi se tra loi.",
            ),
        ),
    ),
    CorpusSession(
        "commune_dyke",
        "commune",
        SessionKind.AD_HOC,
        datetime(2026, 5, 20, 3, 0, tzinfo=UTC),
        "kien_nghi",
        False,
        (
            (
                3.0,
                "Lê Văn Đông",
                "citizen",
                "UBND xã Gia Viễn",
                "Kiến nghị sửa đường đê ở xã, bồi thường cho dân bị ảnh hưởng.",
            ),
        ),
    ),
    CorpusSession(
        "nb_secret",
        "ninh-binh",
        SessionKind.PERIODIC,
        datetime(2026, 3, 15, 1, 0, tzinfo=UTC),
        "to_cao",
        True,
        (
            (
                4.0,
                "Người tố cáo",
                "citizen",
                "UBND xã Gia Viễn",
                "Tôi tố cáo cán bộ địa chính nhận hối lộ khi thu hồi đất ở Gia Viễn.",
            ),
        ),
    ),
)


def transcript_of(session: CorpusSession) -> Transcript:
    return Transcript(
        version=1,
        language="vi",
        utterances=tuple(
            Utterance(start, start + 5.0, Speaker(name, role, point, f"id-{i}"), text)
            for i, (start, name, role, point, text) in enumerate(session.lines)
        ),
    )


def archived_session(c: CorpusSession, agencies: dict[str, int]) -> ReceptionSession:
    """The (not yet indexed) session of corpus entry ``c``."""
    return ReceptionSession(
        title=f"Phiên tiếp công dân {c.key}", kind=c.kind, agency_id=agencies[c.agency],
        starts_at=c.starts, ends_at=c.starts + timedelta(hours=2),
        status=SessionStatus.ARCHIVED, restricted=c.restricted,
    )  # fmt: skip


async def seed_corpus(
    db_factory: async_sessionmaker[Any], agencies: dict[str, int]
) -> dict[str, int]:
    """Create and index the corpus' sessions; their ids by key."""
    ids: dict[str, int] = {}
    async with db_factory() as db:
        for c in CORPUS:
            session = archived_session(c, agencies)
            db.add(session)
            await db.flush()
            ids[c.key] = session.id
            await index_transcript(db, session.id, transcript_of(c), case_classification=c.case)
        await db.commit()
    return ids
