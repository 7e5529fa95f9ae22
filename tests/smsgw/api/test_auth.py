"""Bad tokens and other ministries' officers on every route, from the route table itself.

test_roles.py checks a missing token and each role; here: a wrong, unknown, expired or
revoked token is 401 everywhere, and an officer of another ministry gets 403 or 404 on the
health ministry's broadcast and service, never its data. Supervisors and admins are not
bound to a ministry (SPEC: they approve and manage services for all), so only officers are.
"""

from __future__ import annotations

from typing import Any

import pytest

from channels.simulator import Simulator
from smsgw.access.tokens import PREFIX, Role
from smsgw.api import routes
from smsgw.api.routes import Route
from smsgw.app import Gateway
from smsgw.config import Settings, load
from tests.smsgw.api.catalogue_testbed import add_service
from tests.smsgw.broadcast_testbed import create
from tests.smsgw.testbed import Client, WriteConfig, bearer, on_simulator


@pytest.fixture
def settings(simulator: Simulator, write_config: WriteConfig) -> Settings:
    """conftest.py's, with a failed-auth limit that the 401s below cannot reach (else 429)."""
    text = on_simulator(simulator.port).replace("[http]\n", "[http]\nfailed_auth_limit = 1000\n")
    return load(write_config(text))


PROTECTED = [route for route in routes() if route.roles is not None]
WRONG = {
    "unknown": f"Bearer {PREFIX}{'A' * 43}",
    "not-a-token": "Bearer not-a-token",
    "basic": "Basic YWRtaW46YWRtaW4=",
    "scheme-only": "Bearer",
    "padded": "Bearer      ",
    "latin-1": "Bearer \xe9\xff\tsecret",
    "huge": "Bearer " + "x" * 6000,
}
SECRET = "Vaccination day Saturday, health ministry only"  # a health broadcast's text


async def test_a_wrong_token_is_401_on_every_protected_route(client: Client) -> None:
    wrong = [
        f"{route.method} {route.path} with {name}: {status}"
        for route in PROTECTED
        for name, value in WRONG.items()
        if (status := await _status(client, route, {"Authorization": value})) != 401
    ]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("state", ["expired", "revoked"])
async def test_an_expired_or_revoked_token_is_401_on_every_protected_route(
    client: Client, gateway: Gateway, state: str
) -> None:
    headers = await bearer(
        gateway, Role.ADMIN, expired=state == "expired", revoked=state == "revoked"
    )
    wrong = [
        f"{route.method} {route.path}: {status}"
        for route in PROTECTED
        if (status := await _status(client, route, headers)) != 401
    ]
    assert not wrong, "\n".join(wrong)


# Per route an officer may call: what names the health ministry's resource in the request.
_SCOPED: dict[str, dict[str, Any]] = {
    "POST /api/v1/broadcasts": {"json": {"service": "HEALTH", "texts": {"en": SECRET}}},
    "POST /api/v1/broadcasts/estimate": {"json": {"service": "HEALTH", "texts": {"en": "x"}}},
    "GET /api/v1/broadcasts/{id}": {},
    "POST /api/v1/broadcasts/{id}/cancel": {},
    "POST /api/v1/broadcasts/{id}/approve": {},
    "GET /api/v1/broadcasts/{id}/poll": {},
    "GET /api/v1/broadcasts/{id}/report.csv": {},
    "GET /api/v1/broadcasts/{id}/report": {},
    # tickets: their scope, with tickets that exist, is tests/smsgw/test_inbox.py's
    "GET /api/v1/inbox/{id}": {},
    "POST /api/v1/inbox/{id}/answer": {"json": {"text": "x"}},
    "POST /api/v1/inbox/{id}/assign": {"json": {"to": "me"}},
    "POST /api/v1/inbox/{id}/note": {"json": {"text": "x"}},
    "POST /api/v1/inbox/{id}/close": {},
    "POST /api/v1/inbox/{id}/reopen": {},
    "POST /api/v1/subscriptions": {"json": {"msisdn": "+5016012345", "service": "HEALTH",
                                            "consent_source": "form 12"}},
    "DELETE /api/v1/subscriptions": {"json": {"msisdn": "+5016012345", "service": "HEALTH",
                                              "consent_source": "form 12"}},
    # a number unknown here; one with a health service: tests/smsgw/test_subscribers.py
    "GET /api/v1/subscribers/{msisdn}": {},
    "POST /api/v1/subscriptions/import": {
        "params": {"service": "HEALTH", "consent_source": "form 12"},
        "data": "msisdn,language\n+5016012345,en\n",
        "headers": {"Content-Type": "text/csv"},
    },
}  # fmt: skip
# Open to any token: the catalogue (citizens text its keywords), the caller itself, the
# programme's KPIs, a listing that an officer sees filtered to their ministry, and the
# authorities' warnings (national, and published as a public feed anyway), the districts.
_OPEN = {
    "GET /api/v1/alerts",
    "GET /api/v1/alerts/{identifier}",
    "GET /api/v1/districts",
    "GET /api/v1/services",
    "GET /api/v1/services/{keyword}",
    "GET /api/v1/me",
    "POST /api/v1/me/totp",  # a person's own (a token: 409)
    "POST /api/v1/me/totp/confirm",
    "POST /api/v1/me/password",
    "GET /api/v1/kpis",
    "GET /api/v1/operator/history",  # the binds' throughput and the queue: no ministry's
    "GET /api/v1/broadcasts",
    "GET /api/v1/inbox",
    "GET /api/v1/inbox/canned",
    "GET /api/v1/inbox/kpis",
}


def _officer_may(route: Route) -> bool:
    return route.roles is not None and (not route.roles or Role.OFFICER in route.roles)


async def test_another_ministrys_officer_gets_403_or_404_and_none_of_its_data(
    client: Client, gateway: Gateway
) -> None:
    await add_service(gateway)  # HEALTH, of the ministry "health"
    health = await bearer(gateway, Role.OFFICER, ministry="health")
    broadcast = await create(
        client, health, service="HEALTH", texts={"en": SECRET}, send_at="2099-01-01T00:00:00Z"
    )
    education = await bearer(gateway, Role.OFFICER, ministry="education")
    wrong: list[str] = []
    for route in filter(_officer_may, PROTECTED):
        name = f"{route.method} {route.path}"
        if name in _OPEN:
            continue
        assert name in _SCOPED, f"{name}: say what names the other ministry's resource"
        path = route.path.replace("{id}", str(broadcast["id"])).replace("{keyword}", "HEALTH")
        path = path.replace("{msisdn}", "+5016012345")
        request = dict(_SCOPED[name])
        request["headers"] = {**education, **request.get("headers", {})}
        response = await client.request(route.method, path, **request)
        text = await response.text()
        if response.status not in (403, 404) or SECRET in text:
            wrong.append(f"{name}: {response.status} {text[:200]}")
    assert not wrong, "\n".join(wrong)

    listed = await client.get("/api/v1/broadcasts", headers=education)
    assert listed.status == 200
    assert SECRET not in await listed.text()
    still = await client.get(f"/api/v1/broadcasts/{broadcast['id']}", headers=health)
    assert (await still.json())["state"] == "scheduled"  # not cancelled by the other officer


async def _status(client: Client, route: Route, headers: dict[str, str]) -> int:
    path = route.path.replace("{id}", "1").replace("{keyword}", "HEALTH")
    response = await client.request(route.method, path, json={}, headers=headers)
    return response.status
