"""Accounts over HTTP: sign-in and sign-out pages, users and reception offices (admins), and
``/me``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.accounts import service as svc
from orchestrator.accounts.schemas import (
    AgencyCreate,
    AgencyOut,
    MeOut,
    PasswordChange,
    UserCreate,
    UserOut,
    UserUpdate,
)
from orchestrator.accounts.sign_in import FORM_EXPIRED, local_path, lock_message
from orchestrator.core.credentials import verify_password
from orchestrator.core.errors import Forbidden, TooManyRequests
from orchestrator.core.permissions import Action, can
from orchestrator.db.audit import actor_of, audit
from orchestrator.db.models import (
    Agency,
    User,
)
from orchestrator.web.api import (
    Route,
    commit_audited,
    parse,
    path_int,
    reply,
    reply_rows,
    user_of,
)
from orchestrator.web.app_keys import DB, LOGIN_THROTTLE
from orchestrator.web.auth import (
    client_address,
    csrf_token,
    end_sessions,
    form_has_csrf,
    log_in,
    log_out,
)
from orchestrator.web.html import html_page
from orchestrator.web.login_throttle import MAX_NAME
from orchestrator.web.router import Page

B = TypeVar("B", bound=BaseModel)


def _admin(request: web.Request, action: Action) -> None:
    if not can(actor_of(user_of(request)), action):
        raise Forbidden("Chỉ quản trị viên được thực hiện thao tác này.")


async def _create(
    request: web.Request,
    action: Action,
    body_type: type[B],
    add: Callable[[AsyncSession, B], Awaitable[User | Agency]],
    kind: str,
    out: type[BaseModel],
) -> web.Response:
    """An admin's creation: parse ``body_type``, ``add`` the row, commit it audited as
    ``{kind}.create``, and answer it as ``out`` (201)."""
    _admin(request, action)
    body = await parse(request, body_type)
    async with request.app[DB]() as db:
        row = await add(db, body)
        await commit_audited(request, db, action=f"{kind}.create", target=f"{kind}:{row.id}")
        return reply(out.model_validate(row, from_attributes=True), status=201)


async def create_user(request: web.Request) -> web.Response:
    return await _create(request, Action.MANAGE_USERS, UserCreate, svc.add_user, "user", UserOut)


async def create_agency(request: web.Request) -> web.Response:
    return await _create(
        request, Action.MANAGE_AGENCIES, AgencyCreate, svc.add_agency, "agency", AgencyOut
    )


async def _commit_ending_sessions(
    request: web.Request, db: AsyncSession, user_id: int, *, action: str, **detail: object
) -> None:
    """Commit a change that must sign ``user_id`` out everywhere, audited. The sessions end
    before the commit (Redis out of reach: a 503 and nothing changed) and again after it (a
    sign-in between the two was checked against the old password or rights)."""
    await end_sessions(request.app, user_id)
    await commit_audited(request, db, action=action, target=f"user:{user_id}", **detail)
    await end_sessions(request.app, user_id)


async def update_user(request: web.Request) -> web.Response:
    """An admin changes a user's role, office, clearance or whether the account is active:
    every session of that user ends, so the next request is under the new rights or none."""
    _admin(request, Action.MANAGE_USERS)
    body = await parse(request, UserUpdate)
    async with request.app[DB]() as db:
        user, changed = await svc.update_user(db, path_int(request, "id"), body)
        if changed:
            await _commit_ending_sessions(request, db, user.id, action="user.update",
                                          fields=changed)  # fmt: skip
        return reply(UserOut.model_validate(user, from_attributes=True))


async def change_password(request: web.Request) -> web.Response:
    """The signed-in user's new password, proved by the current one (counted by the sign-in
    throttle like a sign-in: a stolen session must not become a way to guess the password).
    Every session of the user ends; they sign in again with the new password."""
    user = user_of(request)
    body = await parse(request, PasswordChange)
    address, throttle = client_address(request), request.app[LOGIN_THROTTLE]
    if refused := await throttle.admit(user.username, address):
        raise TooManyRequests(lock_message(refused))
    async with request.app[DB]() as db:
        ok = await svc.change_password(db, user.id, body.current_password, body.new_password)
        await throttle.settle(user.username, address, succeeded=ok)
        if not ok:
            await commit_audited(request, db, action="user.password", target=f"user:{user.id}",
                                 outcome="denied")  # fmt: skip
            raise Forbidden("Mật khẩu hiện tại không đúng.")
        await _commit_ending_sessions(request, db, user.id, action="user.password")
        return reply(UserOut.model_validate(user, from_attributes=True))


async def list_users(request: web.Request) -> web.Response:
    _admin(request, Action.MANAGE_USERS)
    async with request.app[DB]() as db:
        rows = await db.scalars(select(User).order_by(User.id))
        return reply_rows(UserOut, rows)


async def list_agencies(request: web.Request) -> web.Response:
    user_of(request)
    async with request.app[DB]() as db:
        rows = await db.scalars(select(Agency).order_by(Agency.id))
        return reply_rows(AgencyOut, rows)


async def me(request: web.Request) -> web.Response:
    """Who is signed in; cookie sessions also get the CSRF token for their X-CSRF-Token header."""
    user = user_of(request)
    bearer = request.headers.get("Authorization", "").startswith("Bearer ")
    return reply(
        MeOut(
            user=UserOut.model_validate(user, from_attributes=True),
            csrf_token=None if bearer else await csrf_token(request),
        )
    )


async def _login_form(
    request: web.Request, next_url: str, message: str = "", username: str = "", status: int = 200
) -> web.Response:
    return html_page(
        "login.html", status, next_url=next_url, csrf=await csrf_token(request),
        message=message, username=username,
    )  # fmt: skip


async def login_page(request: web.Request) -> web.Response:
    return await _login_form(request, local_path(request.query.get("next", "/")))


async def login(request: web.Request) -> web.Response:
    form = await request.post()
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    next_url, shown_name = local_path(str(form.get("next", "/"))), username[:MAX_NAME]
    if not await form_has_csrf(request, form):
        # The form was not ours (another site's, or one older than the session): a fresh one.
        return await _login_form(request, next_url, FORM_EXPIRED, shown_name, status=403)
    address, throttle = client_address(request), request.app[LOGIN_THROTTLE]
    if refused := await throttle.admit(username, address):
        response = await _login_form(request, next_url, lock_message(refused), shown_name, 429)
        response.headers["Retry-After"] = str(refused.retry_after_s)
        return response
    async with request.app[DB]() as db:
        user = await db.scalar(select(User).where(User.username == username, User.active))
    ok = await verify_password(user.password_hash if user else None, password)
    locks = await throttle.settle(username, address, succeeded=ok)
    async with request.app[DB]() as db:
        audit(db, action="login", target=f"username:{shown_name}",
              outcome="allowed" if ok else "denied", user=user if ok else None,
              remote=address)  # fmt: skip
        for lock in locks:
            audit(db, action="login.lock", target=f"{lock.scope}:{lock.key}", outcome="denied",
                  remote=address, limit=lock.limit, seconds=lock.retry_after_s)  # fmt: skip
        await db.commit()
    if not ok or user is None:
        message = " ".join(["Sai tên đăng nhập hoặc mật khẩu.", *map(lock_message, locks[:1])])
        return await _login_form(request, next_url, message, shown_name, status=401)
    await log_in(request, user)
    raise web.HTTPSeeOther(next_url)


async def logout(request: web.Request) -> web.Response:
    await log_out(request)
    raise web.HTTPSeeOther("/login")


ROUTES = [
    Route("GET", "/users", list_users, "All users (admin)", response=list[UserOut]),
    Route("POST", "/users", create_user, "Create a user (admin)", body=UserCreate,
          response=UserOut, status=201),
    Route("PATCH", "/users/{id}", update_user, "Change a user's rights (admin); ends their "
          "sessions", body=UserUpdate, response=UserOut),
    Route("GET", "/agencies", list_agencies, "Reception offices", response=list[AgencyOut]),
    Route("POST", "/agencies", create_agency, "Create a reception office (admin)",
          body=AgencyCreate, response=AgencyOut, status=201),
    Route("GET", "/me", me, "The signed-in user and the session's CSRF token", response=MeOut),
    Route("POST", "/me/password", change_password, "Change one's password; ends every session",
          body=PasswordChange, response=UserOut),
]  # fmt: skip

PAGES = [
    Page("GET", "/login", login_page),
    Page("POST", "/login", login),
    Page("POST", "/logout", logout),
]
