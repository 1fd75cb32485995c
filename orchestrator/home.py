"""``/``: the signed-in user's start page: their sessions live now, coming and ended, with the
action each allows (join, open by launch link, play back), the tools their role has, and their
calendar feed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiohttp import web
from sqlalchemy import select

from orchestrator.core.labels import ROLES, STATUSES
from orchestrator.core.permissions import Action, can, may_join
from orchestrator.core.timezone import format_local
from orchestrator.core.vocabulary import Role, SessionStatus
from orchestrator.db.audit import actor_of
from orchestrator.db.models import Invitation, ReceptionSession, User
from orchestrator.scheduling import service as svc
from orchestrator.scheduling.launch_links import launch_url, launch_window
from orchestrator.web.app_keys import DB, SETTINGS, USER
from orchestrator.web.auth import csrf_token
from orchestrator.web.html import html_page
from orchestrator.web.router import Page

# How many sessions each list shows, and how far ahead "coming" looks.
LIST_LIMIT = 10
AHEAD = timedelta(days=62)
_ENDED = (SessionStatus.ENDED, SessionStatus.PROCESSING, SessionStatus.ARCHIVED,
          SessionStatus.FAILED)  # fmt: skip


@dataclass(frozen=True)
class SessionRow:
    """One session as the start page lists it; an empty URL is an action not allowed."""

    title: str
    agency: str
    starts: str
    status: str
    join_url: str = ""
    launch_url: str = ""
    opens: str = ""
    player_url: str = ""


def _tools(user: User) -> list[tuple[str, str]]:
    actor = actor_of(user)
    tools = []
    if user.role in (Role.CENTRAL_OBSERVER, Role.ADMIN):
        tools.append(("/central", "Theo dõi các phiên đang diễn ra"))
    if can(actor, Action.SEARCH_ARCHIVE):
        tools.append(("/archive/search", "Tìm kiếm kho lưu trữ"))
    return tools


async def home(request: web.Request) -> web.Response:
    user: User | None = request[USER]
    if user is None:
        raise web.HTTPSeeOther("/login?next=/")
    settings = request.app[SETTINGS]
    actor = actor_of(user)
    now = datetime.now(UTC)
    query = svc.user_sessions_query(user)
    async with request.app[DB]() as db:
        invited = set(
            await db.scalars(select(Invitation.session_id).where(Invitation.user_id == user.id))
        )
        live = list(await db.scalars(query.where(ReceptionSession.status == SessionStatus.LIVE)))
        upcoming = list(
            await db.scalars(
                query.where(
                    ReceptionSession.status == SessionStatus.SCHEDULED,
                    ReceptionSession.ends_at > now,
                    ReceptionSession.starts_at < now + AHEAD,
                ).limit(LIST_LIMIT)
            )
        )
        recent = list(
            await db.scalars(
                query.where(ReceptionSession.status.in_(_ENDED))
                .order_by(None).order_by(ReceptionSession.starts_at.desc())
                .limit(LIST_LIMIT)
            )
        )  # fmt: skip

    def row(s: ReceptionSession) -> SessionRow | None:
        scope = svc.scope_of(s)
        if not (s.id in invited or can(actor, Action.VIEW_SESSION, scope)):
            return None
        opens, _closes = launch_window(
            s.starts_at, s.ends_at,
            opens_before=timedelta(minutes=settings.web.launch_opens_before_min),
        )  # fmt: skip
        playable = s.status is SessionStatus.ARCHIVED and can(actor, Action.PLAY_RECORDING, scope)
        return SessionRow(
            title=s.title, agency=s.agency.name, starts=format_local(s.starts_at),
            status=STATUSES[s.status],
            join_url=f"/sessions/{s.id}/join"
            if s.status is SessionStatus.LIVE and may_join(actor, scope, s.id in invited) else "",
            launch_url=launch_url(settings, user.id, s)
            if s.status is SessionStatus.SCHEDULED and can(actor, Action.LAUNCH_SESSION, scope)
            else "",
            opens=format_local(opens),
            player_url=f"/archive/sessions/{s.id}" if playable else "",
        )  # fmt: skip

    def rows(found: list[ReceptionSession]) -> list[SessionRow]:
        return [r for r in map(row, found) if r is not None]

    return html_page(
        "home.html", user=user, role=ROLES[user.role], csrf=await csrf_token(request),
        tools=_tools(user), live=rows(live), upcoming=rows(upcoming), recent=rows(recent),
        feed_url=f"{settings.web.public_url.rstrip('/')}/calendar/{user.feed_token}.ics",
    )  # fmt: skip


PAGES = [Page("GET", "/", home)]
