"""The draft minutes (biên bản) of a session as a Word document, in Vietnamese.

:class:`MinutesData` holds everything the minutes say (the worker builds it from the database);
:func:`render_minutes` lays it out in the shape of an official biên bản: the national heading,
the title, time, connection points, chair and attendees, the cases (when there are any), a
timeline of who spoke when, signature blocks, and the full transcript as an appendix. Officers
edit the draft, so it is plain paragraphs and tables that Word and LibreOffice open alike.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt

from transcription.formats import _clock
from transcription.merge import Speaker, Transcript

TURN_JOIN_GAP_S: Final = 5.0
"""A speaker's utterances closer than this are one turn in the timeline."""


@dataclass(frozen=True)
class Attendee:
    """One participant's stay at a connection point.

    Attributes:
        name: display name.
        role: who they were, as the minutes show it (``Chủ trì``, ``Công dân``, ...).
        joined: when they joined (Vietnam time), if known.
        left: when they left (Vietnam time), if known.
    """

    name: str
    role: str
    joined: datetime | None = None
    left: datetime | None = None


@dataclass(frozen=True)
class ConnectionPointAttendance:
    """A connection point (điểm cầu) and who attended from it."""

    name: str
    attendees: tuple[Attendee, ...] = ()


@dataclass(frozen=True)
class MinutesData:
    """Everything the minutes of one session say.

    Attributes:
        title: the session's title.
        agency: the reception office holding it.
        place: where the minutes are made (the province's name).
        starts_at: when the session started (Vietnam time); the session clock's origin.
        ends_at: when it ended (Vietnam time), if known.
        chair: the chair's name ("" when none was set).
        connection_points: attendance per connection point.
        cases: the cases discussed, one line each (empty when there is no case data).
        transcript: the merged transcript; times are seconds after ``starts_at``.
    """

    title: str
    agency: str
    place: str
    starts_at: datetime
    ends_at: datetime | None
    chair: str
    connection_points: tuple[ConnectionPointAttendance, ...]
    cases: tuple[str, ...]
    transcript: Transcript


@dataclass(frozen=True)
class Turn:
    """One speaker's stretch of talk in the timeline (seconds on the session clock)."""

    start: float
    end: float
    speaker: Speaker


def speaking_turns(transcript: Transcript, join_gap_s: float = TURN_JOIN_GAP_S) -> list[Turn]:
    """Who spoke when: consecutive utterances of one speaker, close together, as one turn."""
    turns: list[Turn] = []
    for u in transcript.utterances:
        last = turns[-1] if turns else None
        if last and last.speaker == u.speaker and u.start - last.end <= join_gap_s:
            turns[-1] = Turn(last.start, max(last.end, u.end), last.speaker)
        else:
            turns.append(Turn(u.start, u.end, u.speaker))
    return turns


def _when(at: datetime | None) -> str:
    return at.strftime("%H:%M:%S %d/%m/%Y") if at else "—"


def _date_line(place: str, at: datetime) -> str:
    return f"{place}, ngày {at.day:02d} tháng {at.month:02d} năm {at.year}"


def _centered(doc: DocxDocument, text: str, *, bold: bool = False, size: int | None = None) -> None:
    paragraph = doc.add_paragraph()
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = paragraph.add_run(text)
    run.bold = bold
    if size:
        run.font.size = Pt(size)


def _table(doc: DocxDocument, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = ""
        cell.paragraphs[0].add_run(text).bold = True
    for row in rows:
        for cell, text in zip(table.add_row().cells, row, strict=True):
            cell.text = text


def _heading(doc: DocxDocument, data: MinutesData) -> None:
    table = doc.add_table(rows=1, cols=2)
    left, right = table.rows[0].cells
    left.text = data.agency.upper()
    left.add_paragraph("Số: ......../BB-TCD")
    right.text = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
    right.paragraphs[0].runs[0].bold = True
    right.add_paragraph("Độc lập - Tự do - Hạnh phúc").runs[0].bold = True
    right.add_paragraph(_date_line(data.place, data.starts_at)).runs[0].italic = True
    for cell in (left, right):
        for paragraph in cell.paragraphs:
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER


def render_minutes(data: MinutesData) -> bytes:
    """The minutes as a ``.docx`` file's bytes (no I/O: the caller stores them)."""
    doc = Document()
    doc.styles["Normal"].font.name = "Times New Roman"
    doc.styles["Normal"].font.size = Pt(13)
    _heading(doc, data)
    _centered(doc, "BIÊN BẢN", bold=True, size=15)
    _centered(doc, f"Phiên tiếp công dân trực tuyến: {data.title}", bold=True)
    _centered(doc, "(Bản dự thảo tạo tự động từ bản ghi âm, cán bộ rà soát và chỉnh sửa)")

    doc.add_heading("I. Thời gian", level=2)
    doc.add_paragraph(f"Bắt đầu: {_when(data.starts_at)}")
    doc.add_paragraph(f"Kết thúc: {_when(data.ends_at)}")

    doc.add_heading("II. Thành phần", level=2)
    doc.add_paragraph(f"Chủ trì: {data.chair or '—'}")
    doc.add_paragraph(f"Cơ quan tổ chức: {data.agency}")
    doc.add_paragraph(
        "Các điểm cầu: " + (", ".join(cp.name for cp in data.connection_points) or "—")
    )
    for cp in data.connection_points:
        doc.add_paragraph(f"Điểm cầu {cp.name}:").runs[0].bold = True
        _table(
            doc,
            ("Họ và tên", "Vai trò", "Vào lúc", "Rời lúc"),
            [(a.name, a.role, _when(a.joined), _when(a.left)) for a in cp.attendees],
        )

    section = 3
    if data.cases:
        doc.add_heading("III. Nội dung vụ việc", level=2)
        for case in data.cases:
            doc.add_paragraph(case, style="List Number")
        section += 1
    numerals = ("", "I", "II", "III", "IV", "V", "VI")

    doc.add_heading(f"{numerals[section]}. Diễn biến phiên tiếp (ai phát biểu, khi nào)", level=2)
    turns = speaking_turns(data.transcript)
    if turns:
        _table(
            doc,
            ("Từ", "Đến", "Người phát biểu", "Điểm cầu"),
            [
                (_clock(t.start, None), _clock(t.end, None), t.speaker.display_name,
                 t.speaker.connection_point)
                for t in turns
            ],
        )  # fmt: skip
    else:
        doc.add_paragraph("Không ghi nhận được lời phát biểu nào.")

    doc.add_heading(f"{numerals[section + 1]}. Ý kiến kết luận", level=2)
    doc.add_paragraph("." * 120)
    doc.add_paragraph(
        "Biên bản được lập xong vào lúc ...... giờ ...... phút cùng ngày, đã đọc lại cho "
        "những người có tên trên cùng nghe và thống nhất ký tên."
    )
    signatures = doc.add_table(rows=1, cols=2)
    for cell, (who, name) in zip(
        signatures.rows[0].cells,
        (("NGƯỜI GHI BIÊN BẢN", ""), ("NGƯỜI CHỦ TRÌ", data.chair)),
        strict=True,
    ):
        cell.text = who
        cell.paragraphs[0].runs[0].bold = True
        cell.add_paragraph("(Ký, ghi rõ họ tên)").runs[0].italic = True
        cell.add_paragraph("\n\n")
        cell.add_paragraph(name)
        for paragraph in cell.paragraphs:
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER

    doc.add_page_break()  # type: ignore[no-untyped-call]
    _centered(doc, "PHỤ LỤC: TOÀN VĂN GHI CHÉP PHIÊN TIẾP", bold=True)
    _centered(doc, f"(thời điểm tính từ lúc bắt đầu phiên, {_when(data.starts_at)})")
    for u in data.transcript.utterances:
        paragraph = doc.add_paragraph()
        paragraph.add_run(f"[{_clock(u.start, None)}] ").bold = True
        where = f" ({u.speaker.connection_point})" if u.speaker.connection_point else ""
        paragraph.add_run(f"{u.speaker.display_name}{where}: ").bold = True
        paragraph.add_run(u.text)
    if not data.transcript.utterances:
        doc.add_paragraph("(Không có lời phát biểu nào được nhận dạng.)")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
