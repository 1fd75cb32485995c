"""The orchestrator running for real: one database per backend per run, served on the port
LiveKit posts its webhooks to, with seeded agencies and users."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from config import Settings
from orchestrator.accounts.schemas import UserCreate
from orchestrator.accounts.service import new_user
from orchestrator.app import create_app
from orchestrator.core.vocabulary import Role, Tier
from orchestrator.db import create_engine, migrate, session_factory
from orchestrator.db.models import Agency
from orchestrator.pipeline.progress import process_db
from tests.databases import empty_database
from tests.search_corpus import seed_corpus
from tests.seeding import token_for

PASSWORD = "mat-khau-thu-nghiem"


@pytest_asyncio.fixture(scope="session", params=["sqlite", "postgresql"])
async def db_url(
    request: pytest.FixtureRequest, local_stack: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A fresh, migrated database of each backend for this run."""
    async with empty_database(request.param, local_stack, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest_asyncio.fixture(scope="session")
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url)
    await migrate(engine)
    yield engine
    await engine.dispose()


@dataclass
class World:
    """Seeded agencies and users, each user with a bearer token."""

    settings: Settings
    db: async_sessionmaker[Any]
    base_url: str
    agencies: dict[str, int]
    users: dict[str, int]
    tokens: dict[str, str]
    usernames: dict[str, str]
    province_code: str

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


SEED_USERS = {
    # key: (role, agency key, cleared)
    "admin": (Role.ADMIN, "central", True),
    "officer": (Role.OFFICER, "ninh-binh", False),
    "chair": (Role.CHAIR, "ninh-binh", True),
    "commune_officer": (Role.OFFICER, "commune", False),
    "other_officer": (Role.OFFICER, "ha-noi", False),
    "observer": (Role.CENTRAL_OBSERVER, "central", False),
    "archivist": (Role.ARCHIVIST, "ninh-binh", False),
}


async def _seed(
    db_factory: async_sessionmaker[Any], run: str
) -> tuple[dict[str, int], dict[str, int], dict[str, str], dict[str, str]]:
    async with db_factory() as db:
        central = Agency(name="Ban Tiếp công dân Trung ương (thử)", tier=Tier.CENTRAL,
                         province_code="tw")  # fmt: skip
        nb = Agency(name="Ban Tiếp công dân tỉnh Ninh Bình", tier=Tier.PROVINCE,
                    province_code="ninh-binh")  # fmt: skip
        hn = Agency(name="Ban Tiếp công dân TP Hà Nội", tier=Tier.PROVINCE, province_code="ha-noi")
        db.add_all([central, nb, hn])
        await db.flush()
        commune = Agency(name="UBND xã Gia Viễn", tier=Tier.COMMUNE, province_code="ninh-binh",
                         parent_id=nb.id)  # fmt: skip
        db.add(commune)
        await db.flush()
        agencies = {"central": central.id, "ninh-binh": nb.id, "ha-noi": hn.id,
                    "commune": commune.id}  # fmt: skip
        users, tokens, usernames = {}, {}, {}
        for key, (role, agency, cleared) in SEED_USERS.items():
            usernames[key] = f"{key.replace('_', '.')}.{run}"
            user = new_user(
                UserCreate(
                    username=usernames[key],
                    display_name=key.title(),
                    password=PASSWORD,
                    role=role,
                    agency_id=agencies[agency],
                    cleared=cleared,
                )  # fmt: skip
            )
            db.add(user)
            await db.flush()
            users[key], tokens[key] = user.id, token_for(db, user, "tests")
        await db.commit()
    return agencies, users, tokens, usernames


@asynccontextmanager
async def serve_world(
    local_stack: Settings,
    db_url: str,
    engine: AsyncEngine,
    *,
    port: int,
    redis_db: int,
    public_host: str | None = None,
    room_lost_grace_s: float = 15.0,
) -> AsyncIterator[World]:
    """The orchestrator on ``port`` against ``db_url``, with its own Redis database (emptied
    first, as session ids restart with each test database), seeded. ``public_host``: the name
    browsers are told to reach it by, when not the address it listens on. A room LiveKit lost
    ends its session ``room_lost_grace_s`` later if nobody rejoins (long enough for the speakers
    of tests/faults to rejoin a recreated room, short enough for a test to wait for)."""
    broker_url = local_stack.broker.url.rsplit("/", 1)[0] + f"/{redis_db}"
    web_settings = local_stack.web
    if port != web_settings.port:
        public_url = f"http://{public_host or web_settings.host}:{port}"
        web_settings = web_settings.model_copy(update={"port": port, "public_url": public_url})
    settings = local_stack.model_copy(
        update={
            "db": local_stack.db.model_copy(update={"url": db_url}),
            "broker": local_stack.broker.model_copy(update={"url": broker_url}),
            "web": web_settings,
            "livekit": local_stack.livekit.model_copy(
                update={"room_lost_grace_s": room_lost_grace_s}
            ),
        }
    )
    broker = aioredis.from_url(broker_url)
    await broker.flushdb()
    await broker.aclose()
    app = create_app(settings, reconcile_interval_s=1.0)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, settings.web.host, settings.web.port)
    await site.start()
    try:
        db = session_factory(engine)
        agencies, users, tokens, usernames = await _seed(db, uuid.uuid4().hex[:6])
        yield World(
            settings, db, settings.web.public_url, agencies, users, tokens, usernames, "ninh-binh"
        )
    finally:
        await runner.cleanup()


@pytest.fixture
def worker_db(world: World) -> Iterator[None]:
    """The world's database as a worker process has it, for calling a job's function directly
    (from a thread: it runs its own event loop)."""
    with process_db(world.settings):
        yield


@pytest_asyncio.fixture(scope="session")
async def world(local_stack: Settings, db_url: str, engine: AsyncEngine) -> AsyncIterator[World]:
    """The orchestrator on web.port (where LiveKit's webhooks go), against ``db_url``; its
    jobs go to Redis database 1."""
    async with serve_world(
        local_stack, db_url, engine, port=local_stack.web.port, redis_db=1
    ) as served:
        yield served


@pytest_asyncio.fixture(scope="session")
async def corpus(world: World) -> dict[str, int]:
    """The search corpus (tests.search_corpus), seeded once into the world's database."""
    return await seed_corpus(world.db, world.agencies)


@pytest_asyncio.fixture(scope="session")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
