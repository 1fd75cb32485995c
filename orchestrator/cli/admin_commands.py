"""``tiepdan users`` and ``tiepdan sessions``: what an administrator does from a terminal."""

from __future__ import annotations

import asyncio

import click
from pydantic import ValidationError
from sqlalchemy import select

from config import Settings
from orchestrator.accounts import service as accounts
from orchestrator.accounts.schemas import UserCreate
from orchestrator.core.errors import NotFound, OrchestratorError
from orchestrator.core.timezone import VN_TZ
from orchestrator.core.vocabulary import Role, SessionStatus, Tier
from orchestrator.db import open_db
from orchestrator.db.audit import audit
from orchestrator.db.models import Agency, ReceptionSession
from orchestrator.search.indexer import index_session


@click.group()
def users() -> None:
    """User accounts."""


@users.command("add")
@click.argument("username")
@click.option("--name", "display_name", required=True, help="Full name, as shown to others.")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--agency-id", type=int, default=None, help="Default: the central committee.")
@click.option("--cleared", is_flag=True, help="May see restricted (denunciation) sessions.")
@click.password_option(help="Asked for when not given: 10 characters or more, hard to guess.")
@click.pass_obj
def users_add(
    settings: Settings,
    username: str,
    display_name: str,
    role: str,
    agency_id: int | None,
    cleared: bool,
    password: str,
) -> None:
    """Create a user account."""
    try:
        user_id = asyncio.run(
            add_user(
                settings,
                username=username,
                display_name=display_name,
                role=Role(role),
                agency_id=agency_id,
                cleared=cleared,
                password=password,
            )  # fmt: skip
        )
    except (ValidationError, OrchestratorError) as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"user {username} created (id {user_id})")


@click.group()
def sessions() -> None:
    """Reception sessions."""


@sessions.command("reindex")
@click.argument("session_ids", nargs=-1, type=int)
@click.pass_obj
def sessions_reindex(settings: Settings, session_ids: tuple[int, ...]) -> None:
    """Index archived sessions' transcripts again (all of them when no id is given), so that
    they are searched as the current index rules read text (e.g. numbers in words)."""
    for session_id, outcome in asyncio.run(reindex_sessions(settings, session_ids)):
        click.echo(f"session {session_id}: {outcome}")


@sessions.command("list")
@click.option("--status", type=click.Choice([s.value for s in SessionStatus]), default=None)
@click.pass_obj
def sessions_list(settings: Settings, status: str | None) -> None:
    """List sessions, soonest first (times in Asia/Ho_Chi_Minh)."""
    rows = asyncio.run(list_sessions(settings, SessionStatus(status) if status else None))
    for row in rows:
        click.echo(row)


async def add_user(
    settings: Settings,
    *,
    username: str,
    display_name: str,
    role: Role,
    agency_id: int | None,
    cleared: bool,
    password: str,
) -> int:
    """Create a user; without an agency, the central committee. Returns the new id."""
    async with open_db(settings.db.url) as sessions, sessions() as db:
        if agency_id is None:
            agency_id = await db.scalar(select(Agency.id).where(Agency.tier == Tier.CENTRAL))
        body = UserCreate(
            username=username, display_name=display_name, password=password, role=role,
            agency_id=agency_id or 0, cleared=cleared,
        )  # fmt: skip
        user = await accounts.add_user(db, body)
        # The terminal has no signed-in user: the row says the change came from it.
        audit(db, action="user.create", target=f"user:{user.id}", via="cli")
        await db.commit()
        return user.id


async def reindex_sessions(
    settings: Settings, session_ids: tuple[int, ...]
) -> list[tuple[int, str]]:
    """Index each session's ``transcript.json`` again; (session id, what became of it)."""
    outcomes = []
    async with open_db(settings.db.url) as sessions, sessions() as db:
        if not session_ids:
            archived = ReceptionSession.status == SessionStatus.ARCHIVED
            session_ids = tuple(await db.scalars(select(ReceptionSession.id).where(archived)))
        for session_id in session_ids:
            try:
                outcomes.append((session_id, f"{await index_session(db, session_id)} utterances"))
            except NotFound as e:  # no transcript: said, and the others are still indexed
                await db.rollback()
                outcomes.append((session_id, f"not indexed: {e.detail}"))
    return outcomes


async def list_sessions(settings: Settings, status: SessionStatus | None) -> list[str]:
    """One line per session: id, local start, status, province, title."""
    async with open_db(settings.db.url) as sessions, sessions() as db:
        query = select(ReceptionSession).order_by(ReceptionSession.starts_at)
        if status is not None:
            query = query.where(ReceptionSession.status == status)
        return [
            f"{s.id:>6}  {s.starts_at.astimezone(VN_TZ):%Y-%m-%d %H:%M}  {s.status.value:10}"
            f"  {s.agency.province_code:12}  {s.title}"
            for s in await db.scalars(query)
        ]
