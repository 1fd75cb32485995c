from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
# schema/compose-spec.json of github.com/compose-spec/compose-spec (Apache-2.0), commit
# 170098ba07d9f53c383a41bfd4c5166b0a4529a6 (2026-06-23): shipped, so no test needs the network.
COMPOSE_SCHEMA = ROOT / "tests" / "data" / "compose-spec.json"

SERVICES = (
    "caddy",
    "orchestrator",
    "worker",
    "worker-gpu",
    "beat",
    "media",
    "livekit",
    "redis",
    "minio",
    "minio-init",
    "postgres",
)
# Tags that name no release: they move under a running deployment.
FLOATING_TAGS = re.compile(r"^(latest|stable|edge|main|\d+|\d+-[a-z]+)$")

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


def test_compose_file_follows_the_compose_spec() -> None:
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(schema).validate(_compose())  # raises, naming what is wrong


def _secret_sources() -> set[str]:
    """Variables the secrets are read from (`environment:` sources)."""
    return {s["environment"] for s in _compose().get("secrets", {}).values() if "environment" in s}


def test_every_variable_is_documented_in_env_example() -> None:
    referenced = set(VARIABLE_REF.findall(_compose_text())) | _secret_sources()
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


def test_only_the_proxy_and_livekit_publish_ports() -> None:
    publishing = sorted(n for n, s in _compose()["services"].items() if s.get("ports"))
    assert publishing == ["caddy", "livekit"]
    caddy = " ".join(_published_ports(_compose()["services"]["caddy"]))
    assert ":443:443/tcp" in caddy and ":80:80/tcp" in caddy
    livekit = " ".join(_published_ports(_compose()["services"]["livekit"]))
    for port in ("7881:7881/tcp", "3478:3478/udp", "5349:5349/tcp", "50000-50100:50000-50100/udp"):
        assert port in livekit


@pytest.mark.parametrize("name", _all_services())
def test_image_is_pinned_to_a_release(name: str) -> None:
    service = _compose()["services"][name]
    if "build" in service:
        return  # built here from pinned bases (test_dockerfile_bases_are_pinned)
    image = service["image"]
    repository, sep, tag = image.rpartition(":")
    assert sep and "/" not in tag and not FLOATING_TAGS.match(tag), f"{name}: {image} floats"


def test_dockerfile_bases_are_pinned() -> None:
    bases = re.findall(r"^FROM (\S+)", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert bases
    for base in bases:
        if base == "scratch":
            continue
        tag = base.partition(":")[2]
        assert re.match(r"^\d+\.\d+\.\d+", tag), f"Dockerfile: {base} is not an exact release"


@pytest.mark.parametrize("name", _all_services())
def test_every_long_running_service_has_a_healthcheck(name: str) -> None:
    service = _compose()["services"][name]
    if service.get("restart") == "no":
        return  # a one-shot job: `service_completed_successfully` is its health
    assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


# Who must wait for whom to be healthy (not merely started), and why.
WAITS_FOR = {
    # the database, broker, S3 bucket and SFU it serves
    "orchestrator": {"postgres", "redis", "livekit", "minio-init"},
    # the tables the orchestrator's migrations create
    "worker": {"orchestrator"},
    "worker-gpu": {"orchestrator"},
    "beat": {"orchestrator"},
    "media": {"orchestrator", "livekit"},
    "livekit": {"redis"},
}


@pytest.mark.parametrize(("name", "needs"), sorted(WAITS_FOR.items()))
def test_start_order_waits_for_health(name: str, needs: set[str]) -> None:
    depends = _compose()["services"][name].get("depends_on", {})
    assert set(depends) == needs
    for dependency, how in depends.items():
        one_shot = dependency == "minio-init"
        wanted = "service_completed_successfully" if one_shot else "service_healthy"
        assert how["condition"] == wanted, f"{name} → {dependency}"


def test_gpu_worker_takes_the_transcribe_queue_on_a_reserved_gpu() -> None:
    gpu = _compose()["services"]["worker-gpu"]
    assert gpu["profiles"] == ["gpu"] and gpu["build"]["target"] == "gpu"
    assert gpu["command"][-2:] == ["--queues", "transcribe"]
    (device,) = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["capabilities"] == ["gpu"] and device["driver"] == "nvidia"
    assert gpu["environment"]["TIEPDAN_WHISPER__DEVICE"] == "cuda"


def test_browsers_get_the_public_tls_addresses() -> None:
    env = _compose()["services"]["orchestrator"]["environment"]
    assert env["TIEPDAN_LIVEKIT__URL"] == "ws://livekit:7880"
    assert env["TIEPDAN_LIVEKIT__PUBLIC_URL"].startswith("wss://${PUBLIC_DOMAIN")
    assert env["TIEPDAN_WEB__PUBLIC_URL"].startswith("https://${PUBLIC_DOMAIN")


def test_livekit_config_is_rendered_from_the_environment() -> None:
    livekit = _compose()["services"]["livekit"]
    config = yaml.safe_load(livekit["environment"]["LIVEKIT_CONFIG"])
    assert config["turn"]["enabled"] and config["turn"]["udp_port"] == 3478
    assert config["turn"]["tls_port"] == 5349 and config["rtc"]["tcp_port"] == 7881
    assert config["webhook"]["api_key"].startswith("${LIVEKIT_API_KEY")
    assert config["webhook"]["urls"] == ["http://orchestrator:8470/livekit/webhook"]
    assert not any((ROOT / "deploy").glob("*.yaml")), "no hand-edited LiveKit config is tracked"


def test_secrets_are_files_not_environment() -> None:
    compose = _compose()
    secrets = set(compose["secrets"])
    for name in ("orchestrator", "worker", "beat", "media"):
        service = compose["services"][name]
        assert set(service["secrets"]) == secrets
        assert not secrets & set(service["environment"]), f"{name} has a secret in its environment"
    for secret in secrets:
        section, _, field = secret.removeprefix("TIEPDAN_").lower().partition("__")
        assert field in Settings.model_fields[section].annotation.model_fields  # type: ignore[union-attr]


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


def test_backup_script_parses_and_uses_services_that_exist() -> None:
    script = ROOT / "scripts" / "backup.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    services = _compose()["services"]
    for used in ("exec -T postgres", "minio-init -c"):  # the services it runs its tools in
        assert used in text and used.split()[-2 if used.endswith("-c") else -1] in services
    assert "pg_dump" in text and "mc mirror" in text and ".env" in text
    assert {"MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD", "BUCKET"} <= set(
        services["minio-init"]["environment"]
    )
