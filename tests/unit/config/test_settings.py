"""Settings: sources and their priority, generated local secrets, masking."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from config import ConfigError, load_settings
from orchestrator.cli import main


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in [n for n in __import__("os").environ if n.startswith("TIEPDAN_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("TIEPDAN_PATHS__STATE_DIR", str(tmp_path / "state"))
    return tmp_path


def test_defaults_point_at_the_local_stack(isolated_env: Path) -> None:
    s = load_settings()
    assert s.livekit.url == "ws://127.0.0.1:7880"
    assert s.s3.endpoint == "http://127.0.0.1:8333" and s.s3.host == "127.0.0.1:8333"
    assert s.broker.url.startswith("redis://127.0.0.1:")
    assert s.db.url == f"sqlite+aiosqlite:///{isolated_env / 'state' / 'tiepdan.db'}"
    assert s.whisper.language == "vi"
    assert s.paths.bin_dir == isolated_env / "state" / "bin"


def test_environment_overrides_toml_which_overrides_defaults(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = isolated_env / "tiepdan.toml"
    toml.write_text('[s3]\nbucket = "from-file"\nregion = "vn-hanoi"\n[whisper]\nbeam_size = 3\n')
    monkeypatch.setenv("TIEPDAN_S3__BUCKET", "from-env")
    s = load_settings(toml)
    assert (s.s3.bucket, s.s3.region, s.whisper.beam_size) == ("from-env", "vn-hanoi", 3)


def test_unknown_or_malformed_settings_are_refused(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = isolated_env / "bad.toml"
    toml.write_text("[s3]\nbukket = 'typo'\n")
    with pytest.raises(ConfigError, match="bukket"):
        load_settings(toml)
    monkeypatch.setenv("TIEPDAN_WHISPER__DEVICE", "tpu")
    with pytest.raises(ConfigError, match="device"):
        load_settings()


def test_the_sweeper_must_come_before_redis_redelivers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIEPDAN_PIPELINE__STALE_AFTER_S", "600")
    monkeypatch.setenv("TIEPDAN_BROKER__VISIBILITY_TIMEOUT_S", "600")
    with pytest.raises(ConfigError, match="stale_after_s .* shorter than"):
        load_settings()
    monkeypatch.setenv("TIEPDAN_BROKER__VISIBILITY_TIMEOUT_S", "601")
    assert load_settings().pipeline.stale_after_s == 600


def test_local_secrets_are_generated_once_and_private(isolated_env: Path) -> None:
    first = load_settings()
    second = load_settings()
    assert first.livekit.api_key and first.livekit.api_key != "devkey"
    assert first.livekit.api_key == second.livekit.api_key
    assert first.s3.secret_key == second.s3.secret_key
    secrets_file = isolated_env / "state" / "secrets.json"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600


def test_configured_credentials_win_over_local_secrets(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "LIVEKIT__API_KEY": "prodkey",
        "LIVEKIT__API_SECRET": "prodsecret",
        "S3__ACCESS_KEY": "minio",
        "S3__SECRET_KEY": "miniosecret",
        "SECURITY__SECRET_KEY": "signing",
    }.items():
        monkeypatch.setenv(f"TIEPDAN_{name}", value)
    s = load_settings()
    assert s.livekit.api_key == "prodkey" and s.s3.access_key == "minio"
    assert not (isolated_env / "state" / "secrets.json").exists()


def test_only_empty_credentials_are_filled_and_secrets_stay_secret(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIEPDAN_S3__SECRET_KEY", "miniosecret")
    s = load_settings()
    generated = json.loads((isolated_env / "state" / "secrets.json").read_text())
    assert s.s3.secret_key.get_secret_value() == "miniosecret"
    assert s.s3.access_key == generated["s3_access_key"]
    assert s.livekit.api_key == generated["livekit_api_key"]
    for secret, name in [
        (s.livekit.api_secret, "livekit_api_secret"),
        (s.security.secret_key, "secret_key"),
    ]:
        assert secret.get_secret_value() == generated[name] and generated[name] not in repr(secret)
    assert not s.missing_credentials()


def test_config_show_masks_every_secret(isolated_env: Path) -> None:
    result = CliRunner().invoke(main, ["config", "show"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    secrets = json.loads((isolated_env / "state" / "secrets.json").read_text())
    for secret in (secrets["livekit_api_secret"], secrets["s3_secret_key"], secrets["secret_key"]):
        assert secret not in result.output
    assert shown["livekit"]["api_secret"] == "**********"
    assert shown["s3"]["secret_key"] == "**********"
    assert shown["security"]["secret_key"] == "**********"


def test_archive_signing_seed_configured_or_derived() -> None:
    import base64

    from pydantic import SecretStr

    from config.settings import SecuritySettings

    derived = SecuritySettings(secret_key=SecretStr("s" * 40)).archive_signing_seed
    assert len(derived) == 32
    assert derived == SecuritySettings(secret_key=SecretStr("s" * 40)).archive_signing_seed
    assert derived != SecuritySettings(secret_key=SecretStr("t" * 40)).archive_signing_seed
    seed = bytes(range(32))
    configured = SecuritySettings(archive_signing_key=SecretStr(base64.b64encode(seed).decode()))
    assert configured.archive_signing_seed == seed
    with pytest.raises(ValueError, match="32 bytes"):
        _ = SecuritySettings(archive_signing_key=SecretStr("c2hvcnQ=")).archive_signing_seed


def test_secrets_from_files_named_like_their_variables(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = isolated_env / "run-secrets"
    secrets.mkdir()
    (secrets / "TIEPDAN_SECURITY__SECRET_KEY").write_text("from-a-docker-secret\n")
    (secrets / "TIEPDAN_S3__SECRET_KEY").write_text("s3-from-file")
    (secrets / "unrelated_secret").write_text("not ours")
    monkeypatch.setenv("TIEPDAN_S3__SECRET_KEY", "s3-from-env")
    s = load_settings(secrets_dir=secrets)
    assert s.security.secret_key.get_secret_value() == "from-a-docker-secret"
    assert s.s3.secret_key.get_secret_value() == "s3-from-env"  # the environment wins
    assert "from-a-docker-secret" not in json.dumps(s.masked())


def test_a_misnamed_secret_file_is_refused(isolated_env: Path) -> None:
    secrets = isolated_env / "run-secrets"
    secrets.mkdir()
    (secrets / "TIEPDAN_SECURITY__SECRET_KEYS").write_text("typo")
    with pytest.raises(ConfigError, match="secret_keys"):
        load_settings(secrets_dir=secrets)


def test_no_secrets_directory_is_fine(isolated_env: Path) -> None:
    assert load_settings(secrets_dir=isolated_env / "absent").security.secret_key
