"""`tiepdan users add`, `sessions list` and `serve`, as an administrator runs them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from config import Settings

TIEPDAN = str(Path(sys.executable).parent / "tiepdan")


@pytest.fixture
def cli_env(local_stack: Settings, tmp_path: Path) -> dict[str, str]:
    """The shared stack, but a database of this test's own."""
    return {
        **os.environ,
        "TIEPDAN_PATHS__STATE_DIR": str(local_stack.paths.state_dir),
        "TIEPDAN_DB__URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
    }


def tiepdan(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TIEPDAN, *args], env=env, input=stdin, capture_output=True, text=True, timeout=60
    )


def test_users_add_then_bad_input(cli_env: dict[str, str]) -> None:
    ok = tiepdan(cli_env, "users", "add", "admin.tw", "--name", "Quản trị", "--role", "admin",
                 "--password", "mot-mat-khau-dai")  # fmt: skip
    assert ok.returncode == 0 and "user admin.tw created" in ok.stdout, ok.stderr
    short = tiepdan(cli_env, "users", "add", "x.y", "--name", "X", "--role", "officer",
                    "--password", "ngan")  # fmt: skip
    assert short.returncode != 0 and "password" in short.stderr
    no_agency = tiepdan(cli_env, "users", "add", "a.b", "--name", "A", "--role", "officer",
                        "--agency-id", "4242", "--password", "mot-mat-khau-dai")  # fmt: skip
    assert no_agency.returncode != 0 and "4242" in no_agency.stderr
    assert tiepdan(cli_env, "sessions", "list").returncode == 0


async def test_serve_answers_on_its_port(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "TIEPDAN_WEB__PORT": "18470"}
    proc = subprocess.Popen([TIEPDAN, "serve"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        async with aiohttp.ClientSession() as http:
            while True:
                try:
                    async with http.get("http://127.0.0.1:18470/api/v1/openapi.json") as r:
                        assert r.status == 200 and (await r.json())["openapi"].startswith("3.1")
                        break
                except aiohttp.ClientConnectionError:
                    assert proc.poll() is None and time.monotonic() < deadline
                    await asyncio.sleep(0.3)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode in (0, -15), out
