"""The minutes (biên bản): what they say, built from the session's rows, and the .docx itself."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from docx import Document

from media.grants import ParticipantKind
from orchestrator.core.timezone import VN_TZ
from orchestrator.core.vocabulary import Tier
from orchestrator.db.models import (
    Agency,
    Attendance,
    ConnectionPoint,
    Invitation,
    ReceptionSession,
    User,
)
from orchestrator.pipeline.minutes_data import assemble_minutes
from transcription.merge import Speaker, Transcript, Utterance
from transcription.minutes import MinutesData, Turn, render_minutes, speaking_turns

CHAIR = Speaker("Lê Văn Chủ", "chair", "Ban TCD tỉnh Ninh Bình", "chair-1")
CITIZEN = Speaker("Trần Thị Bình", "citizen", "UBND xã Gia Viễn", "citizen-7")
OFFICER = Speaker("Nguyễn Văn An", "officer", "Ban TCD tỉnh Ninh Bình", "officer-2")
T0 = datetime(2026, 3, 15, 1, 30, tzinfo=UTC)  # 08:30 in Vietnam


def utt(start: float, end: float, speaker: Speaker, text: str) -> Utterance:
    return Utterance(start, end, speaker, text, (), f"TR_{speaker.identity}")


TRANSCRIPT = Transcript(
    "vi",
    (
        utt(3.0, 8.5, CHAIR, "Tôi tuyên bố khai mạc phiên tiếp công dân."),
        utt(9.0, 12.0, CHAIR, "Mời công dân trình bày."),
        utt(15.2, 40.0, CITIZEN, "Tôi xin trình bày việc bồi thường đất."),
        utt(38.0, 41.0, OFFICER, "Đề nghị bà nói rõ thửa đất."),
        utt(3725.5, 3730.0, CHAIR, "Kết thúc phiên."),
    ),
)


@pytest.mark.parametrize(
    ("utterances", "turns"),
    [
        pytest.param((), [], id="nobody spoke"),
        pytest.param(
            TRANSCRIPT.utterances[:2], [Turn(3.0, 12.0, CHAIR)], id="close utterances: one turn"
        ),
        pytest.param(
            (utt(0, 1, CHAIR, "a"), utt(7, 8, CHAIR, "b")),
            [Turn(0, 1, CHAIR), Turn(7, 8, CHAIR)],
            id="a long pause: two turns",
        ),
        pytest.param(
            TRANSCRIPT.utterances[2:4],
            [Turn(15.2, 40.0, CITIZEN), Turn(38.0, 41.0, OFFICER)],
            id="overlap: both speakers kept",
        ),
    ],
)
def test_speaking_turns(utterances: tuple[Utterance, ...], turns: list[Turn]) -> None:
    assert speaking_turns(Transcript("vi", utterances)) == turns


def session_rows() -> tuple[ReceptionSession, list[Invitation], list[Attendance]]:
    agency = Agency(id=2, name="Ban Tiếp công dân tỉnh Ninh Bình", tier=Tier.PROVINCE,
                    province_code="ninh-binh")  # fmt: skip
    session = ReceptionSession(
        id=7,
        title="Tiếp công dân định kỳ tháng 3",
        agency=agency,
        chair=User(display_name="Lê Văn Chủ"),
        starts_at=T0,
        connection_points=[
            ConnectionPoint(id=11, name="UBND xã Gia Viễn", tier=Tier.COMMUNE),
            ConnectionPoint(id=12, name="UBND xã Nho Quan", tier=Tier.COMMUNE),
        ],
    )
    invitations = [
        Invitation(identity="citizen-7", kind=ParticipantKind.CITIZEN, connection_point_id=11),
        Invitation(identity="chair-1", kind=ParticipantKind.CHAIR, connection_point_id=None),
    ]

    def stay(i: int, identity: str, name: str, joined: float, left: float | None) -> Attendance:
        return Attendance(
            id=i, identity=identity, participant_sid=f"PA_{i}", display_name=name,
            joined_at=T0 + timedelta(seconds=joined),
            left_at=None if left is None else T0 + timedelta(seconds=left),
        )  # fmt: skip

    stays = [
        stay(3, "citizen-7", "Trần Thị Bình", 10, 3000),
        stay(1, "chair-1", "Lê Văn Chủ", 0, 3800),
        stay(2, "recorder-7", "recorder", 0, 3801),
        stay(4, "officer-2", "Nguyễn Văn An", 5, None),
        stay(5, "citizen-7", "Trần Thị Bình", 3100, 3700),  # came back after a drop
    ]
    return session, invitations, stays


def test_minutes_data_groups_attendees_by_connection_point() -> None:
    session, invitations, stays = session_rows()
    data = assemble_minutes(
        session, province_name="Ninh Bình", clock_origin=T0 + timedelta(seconds=2),
        invitations=invitations, stays=stays, transcript=TRANSCRIPT,
    )  # fmt: skip
    points = {cp.name: [(a.name, a.role, a.joined, a.left) for a in cp.attendees]
              for cp in data.connection_points}  # fmt: skip
    vn = lambda s: (T0 + timedelta(seconds=s)).astimezone(VN_TZ)  # noqa: E731
    assert points == {
        "UBND xã Gia Viễn": [
            ("Trần Thị Bình", "Công dân", vn(10), vn(3000)),
            ("Trần Thị Bình", "Công dân", vn(3100), vn(3700)),
        ],
        "UBND xã Nho Quan": [],  # invited, nobody joined: still listed
        # No connection point on the invitation: the one the speech was recorded under.
        "Ban TCD tỉnh Ninh Bình": [
            ("Lê Văn Chủ", "Chủ trì", vn(0), vn(3800)),
            ("Nguyễn Văn An", "Cán bộ tiếp công dân", vn(5), None),
        ],
    }
    assert data.chair == "Lê Văn Chủ" and data.place == "Ninh Bình"
    assert data.starts_at == vn(2) and data.starts_at.hour == 8  # Vietnam time
    # The recorder is no attendee, and does not decide when the session ended.
    assert data.ends_at == vn(3800)
    assert data.cases == ()


def minutes(transcript: Transcript = TRANSCRIPT, cases: tuple[str, ...] = ()) -> MinutesData:
    session, invitations, stays = session_rows()
    data = assemble_minutes(
        session, province_name="Ninh Bình", clock_origin=T0, invitations=invitations,
        stays=stays, transcript=transcript,
    )  # fmt: skip
    return MinutesData(**{**vars(data), "cases": cases})


def document_text(docx: bytes) -> str:
    doc = Document(io.BytesIO(docx))
    cells = [
        p.text
        for table in doc.tables
        for row in table.rows
        for cell in row.cells
        for p in cell.paragraphs
    ]
    return "\n".join([p.text for p in doc.paragraphs] + cells)


def test_docx_reopens_with_heading_every_speaker_and_timestamp() -> None:
    text = document_text(render_minutes(minutes()))
    for expected in (
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "BIÊN BẢN",
        "Tiếp công dân định kỳ tháng 3",
        "Ninh Bình, ngày 15 tháng 03 năm 2026",
        "Bắt đầu: 08:30:00 15/03/2026",
        "Chủ trì: Lê Văn Chủ",
        "UBND xã Nho Quan",
        "NGƯỜI CHỦ TRÌ",
        "NGƯỜI GHI BIÊN BẢN",
        "PHỤ LỤC",
    ):
        assert expected in text
    for u in TRANSCRIPT.utterances:
        assert u.speaker.display_name in text
        assert u.text in text
    for stamp in ("[00:00:03]", "[00:00:09]", "[00:00:15]", "[00:00:38]", "[01:02:05]"):
        assert stamp in text
    assert "III. Nội dung vụ việc" not in text  # no case data: no empty section


def test_cases_have_their_section_when_there_are_any() -> None:
    text = document_text(render_minutes(minutes(cases=("Khiếu nại về bồi thường đất",))))
    assert "III. Nội dung vụ việc" in text and "Khiếu nại về bồi thường đất" in text
    assert "IV. Diễn biến" in text


def test_minutes_of_a_silent_session_say_so() -> None:
    text = document_text(render_minutes(minutes(Transcript("vi", ()))))
    assert "Không ghi nhận được lời phát biểu nào." in text


@pytest.mark.skipif(shutil.which("libreoffice") is None, reason="libreoffice is not installed")
def test_libreoffice_converts_the_minutes_to_pdf(tmp_path: Path) -> None:
    (tmp_path / "minutes.docx").write_bytes(render_minutes(minutes()))
    subprocess.run(
        ["libreoffice", "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path),
         str(tmp_path / "minutes.docx")],
        check=True, timeout=120, capture_output=True,
    )  # fmt: skip
    assert (tmp_path / "minutes.pdf").read_bytes().startswith(b"%PDF")
