from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"

SERVICES = (
    "orchestrator",
    "worker",
    "media",
    "livekit",
    "redis",
    "minio",
    "minio-init",
    "postgres",
)

# ${NAME}, ${NAME:-x}, ${NAME-x}, ${NAME:?msg}, ${NAME?msg}, ${NAME:+x}; "$${" is an escaped "$".
VARIABLE_REF = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:[:?+-][^}]*)?\}")
TIEPDAN_NAME = re.compile(r"\bTIEPDAN_[A-Z0-9_]+\b")


def _compose_text() -> str:
    return COMPOSE_FILE.read_text(encoding="utf-8")


def _compose() -> dict[str, Any]:
    data = yaml.safe_load(_compose_text())
    assert isinstance(data, dict)
    return data


def _env_example_names() -> set[str]:
    names = set()
    for raw in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, _value = line.partition("=")
        assert sep, f".env.example: not NAME=value: {raw!r}"
        names.add(name.removeprefix("export ").strip())
    return names


def _published_ports(service: dict[str, Any]) -> list[str]:
    ports = []
    for port in service.get("ports", []):
        if isinstance(port, dict):  # long syntax
            ports.append(str(port.get("host_ip", "")))
        else:
            ports.append(str(port))
    return ports


@pytest.mark.parametrize("name", SERVICES)
def test_service_is_defined(name: str) -> None:
    assert name in _compose()["services"]


def test_every_variable_is_documented_in_env_example() -> None:
    referenced = set(VARIABLE_REF.findall(_compose_text()))
    assert referenced, "no ${...} reference found in docker-compose.yml"
    undocumented = sorted(referenced - _env_example_names())
    assert not undocumented, f"not defined in .env.example: {', '.join(undocumented)}"


def test_minio_init_creates_bucket_with_object_lock() -> None:
    init = _compose()["services"]["minio-init"]
    text = f"{init.get('entrypoint', '')} {init.get('command', '')}"
    assert "--with-lock" in text


def _all_services() -> list[str]:
    return sorted(_compose()["services"])


@pytest.mark.parametrize("name", _all_services())
def test_published_ports_bind_to_bind_address(name: str) -> None:
    service = _compose()["services"][name]
    for port in _published_ports(service):
        assert port.startswith("${BIND_ADDRESS"), f"{name} publishes {port!r} on all interfaces"


def test_orchestrator_publishes_web_port() -> None:
    assert _published_ports(_compose()["services"]["orchestrator"])


def _tiepdan_names() -> list[str]:
    return sorted(set(TIEPDAN_NAME.findall(_compose_text())))


def test_tiepdan_settings_are_used() -> None:
    assert _tiepdan_names()


@pytest.mark.parametrize("env_name", _tiepdan_names())
def test_tiepdan_variable_maps_to_a_setting(env_name: str) -> None:
    section, sep, field = env_name.removeprefix("TIEPDAN_").lower().partition("__")
    assert sep and field, f"{env_name} is not TIEPDAN_SECTION__FIELD"
    assert section in Settings.model_fields, f"{env_name}: no settings section {section!r}"
    section_model = Settings.model_fields[section].annotation
    assert section_model is not None
    assert field in section_model.model_fields, f"{env_name}: {section!r} has no field {field!r}"
