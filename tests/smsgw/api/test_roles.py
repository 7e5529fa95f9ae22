"""Every route × every role, from the route table itself: a route added later is covered too.

Allowed means the role check let the request through (the answer may still be 400 or 404 for
the empty body and made-up ids used here); forbidden means 403. Every protected route answers
401 without a token. Ministry scope (an officer of another ministry) is tested per resource in
test_broadcasts.py and test_subscriptions.py.
"""

from __future__ import annotations

import pytest

from channels.simulator import Simulator
from smsgw.access.tokens import Role
from smsgw.api import routes
from smsgw.api.routes import Route
from smsgw.app import Gateway
from smsgw.config import Settings, load
from tests.smsgw.testbed import Client, WriteConfig, bearer, on_simulator


@pytest.fixture
def settings(simulator: Simulator, write_config: WriteConfig) -> Settings:
    """conftest.py's, with a failed-auth limit that the 401s below cannot reach (else 429)."""
    text = on_simulator(simulator.port).replace("[http]\n", "[http]\nfailed_auth_limit = 1000\n")
    return load(write_config(text))


PROTECTED = [route for route in routes() if route.roles is not None]


def _path(route: Route) -> str:
    path = route.path.replace("{id}", "1").replace("{keyword}", "HEALTH")
    return path.replace("{msisdn}", "+5016012345")


async def _call(client: Client, route: Route, headers: dict[str, str]) -> int:
    response = await client.request(route.method, _path(route), json={}, headers=headers)
    return response.status


async def test_every_route_lets_in_exactly_the_roles_it_names(
    client: Client, gateway: Gateway
) -> None:
    assert len(PROTECTED) >= 20  # the table is really read
    tokens = {role: await bearer(gateway, role, ministry="health") for role in Role}
    wrong: list[str] = []
    for route in PROTECTED:
        assert route.roles is not None
        for role, headers in tokens.items():
            status = await _call(client, route, headers)
            allowed = not route.roles or role in route.roles
            if (allowed and status in (401, 403)) or (not allowed and status != 403):
                wrong.append(f"{route.method} {route.path} as {role}: {status}")
    assert not wrong, "\n".join(wrong)


async def test_every_protected_route_needs_a_token_and_the_public_ones_do_not(
    client: Client,
) -> None:
    for route in PROTECTED:
        assert await _call(client, route, {}) == 401, f"{route.method} {route.path}"
    for route in (route for route in routes() if route.roles is None):
        assert await _call(client, route, {}) not in (401, 403), route.path


def test_officers_can_do_what_the_spec_gives_them_and_no_more() -> None:
    """The table, read as SPEC's role column: a change to it must be deliberate."""
    officer = {
        f"{route.method} {route.path}"
        for route in PROTECTED
        if route.roles is not None and (not route.roles or Role.OFFICER in route.roles)
    }
    assert {
        "POST /api/v1/broadcasts",
        "GET /api/v1/broadcasts/{id}",
        "POST /api/v1/broadcasts/{id}/cancel",
        "POST /api/v1/subscriptions",
        "DELETE /api/v1/subscriptions",
        "GET /api/v1/kpis",
    } <= officer
    assert (
        not {
            "POST /api/v1/broadcasts/{id}/approve",
            "POST /api/v1/messages",
            "POST /api/v1/services",
            "GET /api/v1/tokens",
            "POST /api/v1/tokens",
            "GET /api/v1/audit",
        }
        & officer
    )
