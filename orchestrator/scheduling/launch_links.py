"""Signed launch links: the personal link in a calendar event that opens one session occurrence.

A link is an HS256 JWT valid from shortly before the occurrence until its end, so a leaked link
is worth little. The time checks are done here against an explicit ``now`` rather than by PyJWT
against the clock: the page can then say *why* a link is refused and when it works, and tests
need no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import jwt

from config import Settings
from orchestrator.core.timezone import format_local, require_aware
from orchestrator.db.models import (
    ReceptionSession,
)

AUDIENCE = "tiepdan-launch"
_ALGORITHM = "HS256"
_REQUIRED = ("sub", "sid", "occ", "nbf", "exp", "iat", "aud")


class LinkProblem(StrEnum):
    """Why a launch link is refused."""

    FORGED = "forged"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    MALFORMED = "malformed"
    RESCHEDULED = "rescheduled"


class LaunchLinkError(Exception):
    """A launch link that does not open its session; ``str()`` is the message for the 403 page.

    Attributes:
        reason: what is wrong.
        message_vi: what to tell the user, in Vietnamese.
    """

    def __init__(self, reason: LinkProblem, message_vi: str) -> None:
        super().__init__(message_vi)
        self.reason = reason
        self.message_vi = message_vi


@dataclass(frozen=True)
class LaunchClaims:
    """What a launch link grants.

    Attributes:
        user_id: the only user the link is for.
        session_id: the session it opens.
        occurrence_start: the occurrence's start (aware; kept to the second).
    """

    user_id: int
    session_id: int
    occurrence_start: datetime


def _forged() -> LaunchLinkError:
    return LaunchLinkError(
        LinkProblem.FORGED,
        "Liên kết vào phiên không hợp lệ: chữ ký không đúng. "
        "Hãy dùng đúng liên kết trong lịch của bạn.",
    )


def _malformed() -> LaunchLinkError:
    return LaunchLinkError(
        LinkProblem.MALFORMED,
        "Liên kết vào phiên bị hỏng hoặc không đầy đủ. Hãy mở lại liên kết trong lịch của bạn.",
    )


def launch_window(
    start: datetime, end: datetime, opens_before: timedelta = timedelta(minutes=30)
) -> tuple[datetime, datetime]:
    """Return when a link for an occurrence from ``start`` to ``end`` works: ``(opens, closes)``.

    It opens ``opens_before`` the start, so the chair can check sound and picture, and closes at
    the end, so a rejoin after a dropped connection works until then.
    """
    return require_aware(start, "start") - opens_before, require_aware(end, "end")


def sign_launch_token(
    secret: str,
    claims: LaunchClaims,
    not_before: datetime,
    expires: datetime,
    *,
    issued_at: datetime | None = None,
) -> str:
    """Sign a launch link's token.

    Args:
        secret: the HMAC key (at least 32 bytes, or PyJWT warns).
        claims: what the link grants.
        not_before: when it starts to work (aware; see :func:`launch_window`).
        expires: when it stops working (aware).
        issued_at: when it is issued (aware); the clock if not given.

    Returns:
        The compact JWT.

    Raises:
        ValueError: a datetime is naive, or the window is empty.
    """
    if require_aware(expires, "expires") <= require_aware(not_before, "not_before"):
        raise ValueError("expires must be after not_before")
    issued = datetime.now(UTC) if issued_at is None else require_aware(issued_at, "issued_at")
    payload = {
        "sub": str(claims.user_id),
        "sid": claims.session_id,
        "occ": _seconds(require_aware(claims.occurrence_start, "occurrence_start")),
        "nbf": _seconds(not_before),
        "exp": _seconds(expires),
        "iat": _seconds(issued),
        "aud": AUDIENCE,
    }
    # The header's typ keeps any other token signed with the same secret from passing as a link.
    return jwt.encode(payload, secret, algorithm=_ALGORITHM, headers={"typ": AUDIENCE})


def verify_launch_token(secret: str, token: str, now: datetime) -> LaunchClaims:
    """Check a launch link's token and return what it grants.

    Args:
        secret: the HMAC key it was signed with.
        token: the token from the link.
        now: the current time (aware).

    Returns:
        The claims, if the signature is ours and ``not_before <= now < expires``.

    Raises:
        LaunchLinkError: the token is malformed, forged, not valid yet or expired; its
            ``message_vi`` says which, with the times in Vietnamese time.
    """
    current = _seconds(require_aware(now, "now"))
    try:
        decoded = jwt.decode_complete(
            token,
            secret,
            algorithms=[_ALGORITHM],
            audience=AUDIENCE,
            leeway=0,
            # Time is checked below against `now`, not the clock; everything else PyJWT checks.
            options={
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "require": list(_REQUIRED),
            },
        )
    except (jwt.InvalidSignatureError, jwt.InvalidAlgorithmError) as e:
        # Another algorithm (alg=none included) is never ours: someone made this token.
        raise _forged() from e
    except jwt.InvalidTokenError as e:
        raise _malformed() from e
    payload: dict[str, Any] = decoded["payload"]
    if decoded["header"].get("typ") != AUDIENCE or not _well_typed(payload):
        raise _malformed()
    claims = LaunchClaims(
        user_id=int(payload["sub"]),
        session_id=payload["sid"],
        occurrence_start=datetime.fromtimestamp(payload["occ"], UTC),
    )
    if current < payload["nbf"]:
        opens = datetime.fromtimestamp(payload["nbf"], UTC)
        minutes = round((claims.occurrence_start - opens) / timedelta(minutes=1))
        raise LaunchLinkError(
            LinkProblem.NOT_YET_VALID,
            f"Liên kết chỉ dùng được từ {format_local(opens)} ({minutes} phút trước giờ bắt đầu).",
        )
    if current >= payload["exp"]:
        closed = datetime.fromtimestamp(payload["exp"], UTC)
        raise LaunchLinkError(
            LinkProblem.EXPIRED,
            f"Liên kết vào phiên đã hết hạn: phiên tiếp đã kết thúc lúc {format_local(closed)}.",
        )
    return claims


def require_current_occurrence(claims: LaunchClaims, starts_at: datetime) -> None:
    """Check that a link is for the session's occurrence as it stands now.

    A link names the start of the occurrence it was issued for; once the session is moved, the
    link of the old time must not open it (the calendar feed carries the new time's link).

    Args:
        claims: what the verified link grants.
        starts_at: the session's current start (aware).

    Raises:
        LaunchLinkError: the session now starts at another time; the message says when.
    """
    if _seconds(claims.occurrence_start) != _seconds(require_aware(starts_at, "starts_at")):
        raise LaunchLinkError(
            LinkProblem.RESCHEDULED,
            f"Phiên tiếp đã được dời sang {format_local(starts_at)}; liên kết này là của giờ cũ "
            f"({format_local(claims.occurrence_start)}). Hãy dùng liên kết mới trong lịch của "
            "bạn sau khi lịch cập nhật.",
        )


def _seconds(value: datetime) -> int:
    return int(value.timestamp())


def _well_typed(payload: dict[str, Any]) -> bool:
    # Only our own signed tokens get here, but a shape change between versions must not 500.
    sub = payload["sub"]
    return (
        isinstance(sub, str)
        and sub.isascii()
        and sub.isdecimal()
        and all(type(payload[k]) is int for k in ("sid", "occ", "nbf", "exp", "iat"))
    )


def launch_url(settings: Settings, user_id: int, session: ReceptionSession) -> str:
    """The user's personal launch link for one session occurrence."""
    secret = settings.security.secret_key.get_secret_value()
    opens, closes = launch_window(
        session.starts_at,
        session.ends_at,
        opens_before=timedelta(minutes=settings.web.launch_opens_before_min),
    )
    # Issued "at" the window's opening, so the same occurrence always gets the same URL and
    # calendar apps do not see a change on every refresh.
    token = sign_launch_token(
        secret, LaunchClaims(user_id, session.id, session.starts_at), opens, closes,
        issued_at=opens,
    )  # fmt: skip
    return f"{settings.web.public_url.rstrip('/')}/launch/{token}"
