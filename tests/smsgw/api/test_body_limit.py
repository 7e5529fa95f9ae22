"""A body over the limit (smsgw.api.MAX_BODY) is 413 in the API's JSON error shape on every
route that reads one, whether its size is announced (Content-Length) or not (chunked); a body
within it that JSON cannot hold (nested past Python's recursion limit) is 400, not 500.

Walks the route table: a route declaring a body is covered when it is added. The CSV import
declares a stream instead: read as it arrives, it has no size limit but bounds each line
(test_subscriptions.py).
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest

from smsgw.api import MAX_BODY, routes
from smsgw.api.routes import Route
from tests.smsgw.testbed import Client

WITH_BODY = [route for route in routes() if route.body is not None]
OVER = b'{"text": "' + b"x" * MAX_BODY + b'"}'


async def _chunked() -> AsyncIterator[bytes]:
    for start in range(0, len(OVER), 64 * 1024):
        yield OVER[start : start + 64 * 1024]


def _path(route: Route) -> str:
    return route.path.replace("{id}", "1").replace("{keyword}", "HEALTH")


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_every_body_over_the_limit_is_413_as_json(
    client: Client, admin: dict[str, str], chunked: bool
) -> None:
    assert len(WITH_BODY) >= 8  # the table is really read
    headers = {**admin, "Content-Type": "application/json"}
    wrong: list[str] = []
    for route in WITH_BODY:
        data = _chunked() if chunked else io.BytesIO(OVER)  # (raw bytes over 1 MB: a warning)
        response = await client.request(route.method, _path(route), data=data, headers=headers)
        body = await response.json() if response.content_type == "application/json" else {}
        code = body.get("error", {}).get("code")
        if response.status != 413 or code != "request_entity_too_large":
            wrong.append(f"{route.method} {route.path}: {response.status} {body}")
    assert not wrong, "\n".join(wrong)
    assert (await client.get("/healthz")).status == 200


async def test_a_body_just_under_the_limit_is_read(client: Client, admin: dict[str, str]) -> None:
    """The limit is the configured one, not something smaller: this one fails validation."""
    text = b"x" * (MAX_BODY - 64)
    body = b'{"to": "+5016012345", "text": "' + text + b'"}'
    response = await client.post(
        "/api/v1/messages",
        data=io.BytesIO(body),
        headers={**admin, "Content-Type": "application/json"},
    )
    assert response.status == 400, await response.text()


@pytest.mark.parametrize("nested", ["[" * 50_000, '{"a":' * 50_000], ids=["arrays", "objects"])
async def test_a_deeply_nested_body_is_400_not_500(
    client: Client, admin: dict[str, str], nested: str
) -> None:
    """json.loads raises RecursionError (not a ValueError) past ~1,000 levels."""
    headers = {**admin, "Content-Type": "application/json"}
    wrong: list[str] = []
    for route in WITH_BODY:
        response = await client.request(route.method, _path(route), data=nested, headers=headers)
        if response.status != 400:
            wrong.append(f"{route.method} {route.path}: {response.status}")
    assert not wrong, "\n".join(wrong)
