"""``GET /api/v1/openapi.json``: the OpenAPI 3.1 document, generated from the route table and
the pydantic models (whose JSON Schemas are OpenAPI 3.1 schemas as they are)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from smsgw import __version__
from smsgw.api.errors import ErrorBody
from smsgw.api.routes import Route

PATH = "/api/v1/openapi.json"
_PATH_PARAM = re.compile(r"{(\w+)}")
_DESCRIPTIONS = {
    200: "OK",
    201: "Created",
    400: "Malformed JSON or an invalid field (named in error.field)",
    401: "Missing, invalid, expired or revoked token",
    403: "The token's role may not do this",
    404: "Not found",
    413: "Body too large",
}

Content = Callable[[type[BaseModel], JsonSchemaMode], dict[str, Any]]


def document(routes: list[Route]) -> dict[str, Any]:
    keys: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorBody, "serialization")]
    for route in routes:
        if route.body is not None:
            keys.append((route.body, "validation"))
        keys += [(model, "serialization") for model in route.responses.values() if model]
    refs, top = models_json_schema(
        list(dict.fromkeys(keys)), ref_template="#/components/schemas/{model}"
    )

    def content(model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, Any]:
        return {"application/json": {"schema": refs[(model, mode)]}}

    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, content)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "smsgw",
            "version": __version__,
            "description": "National SMS broadcast and subscription gateway",
        },
        "paths": paths,
        "components": {
            "schemas": top.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _operation(route: Route, content: Content) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": route.handler.__name__,
        "summary": route.summary,
        "security": [] if route.roles is None else [{"bearer": []}],
    }
    if route.roles:
        operation["description"] = "Roles: " + ", ".join(route.roles)
    responses: dict[int, type[BaseModel] | None] = dict(route.responses)
    if route.body is not None:
        operation["requestBody"] = {"required": True, "content": content(route.body, "validation")}
        responses |= {400: ErrorBody, 413: ErrorBody}
    if route.roles is not None:
        responses[401] = ErrorBody
    if route.roles:
        responses[403] = ErrorBody
    operation["responses"] = {
        str(status): {
            "description": _DESCRIPTIONS.get(status, ""),
            **({"content": content(model, "serialization")} if model else {}),
        }
        for status, model in sorted(responses.items())
    }
    if names := _PATH_PARAM.findall(route.path):
        operation["parameters"] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in names
        ]
    return operation


def route(routes: list[Route]) -> Route:
    """The route serving the document of ``routes`` and of itself, rendered once."""

    async def openapi(_request: web.Request) -> web.Response:
        return web.Response(text=text, content_type="application/json")

    own = Route("GET", PATH, openapi, "This document", roles=None, responses={200: None})
    text = json.dumps(document([*routes, own]))
    return own
