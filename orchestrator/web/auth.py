"""Who is asking: password login with an encrypted cookie, CSRF tokens, and bearer API tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from aiohttp import web
from aiohttp.web_request import FileField
from aiohttp_session import Session, get_session, new_session
from aiohttp_session import setup as setup_sessions
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.fernet import Fernet
from multidict import MultiMapping
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from config import Settings
from orchestrator.core.credentials import token_digest
from orchestrator.core.errors import Forbidden, Unauthenticated
from orchestrator.db.models import ApiToken, User
from orchestrator.web.app_keys import DB, LOGIN_THROTTLE, SETTINGS
from orchestrator.web.login_throttle import LoginThrottle, forwarded_client

COOKIE = "tiepdan_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def setup_auth(app: web.Application, settings: Settings) -> None:
    """Encrypted, HTTP-only, SameSite=Lax session cookies keyed by the configured secret, and
    the sign-in throttle, open while the app runs."""
    key = hashlib.sha256(
        b"tiepdan-cookie:" + settings.security.secret_key.get_secret_value().encode()
    )
    setup_sessions(
        app,
        EncryptedCookieStorage(
            Fernet(base64.urlsafe_b64encode(key.digest())),
            cookie_name=COOKIE,
            httponly=True,
            samesite="Lax",
            secure=settings.web.secure_cookies,
            max_age=12 * 3600,
        ),
    )

    async def login_throttle(app: web.Application) -> AsyncIterator[None]:
        async with LoginThrottle.open(settings) as throttle:
            app[LOGIN_THROTTLE] = throttle
            yield

    app.cleanup_ctx.append(login_throttle)


def client_address(request: web.Request) -> str:
    """The client's address: the peer's, or behind a trusted reverse proxy the one it saw."""
    return forwarded_client(
        request.remote or "",
        request.headers.getall("X-Forwarded-For", []),
        request.app[SETTINGS].security.trusted_proxies,
    )


async def log_in(request: web.Request, user: User) -> str:
    """Start a fresh browser session for ``user`` (no fixation); return its CSRF token."""
    session = await new_session(request)
    session["user_id"] = user.id
    session[CSRF_FIELD] = secrets.token_urlsafe(24)
    return str(session[CSRF_FIELD])


async def log_out(request: web.Request) -> None:
    """End the browser session."""
    (await get_session(request)).invalidate()


def _csrf_matches(sent: str | None, session: Session) -> bool:
    expected = str(session.get(CSRF_FIELD, ""))
    return bool(sent) and bool(expected) and hmac.compare_digest(str(sent), expected)


async def form_has_csrf(
    request: web.Request, form: MultiMapping[str | bytes | bytearray | FileField]
) -> bool:
    """Whether a form posted without a user (the sign-in form) carries its session's CSRF token:
    without it, another site could sign a visitor in under an account of its choosing."""
    return _csrf_matches(str(form.get(CSRF_FIELD, "")), await get_session(request))


async def csrf_token(request: web.Request) -> str:
    """The session's CSRF token, created on first use (forms embed it)."""
    session = await get_session(request)
    if CSRF_FIELD not in session:
        session[CSRF_FIELD] = secrets.token_urlsafe(24)
    return str(session[CSRF_FIELD])


async def _user_by_id(db: AsyncSession, user_id: int) -> User | None:
    user = await db.get(User, user_id)
    return user if user is not None and user.active else None


async def authenticate(request: web.Request) -> User | None:
    """The user behind a bearer token or the session cookie, or None.

    Cookie-authenticated requests that change state must carry the session's CSRF token (form
    field or header); bearer requests need none, as browsers never add that header by themselves.
    """
    header = request.headers.get("Authorization", "")
    async with request.app[DB]() as db:
        if header.startswith("Bearer "):
            row = await db.scalar(
                select(ApiToken).where(
                    ApiToken.token_sha256 == token_digest(header[7:].strip()),
                    ApiToken.revoked_at.is_(None),
                )
            )
            user = await _user_by_id(db, row.user_id) if row else None
            if user is None:
                raise Unauthenticated("Mã truy cập API không hợp lệ hoặc đã bị thu hồi.")
            return user
        session = await get_session(request)
        if "user_id" not in session:
            return None
        user = await _user_by_id(db, int(session["user_id"]))
    if user is not None and request.method not in _SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER)
        if sent is None and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            sent = str((await request.post()).get(CSRF_FIELD, ""))
        if not _csrf_matches(sent, session):
            raise Forbidden("Thiếu hoặc sai mã chống giả mạo (CSRF). Hãy tải lại trang.")
    return user


def now_utc() -> datetime:
    """The current time, aware, UTC."""
    return datetime.now(UTC)
