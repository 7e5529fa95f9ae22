"""What the gateway's tests build on: its config, a message factory, API tokens, and a way to
wait on what sends no event. The fixtures that start it on the simulator are in conftest.py."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from smsgw.access.tokens import Role, issue
from smsgw.app import Gateway
from smsgw.delivery.message import Message, MessageState

CONFIG = """
[gateway]
short_code = "1515"
default_region = "BZ"
timezone = "America/Belize"
data_dir = "data"

[http]
host = "127.0.0.1"
port = 0
password_hash_memory_kib = 64  # people's passwords hashed in microseconds, not 0.2 s

[database]
url = "sqlite:///data/test.db"

[[channels]]
name = "btl-1"
carrier = "btl"
host = "127.0.0.1"
port = 2775
system_id = "smsgw-btl"
password = "secret"
prefixes = ["+50160", "+50161"]

[[channels]]
name = "smart-1"
carrier = "smart"
host = "127.0.0.1"
port = 2775
system_id = "smsgw-smart"
password = "secret"
prefixes = ["+50165"]
"""
CARRIERS = {"btl-1": "btl", "smart-1": "smart"}
WAIT = 10.0  # seconds any one awaited event may take before the test fails

WriteConfig = Callable[[str], Path]
Client = TestClient[web.Request, web.Application]


# a module's tests run on both databases (the `backend` fixture of conftest.py)
BOTH_BACKENDS = pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)


def on_simulator(port: int) -> str:
    """CONFIG with every bind on the simulator at ``port`` and its intervals tiny."""
    tiny = "reconnect_min_s = 0.05\nthrottle_pause_s = 0.01"
    text = CONFIG.replace("port = 2775", f"port = {port}")
    return text.replace('password = "secret"', f'password = "secret"\n{tiny}')


def new_message(to: str = "+5016012345", *, parts: int = 1, validity_s: float = 3600) -> Message:
    now = datetime.now(UTC)
    return Message(
        id=f"m{next(_message_ids)}",
        to=to,
        sender="1515",
        text="Vaccination day Saturday",
        state=MessageState.QUEUED,
        parts=parts,
        encoding="gsm7",
        channel=None,
        error=None,
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(seconds=validity_s),
    )


_message_ids = itertools.count(1)


async def bearer(
    gateway: Gateway,
    role: Role,
    *,
    ministry: str | None = None,
    expired: bool = False,
    revoked: bool = False,
) -> dict[str, str]:
    """Authorization headers of a new token stored in the gateway (officers and supervisors
    name a ministry, "health" unless told; the other roles act nationally)."""
    now = datetime.now(UTC)
    scoped = role in (Role.OFFICER, Role.SUPERVISOR)
    ministry = (ministry or "health") if scoped else None
    secret, token = issue(role, now=now, ministry=ministry, expires_days=1)
    if expired:
        token = dataclasses.replace(token, expires_at=now - timedelta(seconds=1))
    if revoked:
        token = dataclasses.replace(token, revoked_at=now)
    await gateway.store.tokens.add_token(token)
    return {"Authorization": f"Bearer {secret}"}


async def eventually(condition: Callable[[], bool | Awaitable[bool]]) -> None:
    """Polls what a user would look at (the API, the database), which sends no events."""
    async with asyncio.timeout(WAIT):
        while True:
            result = condition()
            if await result if isinstance(result, Awaitable) else result:
                return
            await asyncio.sleep(0.02)
