"""Finding 16, second half: a password must be hard to guess, not only ten characters long,
wherever one is set (the API, ``tiepdan users add``); the refusal says why, in Vietnamese."""

from __future__ import annotations

import uuid

import aiohttp
import pytest

from orchestrator.accounts.passwords import weak_password_reason
from orchestrator.accounts.schemas import UserCreate
from orchestrator.accounts.service import new_user
from orchestrator.cli.demo.seed import DEMO_PASSWORD, DEMO_USERS, DemoUser
from orchestrator.web.router import API_PREFIX
from tests.integration.conftest import PASSWORD, World
from tests.integration.test_orchestrator_cli import cli_env, tiepdan

__all__ = ["cli_env"]

WEAK = {
    "aaaaaaaaaa": "lặp lại",
    "password123": "mật khẩu phổ biến",
    "1234567890": "mật khẩu phổ biến",
    "qwertyuiop": "mật khẩu phổ biến",
    "abcdefghij": "dãy liên tiếp",
    "anhyeuem123": "mật khẩu phổ biến",
    "tiepdan2026": "tên của hệ thống",
}
STRONG = [DEMO_PASSWORD, PASSWORD, "mot-mat-khau-dai", "benchmark-password", "mat-khau-dai-du"]


@pytest.mark.parametrize(("password", "reason"), WEAK.items())
def test_guessable_passwords_are_refused_with_a_reason(password: str, reason: str) -> None:
    found = weak_password_reason(password)
    assert found is not None and reason in found


def test_a_password_made_of_the_user_name_is_refused() -> None:
    found = weak_password_reason("canbo.ninhbinh1", "canbo.ninhbinh", "Bà Lê Thị Lan")
    assert found is not None and "tên đăng nhập" in found


@pytest.mark.parametrize("password", STRONG)
def test_the_passwords_in_use_pass(password: str) -> None:
    assert weak_password_reason(password, "admin.tw", "Quản trị") is None


@pytest.mark.parametrize("spec", DEMO_USERS, ids=lambda spec: spec.username)
def test_the_demo_accounts_can_still_be_seeded(spec: DemoUser) -> None:
    new_user(UserCreate(username=spec.username, display_name=spec.display_name,
                        password=DEMO_PASSWORD, role=spec.role, agency_id=1))  # fmt: skip


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("password", ["aaaaaaaaaa", "password123"])
async def test_the_api_refuses_a_weak_password(
    world: World, http: aiohttp.ClientSession, password: str
) -> None:
    body = {"username": f"yeu.{uuid.uuid4().hex[:8]}", "display_name": "Mật khẩu yếu",
            "password": password, "role": "officer",
            "agency_id": world.agencies["ninh-binh"]}  # fmt: skip
    async with http.post(world.base_url + API_PREFIX + "/users", json=body,
                         headers=world.headers("admin")) as r:  # fmt: skip
        assert r.status == 422
        assert "Mật khẩu quá dễ đoán" in (await r.json())["detail"]


def test_the_cli_refuses_a_weak_password(cli_env: dict[str, str]) -> None:
    weak = tiepdan(cli_env, "users", "add", "yeu.cli", "--name", "Mật khẩu yếu", "--role",
                   "officer", "--password", "aaaaaaaaaa")  # fmt: skip
    assert weak.returncode != 0 and "Mật khẩu quá dễ đoán" in weak.stderr, weak.stderr
