"""Tokens (issue, list, revoke, expiry), the audit log, and the limit on failed logins."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from ipaddress import ip_network
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from smsgw.access.tokens import Role
from smsgw.api.auth import FailedAuth
from smsgw.app import GATEWAY, Gateway, build_app
from smsgw.config import Settings
from tests.smsgw.api.catalogue_testbed import SERVICES, add_service, error_of, health_body
from tests.smsgw.broadcast_testbed import BROADCASTS, create, numbers, seed
from tests.smsgw.testbed import Client, bearer

TOKENS = "/api/v1/tokens"
AUDIT = "/api/v1/audit"


async def _json(client: Client, path: str, headers: dict[str, str]) -> Any:
    response = await client.get(path, headers=headers)
    assert response.status == 200, await response.text()
    return await response.json()


async def _token_id(gateway: Gateway, headers: dict[str, str]) -> str:
    from smsgw.access.tokens import hash_secret

    token = await gateway.store.tokens.token_by_hash(hash_secret(headers["Authorization"][7:]))
    assert token is not None
    return token.id


async def test_an_admin_issues_a_token_that_works_at_once_and_is_listed_without_its_secret(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    body = {"role": "officer", "ministry": "health", "expires_days": 30, "person": "Ana"}
    response = await client.post(TOKENS, json=body, headers=admin)
    assert response.status == 201, await response.text()
    issued = await response.json()
    assert issued["token"].startswith("smsgw_")
    assert issued["usable"] is True
    expires = datetime.fromisoformat(issued["expires_at"])
    assert timedelta(days=29, hours=23) < expires - datetime.now(UTC) <= timedelta(days=30)

    officer = {"Authorization": f"Bearer {issued['token']}"}
    assert (await client.get(BROADCASTS, headers=officer)).status == 200
    listed = await _json(client, TOKENS, admin)
    mine = [t for t in listed["tokens"] if t["id"] == issued["id"]]
    assert mine == [{k: v for k, v in issued.items() if k != "token"}]
    assert issued["token"] not in str(listed)


async def test_the_listing_says_when_each_token_was_last_used(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    used = await bearer(gateway, Role.OPERATOR)
    idle = await bearer(gateway, Role.OPERATOR)
    before = datetime.now(UTC)
    assert (await client.get("/api/v1/kpis", headers=used)).status == 200
    assert (
        await client.get("/api/v1/kpis", headers={"Authorization": "Bearer nope"})
    ).status == 401
    await gateway.token_usage.flush()  # the minute's batch, written now
    listed = {t["id"]: t["last_used_at"] for t in (await _json(client, TOKENS, admin))["tokens"]}
    assert listed[await _token_id(gateway, idle)] is None
    last = datetime.fromisoformat(listed[await _token_id(gateway, used)])
    assert before <= last <= datetime.now(UTC)


async def test_a_revoked_token_is_refused_at_once(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    officer = await bearer(gateway, Role.OFFICER, ministry="health")
    assert (await client.get(BROADCASTS, headers=officer)).status == 200
    token_id = await _token_id(gateway, officer)

    response = await client.delete(f"{TOKENS}/{token_id}", headers=admin)

    assert response.status == 200, await response.text()
    assert (await response.json())["usable"] is False
    assert (await error_of(await client.get(BROADCASTS, headers=officer), 401))["code"]
    again = await client.delete(f"{TOKENS}/{token_id}", headers=admin)
    assert (await error_of(again, 409))["code"] == "conflict"
    unknown = await client.delete(f"{TOKENS}/nosuchtoken", headers=admin)
    assert (await error_of(unknown, 404))["code"] == "not_found"


async def test_an_expired_token_is_listed_as_unusable_and_refused(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    expired = await bearer(gateway, Role.OPERATOR, expired=True)
    token_id = await _token_id(gateway, expired)

    assert (await error_of(await client.get(BROADCASTS, headers=expired), 401))["code"]
    listed = {t["id"]: t for t in (await _json(client, TOKENS, admin))["tokens"]}
    assert listed[token_id]["usable"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "officer"}, "ministry"),  # an officer needs a ministry
        ({"role": "officer", "ministry": " "}, "ministry"),
        ({"role": "officer", "ministry": "health\u001b[2J"}, "ministry"),  # a terminal escape
        ({"role": "officer", "ministry": "health\nadmin"}, "ministry"),
        ({"role": "officer", "ministry": "Min. of Health"}, "ministry"),
        ({"role": "admin", "ministry": "health"}, "ministry"),  # admins act nationally
        ({"role": "operator", "ministry": "health"}, "ministry"),
        ({"role": "king"}, "role"),
        ({"role": "admin", "expires_days": 0}, "expires_days"),
        ({"role": "admin", "secret": "mine"}, "secret"),
        ({"role": "admin", "person": " "}, "person"),
        ({"role": "admin", "person": "Ana\u001b[2J"}, "person"),
        ({"role": "admin", "person": None}, "person"),
    ],
)
async def test_a_bad_token_request_is_400(
    client: Client, admin: dict[str, str], body: dict[str, Any], field: str | None
) -> None:
    body = {"person": "Ana"} | body  # a person unless the case is about it
    error = await error_of(await client.post(TOKENS, json=body, headers=admin), 400)
    if field is not None:
        assert error["field"] == field


async def test_a_ministry_is_stored_as_matched(client: Client, admin: dict[str, str]) -> None:
    body = {"role": "officer", "ministry": " Public-Works ", "person": "Ana"}
    issued = await client.post(TOKENS, json=body, headers=admin)
    assert issued.status == 201
    assert (await issued.json())["ministry"] == "public-works"


@pytest.mark.parametrize("role", [Role.OFFICER, Role.SUPERVISOR, Role.OPERATOR])
async def test_only_an_admin_manages_tokens_and_reads_the_audit_log(
    client: Client, gateway: Gateway, role: Role
) -> None:
    headers = await bearer(gateway, role, ministry="health")
    token_id = await _token_id(gateway, headers)
    for method, path in (("GET", TOKENS), ("POST", TOKENS), ("DELETE", f"{TOKENS}/{token_id}"),
                         ("GET", AUDIT)):  # fmt: skip
        response = await client.request(method, path, json={"role": "admin"}, headers=headers)
        assert (await error_of(response, 403))["code"] == "forbidden", (method, path)


async def test_what_people_do_is_in_the_audit_log_with_who_and_when(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    admin_id = await _token_id(gateway, admin)
    supervisor = await bearer(gateway, Role.SUPERVISOR)
    officer = await bearer(gateway, Role.OFFICER, ministry="health")
    started = datetime.now(UTC)
    assert (await client.post(SERVICES, json=health_body(), headers=admin)).status == 201
    await client.patch(f"{SERVICES}/HEALTH", json={"requires_approval": True}, headers=admin)
    await client.post(
        "/api/v1/subscriptions",
        json={"msisdn": "+5016012345", "service": "HEALTH", "consent_source": "clinic:bz"},
        headers=officer,
    )
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()  # still open when cancelled
    created = await create(
        client, officer, service="HEALTH", texts={"en": "Clinic hours."}, send_at=later
    )
    await client.post(f"{BROADCASTS}/{created['id']}/approve", headers=supervisor)
    await client.post(f"{BROADCASTS}/{created['id']}/cancel", headers=officer)
    issued = await (
        await client.post(TOKENS, json={"role": "operator", "person": "NOC"}, headers=admin)
    ).json()
    await client.delete(f"{TOKENS}/{issued['id']}", headers=admin)

    entries = (await _json(client, AUDIT, admin))["entries"]

    assert [(e["action"], e["target"]) for e in reversed(entries)] == [
        ("service_created", "HEALTH"),
        ("service_updated", "HEALTH"),
        ("subscriber_signed_up", "+5016012345"),  # admins see numbers whole
        ("broadcast_created", str(created["id"])),
        ("broadcast_approved", str(created["id"])),
        ("broadcast_cancelled", str(created["id"])),
        ("token_issued", issued["id"]),
        ("token_revoked", issued["id"]),
    ]
    by_action = {e["action"]: e for e in entries}
    assert by_action["service_created"]["actor"] == admin_id
    assert by_action["broadcast_approved"]["role"] == "supervisor"
    assert by_action["broadcast_created"]["ministry"] == "health"
    assert by_action["broadcast_created"]["detail"]["texts"] == {"en": "Clinic hours."}
    assert by_action["service_updated"]["detail"]["changes"] == {"requires_approval": True}
    assert all(datetime.fromisoformat(e["at"]) >= started for e in entries)
    only = (await _json(client, f"{AUDIT}?action=token_issued", admin))["entries"]
    assert [e["target"] for e in only] == [issued["id"]]
    page = (await _json(client, f"{AUDIT}?limit=2&before={entries[1]['id']}", admin))["entries"]
    assert [e["id"] for e in page] == [entries[2]["id"], entries[3]["id"]]


@pytest.mark.parametrize("query", ["limit=0", "limit=x", "before=-1", "action=hack", "what=1"])
async def test_a_bad_audit_query_is_400(client: Client, admin: dict[str, str], query: str) -> None:
    await error_of(await client.get(f"{AUDIT}?{query}", headers=admin), 400)


async def test_the_audit_log_cannot_be_rewritten(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    await client.post(TOKENS, json={"role": "operator", "person": "NOC"}, headers=admin)
    with sqlite3.connect(gateway.settings.database.sqlite_path) as db:
        for sql in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                db.execute(sql)


async def test_broadcasts_to_a_service_leave_an_entry_per_action_even_from_an_officer(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    await seed(gateway, "HEALTH", numbers("+50160", 2))
    officer = await bearer(gateway, Role.OFFICER, ministry="health")
    created = await create(client, officer, service="HEALTH", texts={"en": "Clinic hours."})
    entries = (await _json(client, f"{AUDIT}?action=broadcast_created", admin))["entries"]
    assert [e["actor"] for e in entries] == [await _token_id(gateway, officer)]
    assert entries[0]["detail"]["audience"] == 2
    assert entries[0]["target"] == str(created["id"])


async def test_repeated_failed_logins_from_one_address_are_slowed_down(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    for attempt in range(10):
        wrong = {"Authorization": f"Bearer smsgw_wrong{attempt}"}
        assert (await client.get(BROADCASTS, headers=wrong)).status == 401
    refused = await client.get(BROADCASTS, headers={"Authorization": "Bearer smsgw_guess"})
    assert (await error_of(refused, 429))["code"] == "too_many_failures"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    # a valid token always passes: the others behind the same proxy are not locked out
    assert (await client.get(BROADCASTS, headers=admin)).status == 200
    assert (await client.get("/healthz")).status == 200  # outside the API: untouched


async def test_x_forwarded_for_names_the_client_only_behind_a_trusted_proxy(
    settings: Settings,
) -> None:
    http = settings.http.model_copy(update={"trusted_proxies": (ip_network("127.0.0.1"),)})
    app = build_app(settings.model_copy(update={"http": http}))
    async with TestClient(TestServer(app)) as client:
        gateway = client.app[GATEWAY]
        admin = await bearer(gateway, Role.ADMIN)

        async def wrong(client_ip: str, attempt: int) -> int:
            headers = {"Authorization": f"Bearer smsgw_no{attempt}",
                       "X-Forwarded-For": f"198.51.100.9, {client_ip}"}  # fmt: skip
            return (await client.get(BROADCASTS, headers=headers)).status

        assert [await wrong("203.0.113.5", n) for n in range(11)] == [401] * 10 + [429]
        assert await wrong("203.0.113.6", 99) == 401  # another client behind the proxy
        forwarded = {**admin, "X-Forwarded-For": "203.0.113.5"}
        assert (await client.get(BROADCASTS, headers=forwarded)).status == 200

        # one token tried from ten addresses is slowed down too
        stolen = {"Authorization": "Bearer smsgw_revoked-or-guessed"}
        statuses = [
            (await client.get(BROADCASTS, headers={**stolen, "X-Forwarded-For": f"192.0.2.{n}"}))
            .status for n in range(11)
        ]  # fmt: skip
        assert statuses == [401] * 10 + [429]


def test_failures_leave_the_window_and_memory_stays_bounded() -> None:
    now = [0.0]
    failed = FailedAuth(limit=3, window_s=10.0, max_addresses=2, clock=lambda: now[0])
    for _ in range(3):
        failed.failed("a")
    assert failed.retry_after("a") == pytest.approx(10.0)
    now[0] = 5.0
    assert failed.retry_after("a") == pytest.approx(5.0)
    now[0] = 10.0
    assert failed.retry_after("a") == 0.0
    failed.failed("b")
    failed.failed("c")
    failed.failed("d")  # the third address: the oldest is forgotten
    assert len(failed._failures) <= 2
