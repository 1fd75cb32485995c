"""Who is asking: password login with a server-side session, CSRF tokens, and bearer API
tokens."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_request import FileField
from aiohttp_session import Session, get_session, new_session
from aiohttp_session import setup as setup_sessions
from multidict import MultiMapping
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from config import Settings
from orchestrator.core.credentials import token_digest
from orchestrator.core.errors import Forbidden, Unauthenticated
from orchestrator.db.models import ApiToken, User
from orchestrator.web.app_keys import DB, LOGIN_THROTTLE, SESSIONS, SETTINGS
from orchestrator.web.login_throttle import LoginThrottle, forwarded_client
from orchestrator.web.sessions import USER_ID, SessionStore

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def setup_auth(app: web.Application, settings: Settings) -> None:
    """Server-side sessions behind HTTP-only, SameSite=Lax cookies, and the sign-in throttle,
    both on the broker's Redis and open while the app runs."""
    store = SessionStore(settings)
    setup_sessions(app, store)

    async def redis_clients(app: web.Application) -> AsyncIterator[None]:
        app[SESSIONS] = store
        try:
            async with LoginThrottle.open(settings) as throttle:
                app[LOGIN_THROTTLE] = throttle
                yield
        finally:
            await store.aclose()

    app.cleanup_ctx.append(redis_clients)


def client_address(request: web.Request) -> str:
    """The client's address: the peer's, or behind a trusted reverse proxy the one it saw."""
    return forwarded_client(
        request.remote or "",
        request.headers.getall("X-Forwarded-For", []),
        request.app[SETTINGS].security.trusted_proxies,
    )


async def log_in(request: web.Request, user: User) -> str:
    """Start a browser session for ``user`` under a new id, the one it replaces deleted (no
    fixation: an id planted before sign-in never becomes a signed-in one); its CSRF token."""
    await request.app[SESSIONS].discard(await get_session(request))
    session = await new_session(request)
    session[USER_ID] = user.id
    session[CSRF_FIELD] = secrets.token_urlsafe(24)
    return str(session[CSRF_FIELD])


async def log_out(request: web.Request) -> None:
    """Sign out everywhere: every session of the signed-in user ends, this one included."""
    session = await get_session(request)
    if USER_ID in session:
        await end_sessions(request.app, int(session[USER_ID]))
    session.invalidate()


async def end_sessions(app: web.Application, user_id: int) -> None:
    """End every browser session of ``user_id`` at once (their bearer tokens are not sessions)."""
    await app[SESSIONS].end_all(user_id)


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
        if USER_ID not in session:
            return None
        user = await _user_by_id(db, int(session[USER_ID]))
    if user is not None and request.method not in _SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER)
        if sent is None and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            try:
                sent = str((await request.post()).get(CSRF_FIELD, ""))
            except (ValueError, HttpProcessingError):  # an unreadable form carries no token
                sent = None
        if not _csrf_matches(sent, session):
            raise Forbidden("Thiếu hoặc sai mã chống giả mạo (CSRF). Hãy tải lại trang.")
    return user


def now_utc() -> datetime:
    """The current time, aware, UTC."""
    return datetime.now(UTC)
