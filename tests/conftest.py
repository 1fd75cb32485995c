"""Fixtures shared by every test: the settings, and the real local stack for integration tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright

from config import Settings, load_settings
from config.local_stack import LocalStack


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The settings every entry point would build, pointing at the local stack."""
    return load_settings()


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
