"""What aiohttp itself answers, said our way: an unknown address, a wrong method, a body or an
address too large become problem+json with a Vietnamese detail under ``/api/v1`` and a
Vietnamese page with a way home elsewhere, and never echo the request back.

Domain errors are the error middleware's (:mod:`orchestrator.app`); this one sits outside it and
sees only the :class:`aiohttp.web.HTTPException` errors the router and the request parser raise.
"""

from __future__ import annotations

import functools
import json
from http import HTTPStatus
from typing import Any, Final

from aiohttp import hdrs, web

from orchestrator.web.api import Handler
from orchestrator.web.html import error_page
from orchestrator.web.router import API_PREFIX

MAX_URL_BYTES: Final = 8 * 1024
"""The longest path and query string served (a search of 500 Vietnamese characters fits)."""

HANDLER_ARGS: Final[dict[str, Any]] = {"max_line_size": 64 * 1024, "max_field_size": 16 * 1024}
"""The request parser's limits, above aiohttp's 8 KiB so that a long address reaches
:func:`http_error_middleware` (which refuses it in Vietnamese) rather than the parser's English
answer; a request line past these still gets the parser's."""

_JSON_DUMPS = functools.partial(json.dumps, ensure_ascii=False)

# status: (the page's title, what went wrong in words a person understands)
_MESSAGES: Final[dict[int, tuple[str, str]]] = {
    400: ("Yêu cầu không hợp lệ", "Máy chủ không đọc được yêu cầu này."),
    404: ("Không tìm thấy trang", "Không có trang hay thao tác nào ở địa chỉ này."),
    405: ("Thao tác không hợp lệ", "Địa chỉ này không nhận phương thức {method}."),
    413: ("Nội dung quá lớn", "Nội dung gửi lên vượt quá giới hạn cho phép."),
    414: ("Địa chỉ quá dài", "Địa chỉ yêu cầu dài quá {limit} byte."),
}
_OTHER: Final = ("Yêu cầu không thực hiện được", "Máy chủ không thực hiện được yêu cầu này.")


def problem(status: int, title: str, detail: str) -> web.Response:
    """An RFC 9457 problem document."""
    return web.json_response(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status=status,
        content_type="application/problem+json",
        dumps=_JSON_DUMPS,
    )


def http_error(request: web.Request, status: int) -> web.Response:
    """Our answer for ``status`` (a 4xx or 5xx aiohttp raised) to ``request``."""
    title, message = _MESSAGES.get(status, _OTHER)
    message = message.format(method=request.method, limit=MAX_URL_BYTES)
    if request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/"):
        return problem(status, HTTPStatus(status).phrase, message)
    return error_page(status, title, message)


@web.middleware
async def http_error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's own 4xx/5xx (unknown route, wrong method, body too large...) as ours; an
    address longer than :data:`MAX_URL_BYTES` is refused before any handler reads it."""
    if len(request.raw_path) > MAX_URL_BYTES:
        return http_error(request, 414)
    try:
        return await handler(request)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        response = http_error(request, e.status)
        if hdrs.ALLOW in e.headers:
            response.headers[hdrs.ALLOW] = e.headers[hdrs.ALLOW]
        return response
