"""The whole path a reception session takes, as `make demo` runs it, with real browsers where a
person would use one: the chair launches from the calendar link in headless Chromium (its
microphone is a WAV of the chair's lines), rtc bots speak for the officer, the citizen at the
commune point and the central hall (through a bridge); then the archivist searches without
diacritics in Chromium and lands on the moment in the player."""

from __future__ import annotations

import asyncio
import io
import json
import os
import time
import wave
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
import pytest_asyncio
from docx import Document
from playwright.async_api import BrowserContext, Page, async_playwright, expect
from sqlalchemy import select

from config import Settings, load_settings
from media.voice_bot import RATE
from orchestrator.cli.demo import DemoRun, run_demo
from orchestrator.cli.demo.run import TALK_BACK_SETTLE_S
from orchestrator.cli.demo.script import CENTRAL_HALL, CHAIR, CITIZEN, OFFICER, SCRIPT
from orchestrator.cli.demo.seed import CITIZEN_NAME, DEMO_PASSWORD, DEMO_USERS
from orchestrator.cli.demo.voices import PAUSE_S, speak
from orchestrator.db import open_db
from orchestrator.db.models import User
from tests.browser import open_signed_out
from tests.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.seeding import token_for

pytestmark = pytest.mark.asyncio(loop_scope="session")

# The chair's microphone file starts with this much silence (everyone joins, the bridge comes
# up), and each later chair line is placed this much after the others are planned to be done.
LEAD_S = 30.0
SLACK_S = 12.0
LINE_TAIL_S = 2.5
NAMES = {u.key: u.display_name for u in DEMO_USERS} | {CITIZEN: CITIZEN_NAME}


def _chair_plan(tmp_path: Path) -> tuple[Path, list[float]]:
    """The chair's lines as one WAV at planned offsets, and those offsets."""
    pcm = [speak(line, tmp_path / f"plan-{i}.wav") for i, line in enumerate(SCRIPT)]
    offsets: list[float] = []
    parts: list[np.ndarray] = []
    at = LEAD_S
    for line, audio in zip(SCRIPT, pcm, strict=True):
        if line.speaker == CHAIR:
            if offsets:
                at += SLACK_S
            silence = int(at * RATE) - sum(len(p) for p in parts)
            parts += [np.zeros(silence, dtype=np.int16), audio]
            offsets.append(at)
        at += len(audio) / RATE + (2 * TALK_BACK_SETTLE_S if line.speaker != CHAIR else 0)
    path = tmp_path / "chair-microphone.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(np.concatenate(parts).tobytes())
    return path, offsets


class BrowserChair:
    """The chair in Chromium, whose microphone plays the planned WAV from the moment the join
    page takes it; ``play`` waits until the planned line has been said."""

    def __init__(self, context: BrowserContext, offsets: list[float]) -> None:
        self.context, self.offsets, self.said = context, offsets, 0
        self.mic_at = 0.0
        self.page: Page | None = None

    async def join(self, link: str) -> BrowserChair:
        self.page = page = await self.context.new_page()
        await open_signed_out(page, link, "chutri.ninhbinh", DEMO_PASSWORD)
        await expect(page.locator("body")).to_have_attribute("data-state", "connected",
                                                              timeout=30_000)  # fmt: skip
        self.mic_at = time.monotonic()
        return self

    async def play(self, audio: np.ndarray) -> None:
        ends = self.mic_at + self.offsets[self.said] + (len(audio) / RATE)
        self.said += 1
        await asyncio.sleep(max(0.0, ends - time.monotonic()))

    async def aclose(self) -> None:
        if self.page is not None:
            await self.page.close()


@pytest.fixture(scope="session")
def e2e_settings(
    local_stack: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """The local stack's settings with a database and spool of its own (the demo's processes
    read them from the environment, as they would in a deployment)."""
    here = tmp_path_factory.mktemp("e2e")
    own = {"TIEPDAN_DB__URL": f"sqlite+aiosqlite:///{here / 'tiepdan.db'}",
           "TIEPDAN_PATHS__SPOOL_DIR": str(here / "spool")}  # fmt: skip
    os.environ.update(own)
    try:
        yield load_settings()
    finally:
        for name in own:
            del os.environ[name]


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def chair_context(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[BrowserContext, BrowserContext, list[float]]]:
    """A Chromium whose fake microphone is the chair's planned WAV, and one for the archivist."""
    wav, offsets = _chair_plan(tmp_path_factory.mktemp("chair"))
    async with async_playwright() as playwright:
        chair_browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=[*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={wav}%noloop"],
        )  # fmt: skip
        archivist_browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield (
                await chair_browser.new_context(locale="vi-VN"),
                await archivist_browser.new_context(locale="vi-VN"),
                offsets,
            )
        finally:
            await chair_browser.close()
            await archivist_browser.close()


async def _get(http: aiohttp.ClientSession, url: str, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.get(url, headers=headers) as r:
        assert r.status == 200, (url, r.status, await r.text())
        return await r.read()


async def test_a_reception_session_end_to_end(
    e2e_settings: Settings,
    chair_context: tuple[BrowserContext, BrowserContext, list[float]],
    artifacts_dir: Path,
) -> None:
    chair_ctx, archivist_ctx, offsets = chair_context
    base = e2e_settings.web.public_url
    checked: list[str] = []

    async def check(run: DemoRun) -> None:
        # The demo's users' tokens are fresh per run; the archivist signs in like a person.
        chair = await _token_of(e2e_settings, "chutri.ninhbinh")
        token = await _token_of(e2e_settings, "luutru.ninhbinh")
        async with aiohttp.ClientSession() as http:
            api = f"{base}/api/v1/sessions/{run.session_id}"
            attendance = json.loads(await _get(http, f"{api}/attendance", chair))
            names = {row["display_name"] for row in attendance}
            assert {NAMES[CHAIR], NAMES[OFFICER], CITIZEN_NAME} <= names, names
            processing = json.loads(await _get(http, f"{api}/processing", chair))
            tracks = {t["display_name"]: t["state"] for t in processing["tracks"]}
            assert tracks == {NAMES[CHAIR]: "done", NAMES[OFFICER]: "done",
                              CITIZEN_NAME: "done", CENTRAL_HALL: "done"}, tracks  # fmt: skip
            recording = json.loads(await _get(http, f"{api}/media/recording.json", token))
            transcript = json.loads(await _get(http, f"{api}/media/transcript.json", token))
            docx = io.BytesIO(await _get(http, f"{api}/media/minutes.docx", token))
            # Called back from the demo, whose loop is checked: python-docx reads off it.
            minutes = await asyncio.to_thread(Document, docx)
        origin = datetime.fromisoformat(recording["session_started_at"])
        for said in run.spoken:
            # Who spoke while this line was said (its last seconds: every line is longer than
            # that): the line's speaker, by the transcript.
            end = (said.ended - origin).total_seconds() - PAUSE_S
            overlapping = {
                u["speaker"]["display_name"] for u in transcript["utterances"]
                if u["start"] < end and u["end"] > end - LINE_TAIL_S
            }  # fmt: skip
            expected = CENTRAL_HALL if said.line.speaker not in NAMES else NAMES[said.line.speaker]
            assert expected in overlapping, (said.line, end, overlapping, [
                (u["start"], u["end"], u["speaker"]["display_name"], u["text"])
                for u in transcript["utterances"]
            ])  # fmt: skip
        text = "\n".join(p.text for p in minutes.paragraphs) + "\n".join(
            cell.text for table in minutes.tables for row in table.rows for cell in row.cells
        )
        assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text
        for name in (NAMES[CHAIR], NAMES[OFFICER], CITIZEN_NAME, CENTRAL_HALL):
            assert name in text, name
        checked.append("results")
        await _search_and_play(archivist_ctx, base, run, artifacts_dir)
        checked.append("player")

    run = await run_demo(
        e2e_settings, None, echo=print,
        join_chair=BrowserChair(chair_ctx, offsets).join, then=check,
    )  # fmt: skip
    assert checked == ["results", "player"]
    assert run.search_hits


async def _token_of(settings: Settings, username: str) -> str:
    async with open_db(settings.db.url, migrate_first=False) as sessions, sessions() as db:
        user = await db.scalar(select(User).where(User.username == username))
        assert user is not None
        token = token_for(db, user, "e2e")
        await db.commit()
        return token


async def _search_and_play(
    context: BrowserContext, base: str, run: DemoRun, artifacts_dir: Path
) -> None:
    page = await context.new_page()
    await open_signed_out(page, base, "luutru.ninhbinh", DEMO_PASSWORD)
    # The start page lists the archived session with its player, and the archive's search.
    await expect(
        page.locator(f'#recent a[href="/archive/sessions/{run.session_id}"]')
    ).to_be_visible()
    await page.screenshot(path=str(artifacts_dir / "e2e-home.png"))
    await page.click('a[href="/archive/search"]')
    await page.fill("input[name=q]", "boi thuong")
    await page.click("#search-form button[type=submit]")
    link = page.locator(f'a.hit-link[href^="/archive/sessions/{run.session_id}#t="]').first
    await expect(link).to_be_visible()
    await page.screenshot(path=str(artifacts_dir / "e2e-search.png"))
    href = await link.get_attribute("href")
    assert href is not None
    at = float(href.rsplit("#t=", 1)[1])
    await link.click()
    # Polled from here: wait_for_function polls with eval in the page, which the page's
    # Content-Security-Policy (no 'unsafe-eval') refuses once the first check is false.
    for _ in range(200):
        now = await page.evaluate("document.getElementById('audio').currentTime")
        if abs(now - at) < 0.5:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"the player did not seek to {at} s (at {now} s)")
    await page.screenshot(path=str(artifacts_dir / "e2e-player.png"))
    # The minutes download from the player: the audited link, then the archive's object.
    async with page.expect_download() as downloading:
        await page.click(f'a[href="/api/v1/sessions/{run.session_id}/media/minutes.docx"]')
    download = await downloading.value
    minutes = await asyncio.to_thread(Document, str(await download.path()))
    assert "BIÊN BẢN" in {p.text for p in minutes.paragraphs}
    await page.close()
