"""The OpenAPI 3.1 document, built from the same route table the router is built from."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

if TYPE_CHECKING:
    from orchestrator.web.api import Route

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
    "400": "Malformed request",
    "401": "Not signed in",
    "403": "Not allowed",
    "404": "No such resource",
    "409": "Not allowed in the current state",
    "422": "Invalid data",
}


def _schema(annotation: Any, defs: dict[str, Any]) -> dict[str, Any]:
    schema = TypeAdapter(annotation).json_schema(ref_template="#/components/schemas/{model}")
    defs.update(schema.pop("$defs", {}))
    return schema


def openapi_document(routes: list[Route], prefix: str) -> dict[str, Any]:
    """The API as OpenAPI 3.1: every route, its body, its answer and its errors."""
    defs: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        operation: dict[str, Any] = {
            "summary": route.summary,
            "operationId": route.handler.__name__,
            "security": [{"cookie": []}, {"bearer": []}],
            "responses": {
                str(route.status): {
                    "description": "OK",
                    "content": {"application/json": {"schema": _schema(route.response, defs)}},
                },
                **{
                    code: {
                        "description": text,
                        "content": {
                            "application/problem+json": {
                                "schema": {"$ref": "#/components/schemas/Problem"}
                            }
                        },
                    }
                    for code, text in _ERRORS.items()
                },
            },
        }
        params = re.findall(r"{(\w+)}", route.path)
        if params:
            operation["parameters"] = [
                {"name": p, "in": "path", "required": True, "schema": {"type": "integer"}}
                for p in params
            ]
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
        paths.setdefault(prefix + route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "tiepdan", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": {**defs, "Problem": _PROBLEM},
            "securitySchemes": {
                "cookie": {"type": "apiKey", "in": "cookie", "name": "tiepdan_session"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    }
