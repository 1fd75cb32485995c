"""Who may call an API operation, checked by the router and declared in the OpenAPI document
from the same value, so the two cannot disagree."""

from __future__ import annotations

import hmac
from enum import StrEnum
from typing import Any

from aiohttp import web

from media.assignments import AGENT_HEADER
from orchestrator.core.errors import Unauthenticated
from orchestrator.web.app_keys import SETTINGS, USER
from orchestrator.web.sessions import COOKIE


class Access(StrEnum):
    """``public``: anyone; ``user``: a signed-in user (session cookie, or a bearer API token);
    ``media_agent``: a media agent, by the shared token in its header."""

    PUBLIC = "public"
    USER = "user"
    MEDIA_AGENT = "media_agent"


SIGN_IN_NEEDED = "Cần đăng nhập (cookie phiên hoặc mã truy cập API)."

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "cookie": {"type": "apiKey", "in": "cookie", "name": COOKIE},
    "bearer": {"type": "http", "scheme": "bearer"},
    "media_agent": {"type": "apiKey", "in": "header", "name": AGENT_HEADER},
}
"""The OpenAPI ``securitySchemes``."""

SECURITY: dict[Access, list[dict[str, list[str]]]] = {
    Access.PUBLIC: [],
    Access.USER: [{"cookie": []}, {"bearer": []}],
    Access.MEDIA_AGENT: [{"media_agent": []}],
}
"""The OpenAPI ``security`` requirement of each kind of access."""


def admit(request: web.Request, access: Access) -> None:
    """Refuse (401) a request that ``access`` does not let in.

    Raises:
        Unauthenticated: no signed-in user, or not the media agents' token.
    """
    if access is Access.USER and request[USER] is None:
        raise Unauthenticated(SIGN_IN_NEEDED)
    if access is Access.MEDIA_AGENT:
        sent = request.headers.get(AGENT_HEADER, "")
        expected = request.app[SETTINGS].security.media_agent_token
        if not hmac.compare_digest(sent.encode(), expected.encode()):
            raise Unauthenticated("Chỉ tác tử ghi âm (media agent) được gọi địa chỉ này.")
