"""The router: API operations under ``/api/v1`` with their OpenAPI document, and the pages."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aiohttp import web

from orchestrator.web.access import admit
from orchestrator.web.api import Handler, Route
from orchestrator.web.openapi import openapi_document

API_PREFIX = "/api/v1"


@dataclass(frozen=True)
class Page:
    """One route outside the JSON API: an HTML page, a feed, a webhook."""

    method: str
    path: str
    handler: Handler


def _admitted(route: Route) -> Handler:
    """``route``'s handler, behind the check of who may call it."""

    async def handler(request: web.Request) -> web.StreamResponse:
        admit(request, route.access)
        return await route.handler(request)

    return handler


def mount(app: web.Application, api: Iterable[Route], pages: Iterable[Page]) -> None:
    """Register every API operation, the OpenAPI document built from them, and every page.

    An ``{id}`` matches digits only, so ``/sessions/import`` is never taken for a session's id.
    """
    routes = list(api)
    for route in routes:
        path = API_PREFIX + route.path.replace("{id}", r"{id:\d+}")
        app.router.add_route(route.method, path, _admitted(route))

    async def openapi(_request: web.Request) -> web.Response:
        return web.json_response(openapi_document(routes, API_PREFIX))

    app.router.add_get(API_PREFIX + "/openapi.json", openapi)
    for page in pages:
        app.router.add_route(page.method, page.path, page.handler)
