"""Fixtures shared by every test: the settings, and the real local stack for integration tests."""

from __future__ import annotations

import inspect
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from blockbuster import blockbuster_ctx
from playwright.async_api import Browser, async_playwright

from config import Settings, load_settings
from config.local_stack import LocalStack

# What the tests archive goes to a bucket of this run, kept one day, and never to the archive's
# own bucket, where COMPLIANCE retention would keep test sessions for ten years (and mix them
# with the demo's, whose session ids come from another database). Set in the environment, so the
# worker and agent subprocesses the tests start use it too.
TEST_ARCHIVE_ENV = {
    "TIEPDAN_S3__BUCKET": f"tiepdan-test-{uuid.uuid4().hex[:10]}",
    **{f"TIEPDAN_S3__RETENTION_{kind}_DAYS": "1"
       for kind in ("MEDIA", "TRANSCRIPT", "MINUTES", "METADATA")},
}  # fmt: skip


TESTS_DIR = Path(__file__).resolve().parent
# Not the end-to-end test: its bots speak in real time from the test's own loop, and blockbuster's
# stack walk on every wrapped call delayed them until the chair's last line fell after the session
# ended (2 runs of 2; 0 of 1 without it). The blocking calls it found in the demo are fixed.
BLOCKING_CHECKED = {"unit", "integration", "security", "faults"}
# Blocking calls allowed where they are made (file, functions), each for its reason.
MAY_BLOCK = [
    # asyncpg looks for its client files (~/.pgpass, the certificates in ~/.postgresql) as it
    # reads the connection arguments of each new connection; it offers no async way.
    ("asyncpg/connect_utils.py", {"_parse_connect_dsn_and_args"}),
    # icalendar reads its UTC zone from the tz database on first use, once per process.
    ("icalendar/timezone/zoneinfo.py", {"utc"}),
    # redis-py reads its own version from the package metadata for each connection it makes.
    ("redis/utils.py", {"get_lib_version"}),
    # Migrations run in a thread of their own, on an event loop of their own that exists only to
    # drive Alembic (which reads its scripts from disk): the caller's loop never waits on it.
    # `_upgrade` is named too: SQLAlchemy runs it in a greenlet, whose stack stops there.
    ("orchestrator/db/connection.py", {"_migrate_blocking", "_upgrade"}),
]


@pytest.fixture(autouse=True)
def no_blocking_calls(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail an async test when orchestrator or media code blocks the event loop (STYLE.md).

    Blocking calls (file and socket I/O, ``time.sleep``, locks, sqlite3...) are caught while the
    loop runs and any frame of the call's stack is in ``orchestrator`` or ``media``; a test's own
    code may block (it is not scanned), and sync tests run no loop. Fixtures of a wider scope are
    set up before this one and so are not checked.
    """
    checked = request.path.relative_to(TESTS_DIR).parts[0] in BLOCKING_CHECKED
    if not (checked and inspect.iscoroutinefunction(request.function)):
        yield
        return
    with blockbuster_ctx(scanned_modules=["orchestrator", "media"]) as checker:
        for function in checker.functions.values():
            for file, names in MAY_BLOCK:
                function.can_block_in(file, names)
        yield


@pytest.fixture(scope="session")
def settings() -> Iterator[Settings]:
    """The settings every entry point would build, pointing at the local stack."""
    saved = {name: os.environ.get(name) for name in TEST_ARCHIVE_ENV}
    os.environ.update(TEST_ARCHIVE_ENV)
    try:
        yield load_settings()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="session")
def local_stack(settings: Settings) -> Iterator[Settings]:
    """The real local stack: reused when healthy (as `make test` leaves it), else started."""
    LocalStack(settings, report=lambda _line: None, with_postgres=True).up()
    yield settings


@pytest.fixture
def unique_name() -> str:
    """A name no other test (or test run) uses, for rooms, buckets and queues."""
    return f"t{uuid.uuid4().hex[:12]}"


# Debian's chromium, with fake camera and microphone granted without a prompt, and nothing that
# reaches past loopback (no component updates, sync, or QUIC probes).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-gpu",
]


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """``test-artifacts/`` at the repository root (gitignored): screenshots worth looking at."""
    path = Path(__file__).resolve().parent.parent / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium for the session; tests using it run on the session event loop.

    A test that uses it is marked ``@pytest.mark.asyncio(loop_scope="session")``, since the
    browser's Playwright connection belongs to the loop that launched it.
    """
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test marked ``postgresql_only`` is not run on SQLite (deselected, and said so)."""
    sqlite = [
        item
        for item in items
        if item.get_closest_marker("postgresql_only")
        and getattr(item, "callspec", None) is not None
        and item.callspec.params.get("db_url") == "sqlite"
    ]
    if sqlite:
        config.hook.pytest_deselected(items=sqlite)
        dropped = set(sqlite)
        items[:] = [item for item in items if item not in dropped]
