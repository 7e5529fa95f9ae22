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
from smsgw.api.idempotency import HEADER, IDEMPOTENT
from smsgw.api.routes import Route

PATH = "/api/v1/openapi.json"
_PATH_PARAM = re.compile(r"{(\w+)}")
_DESCRIPTIONS = {
    200: "OK",
    201: "Created",
    204: "Done; no content",
    400: "Malformed JSON or an invalid field (named in error.field)",
    401: "Missing, invalid, expired or revoked token (or ended session)",
    403: "The token's role may not do this (a session: no X-CSRF-Token, or TOTP to enrol first)",
    404: "Not found",
    413: "Body too large",
    429: "Too many requests: failed authentications from this address or with this token, or"
    " the token's daily message quota; Retry-After says when to try again",
    503: "The database cannot be written now (disk full, locked); nothing was stored: try"
    " again after Retry-After",
}

Content = Callable[[type[BaseModel], JsonSchemaMode], dict[str, Any]]
Parameters = Callable[[type[BaseModel]], list[dict[str, Any]]]


def document(routes: list[Route]) -> dict[str, Any]:
    keys: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorBody, "serialization")]
    for route in routes:
        keys += [(model, "validation") for model in (route.body, route.query) if model]
        keys += [(model, "serialization") for model in route.responses.values() if model]
    refs, top = models_json_schema(
        list(dict.fromkeys(keys)), ref_template="#/components/schemas/{model}"
    )

    def content(model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, Any]:
        return {"application/json": {"schema": refs[(model, mode)]}}

    schemas = top.get("$defs", {})

    def query(model: type[BaseModel]) -> list[dict[str, Any]]:
        name = refs[(model, "validation")]["$ref"].rsplit("/", 1)[-1]
        schema = schemas[name]
        return [
            {"name": key, "in": "query", "required": key in schema.get("required", ()),
             "schema": _not_null(value)}
            for key, value in schema["properties"].items()
        ]  # fmt: skip

    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        operation = _operation(route, content, query)
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "smsgw",
            "version": __version__,
            "description": "National SMS broadcast and subscription gateway",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                # what the console uses in place of a token (POST /api/v1/session)
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "smsgw_session",
                    "description": "a person's log-in; unsafe requests add X-CSRF-Token",
                },
            },
        },
    }


def _operation(route: Route, content: Content, query: Parameters) -> dict[str, Any]:
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
    elif route.stream is not None:  # not bounded by client_max_size: no 413
        operation["requestBody"] = {"required": True, "content": dict(route.stream)}
    if route.roles is not None:
        responses[401] = ErrorBody
        responses[429] = ErrorBody  # the failed-authentication limit answers any route
    if route.method != "GET":
        responses[503] = ErrorBody  # a write while the database cannot be written
    if route.roles:
        responses[403] = ErrorBody
    operation["responses"] = {
        str(status): {
            "description": _DESCRIPTIONS.get(status, ""),
            **({"content": content(model, "serialization")} if model else {}),
        }
        for status, model in sorted(responses.items())
    }
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAM.findall(route.path)
    ]
    if route.query is not None:
        parameters += query(route.query)
    if route.handler in IDEMPOTENT:
        parameters.append(_IDEMPOTENCY_KEY)
        operation["responses"]["409"] = {
            "description": "Idempotency-Key used with another request in the last 24 hours, or"
            " its first request still being answered",
            "content": content(ErrorBody, "serialization"),
        }
    if parameters:
        operation["parameters"] = parameters
    return operation


_IDEMPOTENCY_KEY = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": "the same key and request from the same token within 24 hours answers what"
    " the first did (header Idempotent-Replayed: true) and sends nothing again",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
}


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query string has no null: ``int | None = None`` is documented as an optional int."""
    options = [option for option in schema.get("anyOf", ()) if option != {"type": "null"}]
    if len(options) != 1:
        return schema
    rest = {key: value for key, value in schema.items() if key not in ("anyOf", "default")}
    only: dict[str, Any] = options[0]
    return rest | only


def route(routes: list[Route]) -> Route:
    """The route serving the document of ``routes`` and of itself, rendered once."""

    async def openapi(_request: web.Request) -> web.Response:
        return web.Response(text=text, content_type="application/json")

    own = Route("GET", PATH, openapi, "This document", roles=None, responses={200: None})
    text = json.dumps(document([*routes, own]))
    return own
