"""Finding 6: the login form's ``next`` must not send anyone to another site, however it is
disguised; it is judged as a browser reads it (tabs and newlines dropped, ends trimmed,
backslashes read as slashes)."""

from __future__ import annotations

import html
import re
from urllib.parse import quote, urljoin, urlsplit

import pytest

from tests.form_login import login_form
from tests.integration.conftest import PASSWORD, World
from tests.security.conftest import Browser, NewAccount

# As they arrive, once the query or form encoding is undone.
HOSTILE = [
    "//evil.example",
    "/\t/evil.example",  # the probe's /%09/evil.example
    "/\n/evil.example",
    "/\r\n/evil.example",
    "\t//evil.example",
    " //evil.example",
    "\x00//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "\\/evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "evil.example",
]
LOCAL = ["/", "/central", "/archive/search?q=b%E1%BB%93i&page=2", "/sessions/7#moi"]


def stays_on_site(base_url: str, location: str) -> bool:
    """Whether a browser on the login page stays on the site when sent to ``location``
    (urljoin drops tabs and newlines as browsers do; browsers also read ``\\`` as ``/``)."""
    reached = urljoin(base_url + "/login", location.replace("\\", "/"))
    return urlsplit(reached).netloc == urlsplit(base_url).netloc


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("value", HOSTILE)
async def test_signing_in_never_redirects_off_site(
    world: World, new_account: NewAccount, browser_from: Browser, value: str
) -> None:
    username = await new_account()
    async with browser_from() as browser:
        # The form keeps what it was given in a hidden field: already judged there.
        raw = f"{world.base_url}/login?next={quote(value, safe='/')}"
        async with browser.get(raw) as r:
            page = await r.text()
        kept = re.search(r'name="next" value="([^"]*)"', page)
        assert kept and stays_on_site(world.base_url, html.unescape(kept.group(1)))
        # And a form posted with it, as an attacker's page would.
        form = await login_form(browser, world.base_url)
        form |= {"username": username, "password": PASSWORD, "next": value}
        async with browser.post(world.base_url + "/login", data=form, allow_redirects=False) as r:
            assert r.status == 303
            assert stays_on_site(world.base_url, r.headers["Location"])


@pytest.mark.asyncio(loop_scope="session")
async def test_a_local_next_is_followed(
    world: World, new_account: NewAccount, browser_from: Browser
) -> None:
    username = await new_account()
    async with browser_from() as browser:
        for value in LOCAL:
            form = await login_form(browser, world.base_url)
            form |= {"username": username, "password": PASSWORD, "next": value}
            async with browser.post(
                world.base_url + "/login", data=form, allow_redirects=False
            ) as r:
                assert r.status == 303 and r.headers["Location"] == value
