"""Finding 2: one recurrence rule froze the event loop (``FREQ=DAILY;BYSETPOS=-366`` took seconds
of CPU while every other request waited). Rules are checked before they are expanded, and the
expansion runs in a child process killed at a time limit, so other requests stay fast."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import aiohttp
import psutil
import pytest

from orchestrator.scheduling.expansion import MAX_CHILDREN
from tests.integration.conftest import World
from tests.integration.test_orchestrator_api import call, session_body

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Generous for a loaded machine: before the fix these took 5 to 20 s each.
REFUSED_WITHIN_S = 1.5
# A frozen loop keeps a sign-in page waiting for the whole expansion: 5 to 20 s for a hostile
# rule, the 3 s time limit for one that never yields. A loop that is not frozen still let one
# wait 0.53 s in CI (two cores, a child interpreter expanding on one of them), so 0.5 s failed a
# healthy loop; one second fails only a frozen one.
LOGIN_WITHIN_S = 1.0


async def submit_while_signing_in(
    world: World, http: aiohttp.ClientSession, rrule: str
) -> tuple[int, dict[str, str], str, float, float]:
    """POST a series with ``rrule`` while another client loads the sign-in page over and over:
    the answer, how long it took, and the slowest sign-in page meanwhile."""
    start = datetime.now(UTC) + timedelta(days=1)
    body = session_body(world, starts_at=start.isoformat(),
                        ends_at=(start + timedelta(hours=3)).isoformat(), rrule=rrule)  # fmt: skip
    began = time.monotonic()
    submitted = asyncio.create_task(call(http, world, "officer", "POST", "/sessions", json=body))
    slowest = 0.0
    async with aiohttp.ClientSession() as visitor:
        while not submitted.done():
            t0 = time.monotonic()
            async with visitor.get(world.base_url + "/login") as r:
                assert r.status == 200
                await r.read()
            slowest = max(slowest, time.monotonic() - t0)
    status, problem, content_type = await submitted
    return status, problem, content_type, time.monotonic() - began, slowest


@pytest.mark.parametrize(
    ("rrule", "named"),
    [
        ("FREQ=DAILY;BYSETPOS=-366", "BYSETPOS"),
        ("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=40", "BYSETPOS"),
        ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "ngày 30"),
        ("FREQ=DAILY;INTERVAL=0", "INTERVAL"),
        ("FREQ=DAILY;BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11,12", "BYHOUR"),
    ],
)
async def test_a_hostile_rule_is_refused_fast_and_stalls_nobody(
    world: World, http: aiohttp.ClientSession, rrule: str, named: str
) -> None:
    status, problem, content_type, took, slowest = await submit_while_signing_in(world, http, rrule)
    assert slowest < LOGIN_WITHIN_S, f"a sign-in page waited {slowest:.2f} s"
    assert took < REFUSED_WITHIN_S, f"answered after {took:.2f} s"
    assert (status, content_type) == (422, "application/problem+json"), problem
    assert "Quy tắc lặp lại" in problem["detail"] and named in problem["detail"], problem


async def test_a_rule_that_never_yields_is_cut_at_the_time_limit_off_the_loop(
    world: World, http: aiohttp.ClientSession
) -> None:
    # Day 366 is 31 December of a leap year, never in January: nothing in the text says so,
    # and dateutil walks day by day to the year 9999 looking for it.
    limit = world.settings.scheduling.expansion_timeout_s
    status, problem, content_type, took, slowest = await submit_while_signing_in(
        world, http, "FREQ=DAILY;BYYEARDAY=366;BYMONTH=1"
    )
    assert (status, content_type) == (422, "application/problem+json"), problem
    assert f"{limit:g} giây" in problem["detail"], problem
    assert took < limit + 3, f"refused after {took:.2f} s"
    assert slowest < LOGIN_WITHIN_S, f"a sign-in page waited {slowest:.2f} s"


async def test_an_ordinary_series_is_still_created(
    world: World, http: aiohttp.ClientSession
) -> None:
    status, created, _, _, slowest = await submit_while_signing_in(
        world, http, "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;COUNT=3"
    )
    assert status == 201, created
    assert len(created) == 3  # the last weekday of each of three months
    assert {datetime.fromisoformat(s["starts_at"]).weekday() for s in created} <= set(range(5))
    assert slowest < LOGIN_WITHIN_S, f"a sign-in page waited {slowest:.2f} s"


@pytest.mark.postgresql_only
async def test_a_flood_of_series_runs_at_most_two_expansions_at_once(
    world: World, http: aiohttp.ClientSession
) -> None:
    """Six series at once, each with a rule that holds its expansion to the time limit: they
    are all refused, but no more than MAX_CHILDREN interpreters ever run side by side (each was
    a child process of its own, as many as were sent)."""
    start = datetime.now(UTC) + timedelta(days=1)
    body = session_body(world, starts_at=start.isoformat(),
                        ends_at=(start + timedelta(hours=3)).isoformat(),
                        rrule="FREQ=DAILY;BYYEARDAY=366;BYMONTH=1")  # fmt: skip
    me = psutil.Process()

    def expanding() -> int:
        running = 0
        for child in me.children():
            try:
                running += "orchestrator.scheduling.expansion" in child.cmdline()
            except psutil.Error:  # ended meanwhile
                pass
        return running

    flood = [asyncio.create_task(call(http, world, "officer", "POST", "/sessions", json=body))
             for _ in range(6)]  # fmt: skip
    most = 0
    while not all(task.done() for task in flood):
        most = max(most, await asyncio.to_thread(expanding))
        await asyncio.sleep(0.05)
    answers = [status for status, _, _ in await asyncio.gather(*flood)]
    assert answers == [422] * 6
    assert 1 <= most <= MAX_CHILDREN, most
