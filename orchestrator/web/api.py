"""What every JSON API handler uses: the route record, the signed-in user, the body, the query
string, the path's ids, the reply.

Every stage's ``routes`` modules list their operations as :class:`Route` records in ``ROUTES``;
:mod:`orchestrator.app` joins those tables and :mod:`orchestrator.web.router` mounts them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.core.errors import BadRequest, NotFound, Unauthenticated
from orchestrator.db.audit import audit
from orchestrator.db.models import User
from orchestrator.web.access import SIGN_IN_NEEDED, Access
from orchestrator.web.app_keys import USER
from orchestrator.web.bodies import RowId
from orchestrator.web.validation import validation_detail

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    """One API operation: the router and the OpenAPI document are both built from these.

    ``{id}`` in ``path`` is a row id (:data:`ROW_ID`), any other ``{name}`` a path segment;
    ``access`` says who may call it (the router checks it); ``query`` is the model its query
    string is read with (:func:`parse_query`); ``response`` the type of its answer, sent as
    ``response_media_type`` (``None``: no body, as for a redirect).
    """

    method: str
    path: str
    handler: Handler
    summary: str
    body: type[BaseModel] | None = None
    response: Any = None
    status: int = 200
    body_media_type: str = "application/json"
    access: Access = Access.USER
    query: type[BaseModel] | None = None
    response_media_type: str | None = "application/json"


def user_of(request: web.Request) -> User:
    """The signed-in user, or 401."""
    user: User | None = request[USER]
    if user is None:
        raise Unauthenticated(SIGN_IN_NEEDED)
    return user


async def parse(request: web.Request, model: type[M]) -> M:
    """The JSON body as ``model``; 400 when it is not JSON, 422 when it does not fit."""
    try:
        raw = await request.json()
    except ValueError as e:
        raise BadRequest("Nội dung yêu cầu không phải JSON hợp lệ.") from e
    except RecursionError as e:
        raise BadRequest("Nội dung JSON lồng nhau quá sâu.") from e
    return model.model_validate(raw)


def parse_query(query: Mapping[str, str], model: type[M]) -> M:
    """A query string (``request.query``) as ``model`` (a parameter given twice: its first
    value); 400 with the refused parameters named when it does not fit."""
    try:
        return model.model_validate({name: query[name] for name in query})
    except ValidationError as e:
        raise BadRequest(validation_detail(e)) from e


_ANY: TypeAdapter[Any] = TypeAdapter(Any)


def reply(data: Any, status: int = 200) -> web.Response:
    """JSON of pydantic models (or lists of them), Vietnamese kept readable."""
    return web.Response(
        body=_ANY.dump_json(data),
        status=status,
        content_type="application/json",
    )


async def commit_audited(
    request: web.Request, db: AsyncSession, *, action: str, target: str, **detail: Any
) -> None:
    """Commit ``db``'s change with the audit row that says the signed-in user made it, and from
    where: the row and the change it describes are committed together, or neither is."""
    audit(db, action=action, target=target, user=user_of(request), remote=request.remote, **detail)
    await db.commit()


def reply_rows(out: type[BaseModel], rows: Iterable[Any], status: int = 200) -> web.Response:
    """Database rows answered as a JSON list of ``out`` (read from the rows' attributes)."""
    return reply([out.model_validate(row, from_attributes=True) for row in rows], status)


ROW_ID: TypeAdapter[int] = TypeAdapter(RowId)
"""What an ``{id}`` of a path may be; the OpenAPI document declares it from this too."""


def path_int(request: web.Request, name: str) -> int:
    """A row id of the path; 404 when it is not one (no row has it)."""
    try:
        return ROW_ID.validate_python(request.match_info[name], strict=False)
    except ValidationError as e:
        raise NotFound("Không tìm thấy.") from e
