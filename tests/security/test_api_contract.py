"""The API contract, checked by machines: ``/api/v1/openapi.json`` is valid OpenAPI and is the
document the route table builds, and schemathesis, calling every operation as an admin and as an
officer (and the media agents' routes as an agent) with data it derives from the document, gets
no 5xx and no answer the document does not allow.

Schemathesis's requests are blocking (``requests``): each runs in a thread while the session's
event loop, which serves the orchestrator, goes on.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp
import pytest
import schemathesis
from openapi_spec_validator import validate

from media.assignments import AGENT_HEADER
from orchestrator.app import API_ROUTES
from orchestrator.web.access import Access
from orchestrator.web.openapi import openapi_document
from orchestrator.web.router import API_PREFIX
from tests.integration.conftest import World

DOCUMENT = openapi_document(API_ROUTES, API_PREFIX)
ACCESS = {(r.method, API_PREFIX + r.path): r.access for r in API_ROUTES}
# Bounded so that both identities on both databases take about two minutes on two cores.
MAX_EXAMPLES = 6
SCHEMA = schemathesis.openapi.from_dict(
    DOCUMENT,
    config=schemathesis.Config.from_dict(
        {
            "seed": 14,
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
            "checks": {
                # The API's rules go beyond what a schema can say (an end after the start, an
                # office that exists, a search with words in it, a password hard to guess): a
                # request the schema allows may still be refused with a Vietnamese 400 or 422.
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "3xx", 400, 401, 403, 404, 409, 422]
                },
            },
        }
    ),
)


@dataclass
class Caller:
    """Whose credentials the operations are called with (the ``caller`` fixture sets them)."""

    bearer: str = ""
    agent: str = ""


CALLER = Caller()


@SCHEMA.auth(refresh_interval=None)
class RouteCredentials:
    """Each operation's credentials, as its route's access says: the caller's bearer token, the
    media agents' token, or none."""

    def get(self, case: schemathesis.Case, ctx: schemathesis.AuthContext) -> Caller:
        return CALLER

    def set(self, case: schemathesis.Case, data: Caller, ctx: schemathesis.AuthContext) -> None:
        access = ACCESS[(case.operation.method.upper(), case.operation.path)]
        if access is Access.USER:
            case.headers["Authorization"] = f"Bearer {data.bearer}"
        elif access is Access.MEDIA_AGENT:
            case.headers[AGENT_HEADER] = data.agent


@pytest.fixture(scope="module", params=["admin", "officer"])
def caller(request: pytest.FixtureRequest, world: World) -> str:
    """Call as an admin, then as an officer (module scope: hypothesis forbids a function-scoped
    fixture, which it would not reset between examples)."""
    CALLER.bearer = world.tokens[request.param]
    CALLER.agent = world.settings.security.media_agent_token
    return str(request.param)


@pytest.mark.asyncio(loop_scope="session")
async def test_the_served_document_is_valid_openapi_built_from_the_routes(world: World) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(world.base_url + API_PREFIX + "/openapi.json") as r:
            served = await r.json()
    assert served == DOCUMENT
    validate(served)  # unique operation ids among the rest
    search = {p["name"] for p in served["paths"][API_PREFIX + "/search"]["get"]["parameters"]}
    assert len(search) == 14 and {"q", "from", "to", "case", "per_page"} <= search
    listed = served["paths"][API_PREFIX + "/sessions"]["get"]["parameters"]
    assert {p["name"] for p in listed} == {"status", "from", "to"}
    heartbeat = served["paths"][API_PREFIX + "/media/heartbeat"]["post"]
    assert heartbeat["security"] == [{"media_agent": []}]
    key = served["paths"][API_PREFIX + "/archive/public-key"]["get"]
    assert key["security"] == [] and "application/x-pem-file" in key["responses"]["200"]["content"]


@SCHEMA.parametrize()
async def test_every_operation_keeps_to_the_document(
    case: schemathesis.Case, caller: str, world: World
) -> None:
    await asyncio.to_thread(case.call_and_validate, base_url=world.base_url)
