"""Every Vietnamese label the pages, messages and minutes show for the system's vocabulary."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from media.grants import ParticipantKind
from orchestrator.core.vocabulary import RecorderState, Role, SessionKind, SessionStatus

ROLES: Mapping[Role, str] = MappingProxyType(
    {
        Role.ADMIN: "Quản trị viên",
        Role.OFFICER: "Cán bộ tiếp công dân",
        Role.CHAIR: "Chủ trì",
        Role.CENTRAL_OBSERVER: "Ban Tiếp công dân Trung ương",
        Role.ARCHIVIST: "Cán bộ lưu trữ",
    }
)
"""A user account's role."""

PARTICIPANTS: Mapping[str, str] = MappingProxyType(
    {
        ParticipantKind.CHAIR: "Chủ trì",
        ParticipantKind.OFFICER: "Cán bộ tiếp công dân",
        ParticipantKind.CITIZEN: "Công dân",
        ParticipantKind.CONNECTION_POINT: "Điểm cầu",
        ParticipantKind.CENTRAL_OBSERVER: "Ban Tiếp công dân Trung ương",
        ParticipantKind.BRIDGE: "Điểm cầu kết nối",
    }
)
"""Who a participant (a speaker of the transcript, an attendee of the minutes) was."""

SESSION_KINDS: Mapping[str, str] = MappingProxyType(
    {
        SessionKind.PERIODIC: "Định kỳ",
        SessionKind.REGULAR: "Thường xuyên",
        SessionKind.AD_HOC: "Đột xuất",
    }
)

STATUSES: Mapping[SessionStatus, str] = MappingProxyType(
    {
        SessionStatus.SCHEDULED: "đã lên lịch",
        SessionStatus.LIVE: "đang diễn ra",
        SessionStatus.ENDED: "đã kết thúc",
        SessionStatus.PROCESSING: "đang xử lý",
        SessionStatus.ARCHIVED: "đã lưu trữ",
        SessionStatus.CANCELLED: "đã hủy",
        SessionStatus.FAILED: "bị lỗi",
    }
)
"""A session's status, as a predicate: "Phiên tiếp này {status}"."""

RECORDER_STATES: Mapping[RecorderState, str] = MappingProxyType(
    {
        RecorderState.RECORDING: "● ĐANG GHI",
        RecorderState.NO_RECORDER: "KHÔNG GHI",
        RecorderState.COMPLETE: "ĐÃ GHI XONG",
    }
)
"""The recording badge of a session (the join page, the central dashboard)."""


def participant_label(kind: str) -> str:
    """The participant kind in Vietnamese (an unknown kind as it is)."""
    return PARTICIPANTS.get(kind, kind)
