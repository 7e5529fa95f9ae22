"""The gateway's HTTP API served for real (aiohttp TestServer), with fake carriers behind it."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from smsgw.app import GATEWAY, Gateway, build_app
from smsgw.config import Settings
from smsgw.delivery.sender import RetryPolicy
from smsgw.tokens import Role, issue
from tests.smsgw.fakes import FakeChannel

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[Client]:
    app = build_app(
        settings,
        channel_factory=FakeChannel,
        retry=RetryPolicy(first_delay_s=0.001, max_delay_s=0.004),
    )
    async with TestClient(TestServer(app)) as client:
        yield client


@pytest.fixture
def gateway(client: Client) -> Gateway:
    return client.app[GATEWAY]


async def bearer(
    gateway: Gateway,
    role: Role,
    *,
    ministry: str | None = None,
    expired: bool = False,
    revoked: bool = False,
) -> dict[str, str]:
    """Authorization headers of a new token stored in the gateway."""
    now = datetime.now(UTC)
    secret, token = issue(role, now=now, ministry=ministry or "health", expires_days=1)
    if expired:
        token = dataclasses.replace(token, expires_at=now - timedelta(seconds=1))
    if revoked:
        token = dataclasses.replace(token, revoked_at=now)
    await gateway.tokens.add_token(token)
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
async def admin(gateway: Gateway) -> dict[str, str]:
    return await bearer(gateway, Role.ADMIN)
