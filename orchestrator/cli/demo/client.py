"""The demo's people using the orchestrator over HTTP, each with their own bearer token."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import icalendar

from orchestrator.live.join_page import read_join_config

API = "/api/v1"
TIMEOUT = aiohttp.ClientTimeout(total=30)


class DemoError(Exception):
    """A step of the demo did not work; the message says which and why."""


class DemoClient:
    """HTTP calls as one of the demo's users (by cast key)."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str, tokens: dict[str, str]):
        self.http, self.base_url, self.tokens = http, base_url.rstrip("/"), tokens

    def _headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    async def api(self, who: str, method: str, path: str, json: Any = None) -> Any:
        """Call ``/api/v1{path}`` as ``who``; the JSON answer, or DemoError with the problem."""
        async with self.http.request(
            method, self.base_url + API + path, json=json, headers=self._headers(who),
            timeout=TIMEOUT,
        ) as r:  # fmt: skip
            body = await r.json(content_type=None)
            if r.status >= 400:
                detail = body.get("detail", body) if isinstance(body, dict) else body
                raise DemoError(f"{method} {path} as {who}: HTTP {r.status}: {detail}")
            return body

    async def page(self, who: str | None, url: str) -> tuple[int, str, str]:
        """GET a page (as ``who``, or anonymously): status, body, and the redirect target."""
        headers = self._headers(who) if who else {}
        async with self.http.get(url, headers=headers, allow_redirects=False, timeout=TIMEOUT) as r:
            return r.status, await r.text(), r.headers.get("Location", "")

    async def launch_link(self, who: str, session_id: int) -> str:
        """The launch link of ``session_id`` exactly as ``who``'s calendar app shows it."""
        feed = await self.api(who, "GET", "/me/calendar")
        status, text, _ = await self.page(None, feed["url"])
        if status != 200:
            raise DemoError(f"calendar feed of {who}: HTTP {status}")
        # Parsing reads the time zone database: off the event loop.
        calendar = await asyncio.to_thread(icalendar.Calendar.from_ical, text)
        for event in calendar.walk("VEVENT"):
            if str(event["UID"]).startswith(f"session-{session_id}-"):
                return str(event["URL"])
        raise DemoError(f"session {session_id} is not in {who}'s calendar feed")

    async def join_token(self, who: str | None, join_url: str) -> str:
        """Open a join page (a user's, or a personal guest link) and take its LiveKit token."""
        status, text, _ = await self.page(who, join_url)
        if status != 200:
            raise DemoError(f"join page {join_url} as {who or 'guest'}: HTTP {status}")
        return read_join_config(text)["token"]
