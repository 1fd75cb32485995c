"""The fault suite uses the integration tests' orchestrator world (its seeded users, one database
per backend per run) where a fault needs no orchestrator of its own."""

from tests.integration.conftest import db_url, engine, http, world  # noqa: F401 - fixtures
