"""``GET /metrics`` on the orchestrator: Prometheus's parser reads it, it carries every metric an
operator's dashboard and alerts name, and a live session moves its gauges."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
import redis.asyncio as aioredis
from livekit import api, rtc
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from config import Settings
from media.room_join import join
from orchestrator.app import create_app
from tests.form_login import login_form
from tests.integration.conftest import World
from tests.integration.test_launch import eventually, join_token, launch, lkapi, new_session_now
from tests.unit.test_alert_rules import ORCHESTRATOR_METRICS
from transcription import TaskName, create_celery, send


async def families(world: World, http: aiohttp.ClientSession) -> list[Metric]:
    """``/metrics``, as Prometheus's parser reads it."""
    async with http.get(world.base_url + "/metrics") as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain")
        return list(text_string_to_metric_families(await r.text()))


async def scrape(world: World, http: aiohttp.ClientSession) -> dict[str, dict[str, float]]:
    """Every sample: metric → ``label=value,...`` → value."""
    samples: dict[str, dict[str, float]] = {}
    for family in await families(world, http):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[labels] = sample.value
    return samples


async def test_metrics_parse_and_carry_every_name(
    world: World, http: aiohttp.ClientSession
) -> None:
    served = {family.name for family in await families(world, http)}
    assert ORCHESTRATOR_METRICS <= served
    samples = await scrape(world, http)
    # Every queue is listed (0 when empty), so an alert on one sees a number.
    assert set(samples["tiepdan_queue_depth"]) == {
        "queue=transcribe",
        "queue=media",
        "queue=archive",
    }


@pytest.mark.postgresql_only
async def test_a_live_session_moves_its_gauges(world: World, http: aiohttp.ClientSession) -> None:
    province = f"province={world.province_code}"
    # Sessions of earlier tests may still end while this one runs (a lost room ends its session
    # after a grace): the figures are checked against this session's own rise and fall, not
    # against exact counts taken before.
    session_id = await new_session_now(world, http)
    token = await join_token(world, http, "chair", await launch(world, http, "chair", session_id))
    room = rtc.Room()
    await join(room, world.settings.livekit.url, token, rtc.RoomOptions(), timeout_s=20)
    try:
        # Earlier tests' sessions may still be live, with a participant and a recorder's lease
        # not yet run out: a scrape taken before this session counts is told apart by waiting
        # for every figure this session moves, not for the first one.
        async def in_the_room() -> dict[str, dict[str, float]] | None:
            now = await scrape(world, http)
            counts = now.get("tiepdan_live_participants", {})
            people = sum(v for labels, v in counts.items() if province in labels)
            # No media agent runs in this test: nobody records the session, and the gauge says so.
            unrecorded = now.get("tiepdan_live_sessions_unrecorded", {}).get("", 0)
            free = now.get("tiepdan_recordings", {}).get("state=free", 0)
            return now if people >= 1 and unrecorded >= 1 and free >= 1 else None

        during = await eventually(in_the_room, timeout=20)
        assert during, "the chair was never counted, or the session never counted as unrecorded"
        live_during = during["tiepdan_live_sessions"][province]
        assert live_during >= 1
    finally:
        await room.disconnect()
        async with lkapi(world) as lk:
            await lk.room.delete_room(
                api.DeleteRoomRequest(room=f"{world.province_code}-{session_id}")
            )

    async def ended() -> bool:
        now = await scrape(world, http)
        return now.get("tiepdan_live_sessions", {}).get(province, 0) < live_during

    assert await eventually(ended, timeout=20)


async def test_request_id_is_echoed_or_made(world: World, http: aiohttp.ClientSession) -> None:
    async with http.get(world.base_url + "/metrics", headers={"X-Request-ID": "abc-123"}) as r:
        assert r.headers["X-Request-ID"] == "abc-123"
    forged = 'x" {"level": "ERROR"} ' + "y" * 100
    async with http.get(world.base_url + "/api/v1/me", headers={"X-Request-ID": forged}) as r:
        assert r.status == 401
        made = r.headers["X-Request-ID"]
    assert made != forged and len(made) == 32


def _serves_metrics(settings: Settings) -> bool:
    app = create_app(settings, reconcile_interval_s=None)
    return any(r.canonical == "/metrics" for r in app.router.resources())


def test_metrics_can_be_turned_off(world: World) -> None:
    off = world.settings.metrics.model_copy(update={"orchestrator": False})
    assert _serves_metrics(world.settings)
    assert not _serves_metrics(world.settings.model_copy(update={"metrics": off}))


async def test_a_wrong_password_and_a_waiting_job_are_counted(
    world: World, http: aiohttp.ClientSession
) -> None:
    wrong = "outcome=wrong"
    before = (await scrape(world, http)).get("tiepdan_failed_logins_total", {}).get(wrong, 0)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        form = await login_form(browser, world.base_url)
        form |= {"username": world.usernames["archivist"], "password": "sai-mat-khau"}
        async with browser.post(world.base_url + "/login", data=form) as r:
            assert r.status == 401
    # A job nobody consumes (no worker runs here) waits on its queue, and is seen waiting.
    celery = create_celery(world.settings)
    try:
        await asyncio.to_thread(send, celery, TaskName.PING, "metrics")
    finally:
        celery.close()
    broker = aioredis.from_url(world.settings.broker.url)
    try:
        await asyncio.sleep(world.settings.metrics.cache_s + 1.1)
        after = await scrape(world, http)
        assert after["tiepdan_failed_logins_total"][wrong] == before + 1
        assert after["tiepdan_queue_depth"]["queue=transcribe"] >= 1
        assert after["tiepdan_queue_oldest_job_seconds"]["queue=transcribe"] >= 1.0
    finally:
        for message in await broker.lrange("transcribe", 0, -1):
            if b"tiepdan.ping" in message:
                await broker.lrem("transcribe", 0, message)
        await broker.aclose()
