"""What the tests of people's log-ins share: a clock the test moves, people added to the
gateway, log-ins through the API (the test client keeps the cookie), TOTP codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
from aiohttp import ClientResponse

from smsgw.access.people import SCOPED, Person
from smsgw.access.tokens import Role
from smsgw.api.context import SERVICES
from tests.smsgw.testbed import Client

SESSION = "/api/v1/session"
PASSWORD = "correct horse battery"


class Clock:
    """The log-ins' time (Logins.clock), moved on by the test; starts now."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def use_clock(client: Client) -> Clock:
    clock = Clock()
    client.app[SERVICES].logins.clock = clock
    return clock


async def add_person(
    client: Client, name: str = "Maria Chen", role: Role = Role.OFFICER, **kwargs: Any
) -> Person:
    """A person with PASSWORD (officers and supervisors of "health")."""
    ministry = "health" if role in SCOPED else None
    person, _ = await client.app[SERVICES].accounts.create(
        None, name=name, role=role, ministry=ministry, password=PASSWORD, **kwargs
    )
    return person


async def log_in(
    client: Client, name: str = "Maria Chen", password: str = PASSWORD, code: str | None = None
) -> ClientResponse:
    body = {"name": name, "password": password} | ({"code": code} if code else {})
    return await client.post(SESSION, json=body)


async def csrf_of(response: ClientResponse) -> dict[str, str]:
    """The X-CSRF-Token header of a successful log-in."""
    assert response.status == 200, await response.text()
    return {"X-CSRF-Token": (await response.json())["csrf"]}


async def enrol(client: Client, csrf: dict[str, str], clock: Clock) -> tuple[str, list[str]]:
    """TOTP enrolled in the logged-in session: (its secret, the recovery codes)."""
    started = await client.post("/api/v1/me/totp", headers=csrf)
    assert started.status == 200, await started.text()
    secret: str = (await started.json())["secret"]
    code = pyotp.TOTP(secret).at(clock.now)
    confirmed = await client.post("/api/v1/me/totp/confirm", json={"code": code}, headers=csrf)
    assert confirmed.status == 200, await confirmed.text()
    return secret, (await confirmed.json())["recovery_codes"]


async def admin_session(client: Client, clock: Clock, name: str = "Rosa Admin") -> dict[str, str]:
    """An admin logged in with TOTP enrolled: the CSRF header (the cookie is the client's)."""
    await add_person(client, name, Role.ADMIN)
    csrf = await csrf_of(await log_in(client, name))
    await enrol(client, csrf, clock)
    return csrf
