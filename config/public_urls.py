"""The addresses handed to browsers, and the mistakes that make a deployment unjoinable.

Servers reach each other by the names of their own network (``ws://livekit:7880``,
``http://orchestrator:8470``); browsers need the public ones, behind TLS: a page served over
https may not open a plain ``ws://`` socket, and no browser outside the machine grants camera or
microphone access to a plain-http page. The rules below refuse, when the settings are read, what
would otherwise only show as a citizen's blank join page.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

__all__ = ["is_loopback_url", "public_url_problems"]

_LOCAL_NAMES = frozenset({"localhost"})


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_loopback_url(url: str) -> bool:
    """Whether ``url`` names this machine only (a development or test setup)."""
    host = _host(url)
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        return True
    return _is_ip(host) and ipaddress.ip_address(host).is_loopback


def _internal_name(host: str) -> bool:
    """A single-label name such as ``livekit``: only a Docker network (or a LAN's search
    domain) resolves it, never a citizen's phone."""
    return bool(host) and "." not in host and host not in _LOCAL_NAMES and not _is_ip(host)


def public_url_problems(web_public_url: str, livekit_public_url: str) -> list[str]:
    """What is wrong with the two addresses browsers get, one sentence each (none: fine).

    Production mode is any ``web.public_url`` that is not loopback: browsers of other machines
    use it, so both addresses must be TLS (https, wss).

    Args:
        web_public_url: ``web.public_url``, where browsers open pages.
        livekit_public_url: what browsers get as LiveKit's signalling URL.
    """
    problems = []
    for setting, url, schemes in (
        ("web.public_url", web_public_url, ("http", "https")),
        ("livekit.public_url", livekit_public_url, ("ws", "wss")),
    ):
        parts = urlsplit(url)
        if parts.scheme not in schemes or not parts.hostname:
            problems.append(f"{setting} {url!r} is not a {' or '.join(schemes)} URL")
        elif _internal_name(parts.hostname):
            problems.append(
                f"{setting} {url!r} names host {parts.hostname!r}, which only the servers' own "
                "(Docker) network knows: browsers need the public DNS name"
            )
    if problems:
        return problems
    production = not is_loopback_url(web_public_url)
    web_tls = urlsplit(web_public_url).scheme == "https"
    if production and not web_tls:
        problems.append(
            f"web.public_url {web_public_url!r} is reached from other machines but is not https: "
            "browsers refuse camera and microphone to plain-http pages"
        )
    if (production or web_tls) and urlsplit(livekit_public_url).scheme != "wss":
        problems.append(
            f"livekit.public_url {livekit_public_url!r} must be wss:// when pages are served "
            f"from {web_public_url!r} (browsers block plain ws:// from them)"
        )
    return problems
