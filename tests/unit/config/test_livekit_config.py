"""The local livekit-server configuration keeps every byte of media on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import StackError
from config.local_stack.livekit import ensure_livekit_server, livekit_config
from config.settings import SecretStr, Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        livekit={"api_key": "APIlocal", "api_secret": SecretStr("s3cr3t")},
        paths={"state_dir": tmp_path},
    )


def test_everything_is_bound_and_advertised_on_loopback(settings: Settings) -> None:
    config = livekit_config(settings)
    assert config["bind_addresses"] == ["127.0.0.1"]
    rtc = config["rtc"]
    assert rtc["node_ip"] == "127.0.0.1" and rtc["use_external_ip"] is False
    assert rtc["ips"] == {"includes": ["127.0.0.1/32"]}
    assert rtc["enable_loopback_candidate"] is True
    assert all(server.startswith("127.0.0.1:") for server in rtc["stun_servers"])
    # livekit-server binds ICE/TCP on every interface, so the local stack leaves it off.
    assert rtc["tcp_port"] == 0
    assert rtc["port_range_end"] - rtc["port_range_start"] < 200


def test_generated_keys_and_webhook(settings: Settings) -> None:
    config = livekit_config(settings)
    assert config["keys"] == {"APIlocal": "s3cr3t"}
    assert "devkey" not in config["keys"]
    assert config["webhook"] == {
        "api_key": "APIlocal",
        "urls": [settings.web.livekit_webhook_url],
    }
    assert config["room"]["auto_create"] is False


def test_no_go_toolchain_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(StackError, match=r"no Go toolchain was found.*Install Go 1\.26"):
        ensure_livekit_server(tmp_path / "bin", go=None, search_path=str(tmp_path))
