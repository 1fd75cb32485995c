"""Launch latency: from the click on a calendar launch link to the redirect to the join page.

Runs the real orchestrator against the local stack, with a database of its own, and launches N
sessions one after another; each launch creates its LiveKit room. Prints p50 / p95 / max and the
ratio of p95 to the 100 ms target.

How to run it, and the latest figures: ``benchmarks/README.md``.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp import web
from livekit import api

from config import load_settings
from orchestrator.app import create_app
from orchestrator.core.vocabulary import SessionKind, SessionStatus
from orchestrator.db import create_engine, migrate, session_factory
from orchestrator.db.models import ReceptionSession
from orchestrator.scheduling.launch_links import launch_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' seeding
from tests.seeding import province_chair  # noqa: E402

TARGET_P95_MS = 100.0
PORT = 18471


async def main(count: int) -> None:
    base = load_settings()
    db_url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    settings = base.model_copy(
        update={
            "db": base.db.model_copy(update={"url": db_url}),
            "web": base.web.model_copy(
                update={"port": PORT, "public_url": f"http://127.0.0.1:{PORT}"}
            ),
        }
    )
    engine = create_engine(db_url)
    await migrate(engine)
    db = session_factory(engine)
    start = datetime.now(UTC) + timedelta(minutes=5)
    async with db() as s:
        agency, chair, token = await province_chair(
            s, "Ban Tiếp công dân (benchmark)", "bench.chair", "Chủ trì", "benchmark-password"
        )
        sessions = [
            ReceptionSession(title=f"Phiên {i}", kind=SessionKind.REGULAR, agency_id=agency.id,
                             chair_id=chair.id, starts_at=start, ends_at=start + timedelta(hours=1),
                             status=SessionStatus.SCHEDULED, restricted=False, sequence=0)
            for i in range(count)
        ]  # fmt: skip
        s.add_all(sessions)
        await s.commit()
        for session in sessions:
            await s.refresh(session, ["agency"])
    links = [launch_url(settings, chair.id, x) for x in sessions]

    runner = web.AppRunner(create_app(settings, reconcile_interval_s=None))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", PORT).start()
    timings = []
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
            for link in links:
                t0 = time.perf_counter()
                async with http.get(link, allow_redirects=False) as r:
                    await r.read()
                    assert r.status == 303, r.status
                timings.append((time.perf_counter() - t0) * 1000)
    finally:
        await runner.cleanup()
        lk = settings.livekit
        async with api.LiveKitAPI(lk.http_url, lk.api_key, lk.api_secret.get_secret_value()) as k:
            for session in sessions:
                await k.room.delete_room(api.DeleteRoomRequest(room=f"ninh-binh-{session.id}"))
        await engine.dispose()

    timings.sort()
    p50 = statistics.median(timings)
    p95 = timings[int(0.95 * (len(timings) - 1))]
    print(f"launches: {len(timings)} (each creates its LiveKit room; SQLite; one client)")
    print(f"click → redirect  p50 {p50:.1f} ms   p95 {p95:.1f} ms   max {timings[-1]:.1f} ms")
    print(f"p95 / target ({TARGET_P95_MS:.0f} ms) = {p95 / TARGET_P95_MS:.2f}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
