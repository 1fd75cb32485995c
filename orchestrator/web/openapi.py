"""The OpenAPI 3.1 document, built from the same route table the router is built from: each
operation's access, path ids, query model, body model and answer are read from its
:class:`~orchestrator.web.api.Route`, so what is declared is what is enforced."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, TypeAdapter

from orchestrator.web.access import SECURITY, SECURITY_SCHEMES
from orchestrator.web.api import ROW_ID

if TYPE_CHECKING:
    from orchestrator.web.api import Route

_REF = "#/components/schemas/{model}"
_PROBLEM = {
    "type": "object",
    "required": ["title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "Vietnamese, for people"},
    },
}
_ERRORS = {
    "400": "Malformed request (body, query string)",
    "401": "Not signed in",
    "403": "Not allowed",
    "404": "No such resource",
    "409": "Not allowed in the current state",
    "413": "Request body too large",
    "422": "Invalid data",
    "503": "A service it depends on did not answer",
}


def _schema(annotation: Any, defs: dict[str, Any]) -> dict[str, Any]:
    schema = TypeAdapter(annotation).json_schema(ref_template=_REF)
    defs.update(schema.pop("$defs", {}))
    return schema


def _path_parameters(path: str) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": ROW_ID.json_schema() if name == "id" else {"type": "string", "minLength": 1},
        }
        for name in re.findall(r"{(\w+)}", path)
    ]


def _without_null(field: dict[str, Any]) -> dict[str, Any]:
    """A query parameter's schema without its ``null`` branch: a query string cannot say
    ``null``; an optional parameter is one left out."""
    branches = [b for b in field.get("anyOf", []) if b != {"type": "null"}]
    if len(branches) != 1:
        return field
    rest = {k: v for k, v in field.items() if k not in ("anyOf", "default")}
    return {**rest, **branches[0]}


def _query_parameters(model: type[BaseModel], defs: dict[str, Any]) -> list[dict[str, Any]]:
    """One parameter per field of ``model``, named by its alias, with its constraints."""
    schema = model.model_json_schema(ref_template=_REF, by_alias=True)
    defs.update(schema.pop("$defs", {}))
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": _without_null(field)}
        for name, field in schema["properties"].items()
    ]


def _success(route: Route, defs: dict[str, Any]) -> dict[str, Any]:
    if route.response_media_type is None:
        return {
            "description": "Redirect",
            "headers": {"Location": {"required": True, "schema": {"type": "string"}}},
        }
    schema = (
        {"type": "string"}
        if route.response_media_type != "application/json"
        else _schema(route.response, defs)
    )
    return {"description": "OK", "content": {route.response_media_type: {"schema": schema}}}


def _operation(route: Route, defs: dict[str, Any]) -> dict[str, Any]:
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    operation: dict[str, Any] = {
        "summary": route.summary,
        "operationId": route.handler.__name__,
        "security": SECURITY[route.access],
        "responses": {
            str(route.status): _success(route, defs),
            **{code: {"description": text, "content": problem} for code, text in _ERRORS.items()},
        },
    }
    parameters = _path_parameters(route.path)
    if route.query is not None:
        parameters += _query_parameters(route.query, defs)
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {route.body_media_type: {"schema": _schema(route.body, defs)}},
        }
    elif route.body_media_type != "application/json":
        operation["requestBody"] = {
            "required": True,
            "content": {route.body_media_type: {"schema": {"type": "string"}}},
        }
    return operation


def openapi_document(routes: list[Route], prefix: str) -> dict[str, Any]:
    """The API as OpenAPI 3.1: every route, who may call it, its parameters, its body, its
    answer and its errors."""
    defs: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(prefix + route.path, {})[route.method.lower()] = _operation(route, defs)
    return {
        "openapi": "3.1.0",
        "info": {"title": "tiepdan", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": {**defs, "Problem": _PROBLEM},
            "securitySchemes": SECURITY_SCHEMES,
        },
    }
