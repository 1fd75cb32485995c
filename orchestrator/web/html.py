"""The HTML pages' one template environment (``orchestrator/web/templates``, each page extending
``base.html``) and the Vietnamese error page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, PackageLoader

# Pages are rendered on the event loop, where reading (or stat-ing, to see whether it changed) a
# template file would block it: every template is compiled here, once, and never looked at again.
templates = Environment(
    loader=PackageLoader("orchestrator.web", "templates"), autoescape=True, auto_reload=False
)
for _name in templates.list_templates():
    templates.get_template(_name)

STATIC_DIR = Path(__file__).parent / "static"
"""Files served under ``/static`` (the bundle ``join.js`` is built here by ``make setup``)."""


def render(name: str, **context: Any) -> str:
    """The template ``name`` rendered with ``context``."""
    return templates.get_template(name).render(**context)


def html_page(name: str, status: int = 200, **context: Any) -> web.Response:
    """A page answer: the template ``name`` rendered with ``context``."""
    return web.Response(text=render(name, **context), status=status, content_type="text/html")


def error_page(status: int, title: str, message: str) -> web.Response:
    """A Vietnamese error page: what went wrong, in words a person understands."""
    return html_page("error.html", status, title=title, message=message)
