"""``tiepdan search "..."``: the archive search from a terminal, as a named user (audited)."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime
from html import unescape

import click
from sqlalchemy import select

from config import Settings
from orchestrator.core.errors import OrchestratorError
from orchestrator.core.timezone import format_local
from orchestrator.db import open_db
from orchestrator.db.models import User
from orchestrator.search.service import SearchFilters, SearchResult, search

__all__ = ["search_command"]


async def _search(
    settings: Settings, username: str, text: str, filters: SearchFilters, exact: bool,
    sort: str, page: int, per_page: int,
) -> SearchResult:  # fmt: skip
    async with open_db(settings.db.url) as sessions, sessions() as db:
        user = await db.scalar(select(User).where(User.username == username, User.active))
        if user is None:
            raise click.ClickException(f"Không có người dùng {username!r} đang hoạt động.")
        return await search(db, user, text, filters, exact=exact,
                            sort="date" if sort == "date" else "relevance", page=page,
                            per_page=per_page)  # fmt: skip


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


@click.command("search")
@click.argument("query")
@click.option("--as", "username", required=True, help="Search as this user (their scope).")
@click.option("--province", default=None, help="Province code, e.g. ninh-binh.")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), default=None)
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), default=None)
@click.option("--kind", type=click.Choice(["periodic", "regular", "ad_hoc"]), default=None)
@click.option("--role", default=None, help="Speaker role (chair, officer, citizen, ...).")
@click.option("--speaker", default=None, help="Part of the speaker's name (accents optional).")
@click.option("--case", "case", default=None, help="khieu_nai | to_cao | kien_nghi | phan_anh")
@click.option("--exact", is_flag=True, help="Match diacritics exactly.")
@click.option("--sort", type=click.Choice(["relevance", "date"]), default="relevance")
@click.option("--page", type=click.IntRange(min=1), default=1)
@click.option("--per-page", type=click.IntRange(1, 100), default=20)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def search_command(
    settings: Settings, query: str, username: str, province: str | None,
    date_from: datetime | None, date_to: datetime | None, kind: str | None, role: str | None,
    speaker: str | None, case: str | None, exact: bool, sort: str, page: int, per_page: int,
    as_json: bool,
) -> None:  # fmt: skip
    """Search the transcripts of archived sessions (with or without diacritics)."""
    filters = SearchFilters(
        province=province, date_from=_day(date_from), date_to=_day(date_to), kind=kind,
        role=role, speaker=speaker, case_classification=case,
    )  # fmt: skip
    try:
        result = asyncio.run(
            _search(settings, username, query, filters, exact, sort, page, per_page)
        )
    except OrchestratorError as e:
        raise click.ClickException(e.detail) from e
    if as_json:
        click.echo(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=1))
        return
    click.echo(f"{result.total_text()} kết quả")
    if result.capped:
        click.echo("  (số theo tỉnh tính trên các kết quả mới nhất; thêm từ hoặc bộ lọc)")
    for p in result.provinces:
        click.echo(f"  {p.province_name}: {p.count}")
    for hit in result.hits:
        snippet = unescape(hit.snippet_html.replace("<mark>", "[").replace("</mark>", "]"))
        click.echo(
            f"{format_local(hit.session_start)}  phiên {hit.session_id} {hit.session_title}  "
            f"t={hit.start_s:.1f}s  {hit.speaker_name}: {snippet}"
        )
