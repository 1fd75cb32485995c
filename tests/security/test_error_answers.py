"""Finding 15: what aiohttp would answer by itself (an unknown address, a wrong method, an
address or a body too large) is problem+json with a Vietnamese detail under ``/api/v1`` and a
Vietnamese page with a way home elsewhere, and the request is never echoed back."""

from __future__ import annotations

import io

import aiohttp
import pytest

from tests.integration.conftest import World

pytestmark = pytest.mark.asyncio(loop_scope="session")

LONG = "khieu" * 2_000  # 10 kB
# (method, path, status, words of the Vietnamese answer)
CASES = [
    ("GET", "/api/v1/khong-co", 404, "Không có trang hay thao tác nào"),
    ("POST", "/api/v1/khong-co", 404, "Không có trang hay thao tác nào"),
    ("DELETE", "/api/v1/sessions", 405, "không nhận phương thức DELETE"),
    ("PUT", "/api/v1/me", 405, "không nhận phương thức PUT"),
    ("GET", f"/api/v1/search?q={LONG}", 414, "Địa chỉ yêu cầu dài quá"),
    ("GET", "/khong-co", 404, "Không có trang hay thao tác nào"),
    ("PUT", "/login", 405, "không nhận phương thức PUT"),
    ("DELETE", "/central", 405, "không nhận phương thức DELETE"),
    ("GET", f"/archive/search?q={LONG}", 414, "Địa chỉ yêu cầu dài quá"),
]


@pytest.mark.parametrize(("method", "path", "status", "words"), CASES,
                         ids=[f"{m} {p[:30]}" for m, p, _, _ in CASES])  # fmt: skip
async def test_our_answer_in_vietnamese(
    world: World, http: aiohttp.ClientSession, method: str, path: str, status: int, words: str
) -> None:
    async with http.request(method, world.base_url + path, headers=world.headers("admin")) as r:
        text = await r.text()
        assert r.status == status
        if path.startswith("/api/v1/"):
            assert r.content_type == "application/problem+json"
            body = await r.json(content_type=None)
            assert body["status"] == status and words in body["detail"]
        else:
            assert r.content_type == "text/html"
            assert words in text and '<a href="/">Về trang chủ</a>' in text
        if status == 405:
            assert r.headers["Allow"]
    assert "khieukhieu" not in text  # nothing of the request echoed


async def test_body_too_large(world: World, http: aiohttp.ClientSession) -> None:
    body = io.BytesIO(b"{" + b" " * (11 * 1024 * 1024) + b"}")
    async with http.post(world.base_url + "/api/v1/sessions", data=body,
                         headers=world.headers("admin")) as r:  # fmt: skip
        assert r.status == 413
        assert r.content_type == "application/problem+json"
        assert "vượt quá giới hạn" in (await r.json(content_type=None))["detail"]
