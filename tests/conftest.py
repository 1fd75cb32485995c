"""Fixtures shared by every test: the settings, and the real local stack for integration tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from config import Settings, load_settings
from config.local_stack import LocalStack


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The settings every entry point would build, pointing at the local stack."""
    return load_settings()


@pytest.fixture(scope="session")
def local_stack(settings: Settings) -> Iterator[Settings]:
    """The real local stack: reused when healthy (as `make test` leaves it), else started."""
    LocalStack(settings, report=lambda _line: None).up()
    yield settings


@pytest.fixture
def unique_name() -> str:
    """A name no other test (or test run) uses, for rooms, buckets and queues."""
    return f"t{uuid.uuid4().hex[:12]}"
