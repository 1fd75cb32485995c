"""The services of the local stack: how each starts, which ports it needs, how it proves health."""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg
import redis
import urllib3
from livekit import api
from minio import Minio
from redis.backoff import NoBackoff
from redis.retry import Retry

from config.errors import StackError
from config.local_stack.livekit import livekit_binary, write_livekit_config
from config.settings import Settings

# weed mini's own ports besides S3 (master, volume, filer, admin), as offsets from the S3 port:
# moving S3 moves them all, so a second stack (the stack tests) runs beside the first. Each has a
# gRPC port 10000 above it. With S3 on 8333 they are weed's defaults, except the admin port:
# weed's 23646 puts its gRPC port at 33646, inside Linux's ephemeral range (32768-60999), where
# any client connection of the machine may hold it for a while (seen: "port 33646 in use").
_WEED_PORT_OFFSETS = {"master": 1000, "volume": 1007, "filer": 555, "admin": 5313}
_GRPC_OFFSET = 10000


@dataclass(frozen=True)
class Part:
    """One service of the local stack."""

    name: str
    command: list[str]
    tcp_ports: list[int]
    check_health: Callable[[], None]
    env: dict[str, str] = field(default_factory=dict)
    udp_ports: list[int] = field(default_factory=list)
    prepare: Callable[[], None] = lambda: None
    startup_timeout_s: float = 60.0


def _redis_part(settings: Settings) -> Part:
    port = settings.broker.port
    data = settings.paths.data_dir / "redis"
    server = shutil.which("redis-server") or "redis-server"

    def check() -> None:
        client = redis.Redis(
            host="127.0.0.1",
            port=port,
            socket_timeout=2,
            socket_connect_timeout=2,
            retry=Retry(NoBackoff(), 0),
        )
        try:
            client.ping()
        finally:
            client.close()

    return Part(
        name="redis",
        command=[
            server,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(data),
            # As in production (docker-compose.yml): the queued jobs survive a restart. (The
            # pipeline does not depend on it: its sweeper sends again, from the database, what a
            # broker restarted empty lost.)
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--protected-mode",
            "yes",
        ],
        tcp_ports=[port],
        check_health=check,
        prepare=lambda: data.mkdir(parents=True, exist_ok=True),
        startup_timeout_s=20,
    )


def _s3_part(settings: Settings, venv_bin: Path) -> Part:
    s3 = settings.s3
    data = settings.paths.data_dir / "s3"
    weed_ports = {name: s3.port + offset for name, offset in _WEED_PORT_OFFSETS.items()}
    ports = {"s3": s3.port, **weed_ports}
    weed = shutil.which("weed", path=str(venv_bin)) or shutil.which("weed") or "weed"

    def check() -> None:
        client = Minio(
            s3.host,
            access_key=s3.access_key,
            secret_key=s3.secret_key.get_secret_value(),
            secure=s3.secure,
            region=s3.region,
            # One quick try: the caller polls, and minio's default retries take seconds.
            http_client=urllib3.PoolManager(timeout=urllib3.Timeout(total=3), retries=False),
        )
        client.list_buckets()

    return Part(
        name="s3",
        command=[
            weed,
            "mini",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.port={s3.port}",
            *(f"-{name}.port={port}" for name, port in weed_ports.items()),
            # Every bucket is a collection with volumes of its own, and test runs make buckets
            # that COMPLIANCE retention keeps: small (sparse) volumes and no count limit, or a
            # developer's stack runs out of writable volumes after a few runs.
            "-master.volumeSizeLimitMB=64",
            "-volume.max=100000",
            # Services tiepdan does not use stay off.
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
        ],
        tcp_ports=[*ports.values(), *(p + _GRPC_OFFSET for p in ports.values())],
        env={
            "AWS_ACCESS_KEY_ID": s3.access_key,
            "AWS_SECRET_ACCESS_KEY": s3.secret_key.get_secret_value(),
        },
        check_health=check,
        prepare=lambda: data.mkdir(parents=True, exist_ok=True),
        startup_timeout_s=90,
    )


def _livekit_part(settings: Settings) -> Part:
    lk = settings.livekit
    config_path = settings.paths.run_dir / "livekit.yaml"
    assert settings.paths.bin_dir is not None

    async def list_rooms() -> None:
        async with api.LiveKitAPI(
            lk.http_url,
            lk.api_key,
            lk.api_secret.get_secret_value(),
            timeout=aiohttp.ClientTimeout(total=3),
        ) as lkapi:
            await lkapi.room.list_rooms(api.ListRoomsRequest())

    def prepare() -> None:
        write_livekit_config(settings, config_path)

    return Part(
        name="livekit",
        command=[str(livekit_binary(settings.paths.bin_dir)), "--config", str(config_path)],
        tcp_ports=[lk.port, *([lk.rtc_tcp_port] if lk.rtc_tcp_port else [])],
        udp_ports=list(range(lk.rtc_udp_port_start, lk.rtc_udp_port_end + 1)),
        check_health=lambda: asyncio.run(asyncio.wait_for(list_rooms(), timeout=3)),
        prepare=prepare,
        startup_timeout_s=30,
    )


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=_version_key)
    if not found:
        raise StackError(
            "PostgreSQL is not installed: apt-get install postgresql (make setup does it)"
        )
    return Path(found[-1]).parent


def _version_key(path: str) -> int:
    version = Path(path).parent.parent.name
    return int(version) if version.isdigit() else 0


def _postgres_part(settings: Settings) -> Part:
    port = settings.db.local_postgres_port
    data = settings.paths.data_dir / "postgres"
    # PostgreSQL refuses to run as root; Debian's package creates the postgres account.
    as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def prepare() -> None:
        if (data / "PG_VERSION").exists():
            return
        data.mkdir(parents=True, exist_ok=True)
        if as_owner:
            shutil.chown(data, "postgres", "postgres")
        subprocess.run(
            [*as_owner, str(_postgres_bin() / "initdb"), "-D", str(data), "-U", "tiepdan",
             "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"],
            check=True, capture_output=True,
        )  # fmt: skip
        # Trust is safe only because the server listens on loopback and its socket in data/.
        (data / "pg_hba.conf").write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")

    async def select_one() -> None:
        conn = await asyncpg.connect(
            host="127.0.0.1", port=port, user="tiepdan", database="postgres", timeout=3
        )
        try:
            await conn.fetchval("SELECT 1")
        finally:
            await conn.close()

    return Part(
        name="postgres",
        command=[
            *as_owner,
            str(_postgres_bin() / "postgres"),
            "-D",
            str(data),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-k",
            str(data),
            "-c",
            "fsync=off",  # a test database: speed over durability
        ],
        tcp_ports=[port],
        check_health=lambda: asyncio.run(asyncio.wait_for(select_one(), timeout=5)),
        prepare=prepare,
        startup_timeout_s=60,
    )


def stack_parts(settings: Settings, venv_bin: Path, with_postgres: bool = False) -> list[Part]:
    """The parts in start order: the broker, the object store, the SFU, optionally PostgreSQL."""
    if not settings.livekit.api_key or not settings.s3.access_key:
        raise StackError("the local stack needs generated credentials: use load_settings()")
    parts = [_redis_part(settings), _s3_part(settings, venv_bin), _livekit_part(settings)]
    if with_postgres:
        parts.append(_postgres_part(settings))
    return parts
