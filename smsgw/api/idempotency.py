"""``Idempotency-Key`` on the sends (POST /messages, /messages/batch, /broadcasts): the same
key and request from the same token within 24 hours answers what the first did and does
nothing again; the key with another request is 409 ``idempotency_key_reused``; while the first
is still being answered, 409 ``request_in_progress`` (Retry-After: 1)."""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import UTC, datetime

from aiohttp import web

from smsgw.api.context import PRINCIPAL, SERVICES
from smsgw.api.errors import ApiError, Handler
from smsgw.api.routes import read_raw

HEADER = "Idempotency-Key"
IDEMPOTENT: set[Handler] = set()  # the handlers that take one (the OpenAPI document says so)
_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # printable ASCII, no spaces (a UUID, a ULID…)


def idempotent(handler: Handler) -> Handler:
    async def answer_once(request: web.Request) -> web.StreamResponse:
        key = request.headers.get(HEADER)
        if key is None:
            return await handler(request)
        if not _KEY.fullmatch(key):
            raise ApiError(400, "invalid", "1 to 255 printable characters", field=HEADER)
        raw = await read_raw(request)
        digest = hashlib.sha256(
            b"\n".join([request.method.encode(), request.path_qs.encode(), raw])
        ).hexdigest()
        store, token = request.app[SERVICES].idempotency, request[PRINCIPAL].id
        seen = await store.claim(token, key, digest, at=datetime.now(UTC))
        if seen is not None:
            return _again(seen.digest == digest, seen.status, seen.body)
        try:
            response = await handler(request)
        except BaseException:
            # nothing was done: the key is free for the retry (shielded: a client that went
            # cancels this task)
            await asyncio.shield(store.forget(token, key))
            raise
        if 200 <= response.status < 300 and isinstance(response, web.Response):
            await store.remember(token, key, status=response.status, body=response.text or "")
        else:
            await store.forget(token, key)
        return response

    IDEMPOTENT.add(answer_once)
    return answer_once


def _again(same: bool, status: int | None, body: str | None) -> web.Response:
    if not same:
        raise ApiError(
            409, "idempotency_key_reused",
            "this Idempotency-Key was used with another request in the last 24 hours",
            field=HEADER,
        )  # fmt: skip
    if status is None:
        raise ApiError(
            409, "request_in_progress", "the first request with this key is still being answered",
            headers={"Retry-After": "1"},
        )  # fmt: skip
    response = web.Response(status=status, text=body, content_type="application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response
