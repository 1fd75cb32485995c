"""What the demo's reception session is about: the cast and the lines each one speaks.

A land-compensation complaint (khiếu nại về bồi thường đất đai) at the periodic reception of
Ninh Bình, with a commune connection point and one question from the central hall. The lines are
spoken by espeak-ng; the ones that carry "bồi thường" were chosen among phrasings that the
embedded *base* model still transcribes recognisably from espeak-ng's Vietnamese voice.
"""

from __future__ import annotations

from dataclasses import dataclass

PROVINCE_CODE = "ninh-binh"
PROVINCE_OFFICE = "Ban Tiếp công dân tỉnh Ninh Bình"
COMMUNE_POINT = "UBND xã Gia Viễn"
CENTRAL_HALL = "Ban Tiếp công dân Trung ương"
SESSION_TITLE = "Tiếp công dân định kỳ tháng 11 — tỉnh Ninh Bình"
SEARCH_QUERY = "boi thuong"


@dataclass(frozen=True)
class Line:
    """One thing said: who says it (a cast key) and the words."""

    speaker: str
    text: str


CHAIR, OFFICER, CITIZEN, CENTRAL = "chair", "officer", "citizen", "central"

SCRIPT: tuple[Line, ...] = (
    Line(CHAIR, "Kính chào các đại biểu. Phiên tiếp công dân định kỳ của tỉnh Ninh Bình bắt đầu."),
    Line(CITIZEN, "Tôi xin trình bày khiếu nại về việc thu hồi đất nông nghiệp của gia đình tôi."),
    Line(CITIZEN, "Gia đình tôi chưa nhận tiền bồi thường."),
    Line(CITIZEN, "Số tiền bồi thường là hai trăm triệu đồng."),
    Line(OFFICER, "Chúng tôi sẽ xem xét lại phương án bồi thường cho gia đình bà."),
    Line(CENTRAL, "Ban Tiếp công dân Trung ương đề nghị tỉnh báo cáo kết quả trong ba mươi ngày."),
    Line(CHAIR, "Phiên tiếp công dân kết thúc. Xin cảm ơn các đại biểu."),
)
"""The session, in order."""
