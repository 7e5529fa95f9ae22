"""``/api/v1/users``: admins keep people's accounts (a generated password shown once, role and
ministry rules, disabling and resets that end sessions); the audit log names people; four-eyes
approval sees the person behind a session and behind a token as one."""

from __future__ import annotations

from typing import Any

import pytest

from smsgw.access.tokens import Role
from smsgw.app import Gateway
from tests.smsgw.api.catalogue_testbed import add_service, error_of
from tests.smsgw.api.people_testbed import (
    Clock,
    add_person,
    admin_session,
    csrf_of,
    log_in,
    use_clock,
)
from tests.smsgw.broadcast_testbed import create
from tests.smsgw.testbed import Client, bearer

USERS = "/api/v1/users"


@pytest.fixture
def clock(client: Client) -> Clock:
    return use_clock(client)


async def test_an_admin_adds_a_person_whose_generated_password_is_shown_once(
    client: Client, admin: dict[str, str], clock: Clock
) -> None:
    added = await client.post(USERS, json={"name": "Ana Pérez", "role": "supervisor",
                                           "ministry": " Health "}, headers=admin)  # fmt: skip
    assert added.status == 201, await added.text()
    body = await added.json()
    assert (body["name"], body["role"], body["ministry"]) == ("Ana Pérez", "supervisor", "health")
    assert (body["totp"], body["disabled"]) == ("required", False)
    password = body["password"]
    assert len(password) >= 20
    listed = await client.get(USERS, headers=admin)
    assert [u["name"] for u in (await listed.json())["users"]] == ["Ana Pérez"]
    assert password not in await listed.text()
    assert (await log_in(client, "ana pérez", password)).status == 200

    given = {"name": "Luis Pop", "role": "operator", "password": "a long enough one"}
    chosen = await client.post(USERS, json=given, headers=admin)
    assert (await chosen.json())["password"] is None
    again = await client.post(USERS, json={"name": "ANA  pérez", "role": "operator"},
                              headers=admin)  # fmt: skip
    assert (await error_of(again, 409))["field"] == "name"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "A", "role": "officer"}, "ministry"),
        ({"name": "A", "role": "admin", "ministry": "health"}, "ministry"),
        ({"name": "A", "role": "alerting"}, "role"),
        ({"name": "A", "role": "operator", "password": "short"}, "password"),
        ({"name": "A b", "role": "operator", "password": "a b"}, "password"),
        ({"name": "Me", "role": "operator"}, "name"),
        ({"name": "bell\x07", "role": "operator"}, "name"),
    ],
    ids=["no-ministry", "national-with-ministry", "alerting", "short-password",
         "password-is-name", "me", "control-character"],
)  # fmt: skip
async def test_a_person_that_cannot_be_is_refused_naming_the_field(
    client: Client, admin: dict[str, str], body: dict[str, Any], field: str
) -> None:
    refused = await client.post(USERS, json=body, headers=admin)
    assert (await error_of(refused, 400))["field"] == field


async def test_people_are_kept_by_admins_only(
    client: Client, gateway: Gateway, clock: Clock
) -> None:
    supervisor = await bearer(gateway, Role.SUPERVISOR)
    assert (await client.get(USERS, headers=supervisor)).status == 403
    person = await add_person(client, "Maria Chen")
    csrf = await csrf_of(await log_in(client))
    assert (await client.get(USERS)).status == 403  # the officer's session
    change = await client.patch(f"{USERS}/{person.id}", json={"role": "admin"}, headers=csrf)
    assert change.status == 403


async def test_an_admin_changes_roles_and_resets_what_ends_sessions(
    client: Client, admin: dict[str, str], clock: Clock
) -> None:
    person = await add_person(client, "Maria Chen")
    user = f"{USERS}/{person.id}"
    promoted = await client.patch(user, json={"role": "admin"}, headers=admin)
    assert (await promoted.json())["ministry"] is None  # a national role names none
    back = await client.patch(user, json={"role": "officer"}, headers=admin)
    assert (await error_of(back, 400))["field"] == "ministry"
    back = await client.patch(user, json={"role": "officer", "ministry": "education"},
                              headers=admin)  # fmt: skip
    assert (await back.json())["ministry"] == "education"
    moved = await client.patch(user, json={"role": "supervisor"}, headers=admin)
    assert (await moved.json())["ministry"] == "education"  # kept by a ministry's role

    await csrf_of(await log_in(client))
    first = await client.get("/api/v1/broadcasts")
    assert (await error_of(first, 403))["code"] == "totp_required"  # a supervisor now
    reset = await client.patch(user, json={"password": "given by the admin"}, headers=admin)
    assert reset.status == 200
    assert (await client.get("/api/v1/me")).status == 401  # the session ended
    assert (await log_in(client, password="given by the admin")).status == 200
    assert (await client.patch(f"{USERS}/nosuch", json={}, headers=admin)).status == 404


async def test_an_admin_cannot_disable_or_demote_themselves(client: Client, clock: Clock) -> None:
    csrf = await admin_session(client, clock, "Rosa Admin")
    own = (await (await client.get(USERS)).json())["users"][0]["id"]
    for change in ({"disabled": True}, {"role": "operator"}):
        refused = await client.patch(f"{USERS}/{own}", json=change, headers=csrf)
        assert (await error_of(refused, 403))["message"].startswith("another admin must")


async def test_the_audit_log_names_people(client: Client, gateway: Gateway, clock: Clock) -> None:
    csrf = await admin_session(client, clock, "Rosa Admin")
    added = await client.post(USERS, json={"name": "Ana Pérez", "role": "operator"},
                              headers=csrf)  # fmt: skip
    assert added.status == 201
    assert (await log_in(client, "Ana Pérez", "not her password")).status == 401
    token = await client.post("/api/v1/tokens", json={"role": "operator", "person": "Luis Pop"},
                              headers=csrf)  # fmt: skip
    issued = {"Authorization": f"Bearer {(await token.json())['token']}"}
    await client.get("/api/v1/me", headers=issued)
    entries = (await (await client.get("/api/v1/audit")).json())["entries"]
    seen = [(e["action"], e["actor"], e["person"], e["target"]) for e in reversed(entries)]
    assert seen == [
        ("person_created", "cli", None, "Rosa Admin"),
        ("logged_in", "user:Rosa Admin", "Rosa Admin", "Rosa Admin"),
        ("totp_enrolled", "user:Rosa Admin", "Rosa Admin", "Rosa Admin"),
        ("person_created", "user:Rosa Admin", "Rosa Admin", "Ana Pérez"),
        ("login_failed", "address:127.0.0.1", None, "Ana Pérez"),
        ("token_issued", "user:Rosa Admin", "Rosa Admin", seen[-1][3]),
    ]
    assert entries[0]["detail"]["role"] == "operator"


async def test_four_eyes_sees_one_person_in_their_session_and_their_token(
    client: Client, gateway: Gateway, admin: dict[str, str], clock: Clock
) -> None:
    await add_service(gateway, requires_approval=True)
    await add_person(client, "Maria Chen", Role.OFFICER)
    csrf = await csrf_of(await log_in(client))
    body = {"service": "HEALTH", "texts": {"en": "Clinic open"}, "send_at": "2099-01-01T00:00Z"}
    pending = await create(client, csrf, **body)
    assert pending["state"] == "awaiting_approval"
    client.session.cookie_jar.clear()
    approve = f"/api/v1/broadcasts/{pending['id']}/approve"
    hers = {"role": "supervisor", "ministry": "health", "person": "maria chen"}
    token = await client.post("/api/v1/tokens", json=hers, headers=admin)
    refused = await client.post(
        approve, headers={"Authorization": f"Bearer {(await token.json())['token']}"}
    )
    assert (await error_of(refused, 403))["message"] == "a second person must approve a broadcast"
    other = await bearer(gateway, Role.SUPERVISOR)
    assert (await client.post(approve, headers=other)).status == 200
