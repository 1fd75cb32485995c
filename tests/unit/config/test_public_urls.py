"""The addresses handed to browsers: what a deployment may not start with."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from config import ConfigError, load_settings
from config.public_urls import is_loopback_url, public_url_problems


@pytest.mark.parametrize(
    ("web", "livekit"),
    [
        ("http://127.0.0.1:8470", "ws://127.0.0.1:7880"),  # the local stack
        ("http://localhost:8470", "ws://localhost:7880"),
        ("https://tiepdan.ninhbinh.gov.vn", "wss://tiepdan.ninhbinh.gov.vn/livekit"),
        ("https://tiepdan.ninhbinh.gov.vn", "wss://rtc.ninhbinh.gov.vn"),
        ("https://10.20.0.5", "wss://10.20.0.5:7443"),  # an address, no name: fine if TLS
    ],
)
def test_joinable_addresses_pass(web: str, livekit: str) -> None:
    assert public_url_problems(web, livekit) == []


@pytest.mark.parametrize(
    ("web", "livekit", "named"),
    [
        # what the production compose file handed browsers before
        ("https://tiepdan.ninhbinh.gov.vn", "ws://livekit:7880", "only the servers' own"),
        ("http://orchestrator:8470", "wss://rtc.ninhbinh.gov.vn", "only the servers' own"),
        ("https://tiepdan.ninhbinh.gov.vn", "ws://rtc.ninhbinh.gov.vn", "must be wss://"),
        ("http://tiepdan.ninhbinh.gov.vn", "wss://rtc.ninhbinh.gov.vn", "is not https"),
        ("http://10.20.0.5:8470", "ws://10.20.0.5:7880", "is not https"),
        ("https://localhost:8470", "ws://localhost:7880", "must be wss://"),
        ("tiepdan.ninhbinh.gov.vn", "wss://rtc.ninhbinh.gov.vn", "not a http or https URL"),
        ("https://tiepdan.ninhbinh.gov.vn", "https://rtc.ninhbinh.gov.vn", "not a ws or wss URL"),
    ],
)
def test_unjoinable_addresses_are_named(web: str, livekit: str, named: str) -> None:
    problems = public_url_problems(web, livekit)
    assert problems and named in " ".join(problems)


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8470", True),
        ("http://[::1]:8470", True),
        ("http://localhost", True),
        ("http://app.localhost", True),
        ("https://10.0.0.1", False),
        ("https://tiepdan.gov.vn", False),
    ],
)
def test_loopback(url: str, loopback: bool) -> None:
    assert is_loopback_url(url) is loopback


def test_settings_refuse_to_start_with_an_internal_browser_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in [n for n in os.environ if n.startswith("TIEPDAN_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("TIEPDAN_PATHS__STATE_DIR", str(tmp_path))
    monkeypatch.setenv("TIEPDAN_WEB__PUBLIC_URL", "https://tiepdan.ninhbinh.gov.vn")
    monkeypatch.setenv("TIEPDAN_LIVEKIT__URL", "ws://livekit:7880")
    with pytest.raises(ConfigError, match="livekit.public_url 'ws://livekit:7880'"):
        load_settings()
    monkeypatch.setenv("TIEPDAN_LIVEKIT__PUBLIC_URL", "wss://tiepdan.ninhbinh.gov.vn/rtc")
    settings = load_settings()
    assert settings.livekit.url == "ws://livekit:7880"  # what servers use
    assert settings.livekit.browser_url == "wss://tiepdan.ninhbinh.gov.vn/rtc"
    assert settings.web.secure_cookies
