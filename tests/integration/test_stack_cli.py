"""`tiepdan stack` as a person uses it, on a second stack beside the shared one.

The second stack has its own state dir and ports (it shares only the built livekit-server), so
stopping and killing its parts never disturbs the stack the other tests use.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from config import Settings

TIEPDAN = str(Path(sys.executable).parent / "tiepdan")
# Away from the defaults and from each other, weed's +10000 gRPC ports included, and all of them
# below Linux's ephemeral range (32768-60999), where a client connection may hold a port.
SECOND_STACK_PORTS = {"livekit": 17880, "s3": 11333, "redis": 16390}


@pytest.fixture
def second_stack_env(local_stack: Settings, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment for a `tiepdan` subprocess that manages a second stack; stopped afterwards."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIEPDAN_")}
    env.update(
        TIEPDAN_PATHS__STATE_DIR=str(tmp_path / "state"),
        TIEPDAN_PATHS__BIN_DIR=str(local_stack.paths.bin_dir),
        TIEPDAN_LIVEKIT__URL=f"ws://127.0.0.1:{SECOND_STACK_PORTS['livekit']}",
        TIEPDAN_LIVEKIT__RTC_UDP_PORT_START="51100",
        TIEPDAN_LIVEKIT__RTC_UDP_PORT_END="51119",
        TIEPDAN_S3__ENDPOINT=f"http://127.0.0.1:{SECOND_STACK_PORTS['s3']}",
        TIEPDAN_BROKER__URL=f"redis://127.0.0.1:{SECOND_STACK_PORTS['redis']}/0",
    )
    yield env
    subprocess.run([TIEPDAN, "stack", "down"], env=env, capture_output=True, timeout=60)


def tiepdan(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TIEPDAN, *args], env=env, capture_output=True, text=True, timeout=240)


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_up_refuses_a_taken_port_and_starts_nothing(second_stack_env: dict[str, str]) -> None:
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", SECOND_STACK_PORTS["livekit"]))
        squatter.listen()
        result = tiepdan(second_stack_env, "stack", "up")
        assert result.returncode != 0
        assert f"127.0.0.1:{SECOND_STACK_PORTS['livekit']} is in use by process {os.getpid()}" in (
            result.stderr
        )
        assert psutil.Process().name() in result.stderr
        assert "nothing was started" in result.stderr
        assert not listening(SECOND_STACK_PORTS["redis"])
        assert not listening(SECOND_STACK_PORTS["s3"])
        run_dir = Path(second_stack_env["TIEPDAN_PATHS__STATE_DIR"]) / "run"
        assert not list(run_dir.glob("*.pid"))


def test_status_names_a_dead_part_and_up_restarts_it(second_stack_env: dict[str, str]) -> None:
    up = tiepdan(second_stack_env, "stack", "up")
    assert up.returncode == 0, up.stderr
    assert tiepdan(second_stack_env, "stack", "status").returncode == 0

    again = tiepdan(second_stack_env, "stack", "up")
    assert again.returncode == 0 and "started" not in again.stderr  # idempotent: all reused

    pid_file = Path(second_stack_env["TIEPDAN_PATHS__STATE_DIR"]) / "run" / "livekit.pid"
    livekit_pid = int(pid_file.read_text().split('"pid": ')[1].split(",")[0])
    os.kill(livekit_pid, signal.SIGKILL)
    psutil.wait_procs([psutil.Process(livekit_pid)], timeout=10)

    status = tiepdan(second_stack_env, "stack", "status")
    assert status.returncode == 1
    lines = {line.split()[0]: line for line in status.stdout.splitlines() if line.strip()}
    assert "DOWN" in lines["livekit"]
    assert "healthy" in lines["redis"] and "healthy" in lines["s3"]

    restarted = tiepdan(second_stack_env, "stack", "up")
    assert restarted.returncode == 0, restarted.stderr
    assert "livekit  started" in restarted.stderr
    assert "redis    started" not in restarted.stderr
    assert tiepdan(second_stack_env, "stack", "status").returncode == 0

    down = tiepdan(second_stack_env, "stack", "down")
    assert down.returncode == 0 and "livekit, s3, redis" in down.stdout
    assert not any(listening(port) for port in SECOND_STACK_PORTS.values())


def test_stack_env_lets_plain_clients_reach_the_stack(local_stack: Settings) -> None:
    """Only what `stack env` exports: a livekit-api and a minio script outside tiepdan."""
    script = textwrap.dedent(
        """
        import asyncio, os
        from livekit import api
        from minio import Minio

        async def rooms():
            async with api.LiveKitAPI() as lk:  # reads LIVEKIT_URL, _API_KEY, _API_SECRET
                return await lk.room.list_rooms(api.ListRoomsRequest())

        asyncio.run(rooms())
        endpoint = os.environ["AWS_ENDPOINT_URL"].split("://", 1)[1]
        Minio(endpoint, os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"],
              secure=False).list_buckets()
        print("reached livekit and s3")
        """
    )
    # The client sees no LiveKit or AWS variable but those `stack env` exports.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "AWS_"))}
    env["TIEPDAN_PATHS__STATE_DIR"] = str(local_stack.paths.state_dir)
    result = subprocess.run(
        ["bash", "-c", f'eval "$({TIEPDAN} stack env)" && {sys.executable} -c "$SCRIPT"'],
        env={**env, "SCRIPT": script},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "reached livekit and s3" in result.stdout
