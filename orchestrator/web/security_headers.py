"""The headers every answer carries: a Content-Security-Policy the pages satisfy (no inline
script or style, nothing framed), no MIME sniffing, no referrer (links carry tokens), HSTS when
the service is public over https; and no ``Server`` header (aiohttp's names its version and
Python's)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from urllib.parse import urlsplit

from aiohttp import hdrs, web

from config import Settings

_HTTP_OF_WS = {"ws": "http", "wss": "https"}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(settings: Settings) -> str:
    """The policy: scripts, styles and everything else from this origin only; the join page
    may reach LiveKit (its signalling socket, and the HTTP check the client makes when that
    fails); the player may play the presigned archive URLs the media route redirects to."""
    livekit = _origin(settings.livekit.url)
    scheme = urlsplit(livekit).scheme
    livekit_http = _HTTP_OF_WS.get(scheme, scheme) + livekit[len(scheme) :]
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self' data: blob:",
        "media-src": f"'self' blob: {_origin(settings.s3.endpoint)}",
        "connect-src": f"'self' {livekit} {livekit_http}",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def security_headers(settings: Settings) -> Mapping[str, str]:
    """Every header :func:`setup_security_headers` adds, for ``settings``."""
    headers = {
        "Content-Security-Policy": content_security_policy(settings),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",  # frame-ancestors, for browsers without CSP level 2
        "Referrer-Policy": "no-referrer",
    }
    if urlsplit(settings.web.public_url).scheme == "https":
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return MappingProxyType(headers)


def setup_security_headers(app: web.Application, settings: Settings) -> None:
    """Add :func:`security_headers` to every answer the app's routes give (pages, API, static
    files, event streams, errors), unless a handler set one of them itself, and take the
    ``Server`` header off."""
    headers = security_headers(settings)

    async def add_headers(_request: web.Request, response: web.StreamResponse) -> None:
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        response.headers.popall(hdrs.SERVER, None)  # aiohttp sets it just before this hook

    app.on_response_prepare.append(add_headers)
