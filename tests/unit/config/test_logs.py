"""Log lines: the ids a line carries, and which incoming request ids are kept."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from config.logs import accepted_request_id, configure_logging, log_context
from config.settings import LoggingSettings


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [
        ("abc-123", True),
        ("0f1e2d3c4b5a69788796a5b4c3d2e1f0", True),
        ("", False),
        (None, False),
        ("x" * 65, False),
        ('x" {"level": "ERROR"}', False),
        ("a b", False),
    ],
)
def test_request_id_kept_only_when_well_formed(incoming: str | None, kept: bool) -> None:
    result = accepted_request_id(incoming)
    assert (result == incoming) is kept
    assert 1 <= len(result) <= 64


@pytest.fixture(autouse=True)
def _root_logger_restored() -> Iterator[None]:
    """configure_logging replaces the root logger's handlers; give the others theirs back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    logging.captureWarnings(False)
    root.handlers[:] = handlers
    root.setLevel(level)


def _line(capsys: pytest.CaptureFixture[str], fmt: str) -> str:
    configure_logging(LoggingSettings(format=fmt), "orchestrator")  # type: ignore[arg-type]
    log = logging.getLogger("tests.logs")
    with log_context(request_id="r-1", session_id=7):
        log.info("hello %s", "world", extra={"room": "ninh-binh-7"})
    log.info("outside")
    return capsys.readouterr().err


def test_json_lines_carry_the_ids_of_their_context(capsys: pytest.CaptureFixture[str]) -> None:
    inside, outside = (json.loads(line) for line in _line(capsys, "json").splitlines())
    assert inside["message"] == "hello world" and inside["process"] == "orchestrator"
    assert (inside["request_id"], inside["session_id"], inside["room"]) == ("r-1", 7, "ninh-binh-7")
    assert (outside["request_id"], outside["session_id"], outside["room"]) == (None, None, None)


def test_text_stays_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert LoggingSettings().format == "text"
    inside, outside = _line(capsys, "text").splitlines()
    assert inside.endswith("INFO tests.logs [ninh-binh-7] hello world")
    assert outside.endswith("INFO tests.logs [-] outside")
