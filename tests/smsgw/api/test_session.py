"""People log in through the real HTTP server (the test client keeps the cookie): the session
cookie and its CSRF header, idle and absolute timeouts, log-out (everywhere), TOTP (required
for admins and supervisors; codes and recovery codes used once), the per-account back-off, a
disabled person. Time is the log-ins' clock, moved on by the test."""

from __future__ import annotations

import pyotp
import pytest

from channels.simulator import Simulator
from smsgw.access.tokens import Role
from smsgw.app import Gateway
from smsgw.config import Settings, load
from tests.smsgw.api.catalogue_testbed import add_service, error_of
from tests.smsgw.api.people_testbed import (
    PASSWORD,
    SESSION,
    Clock,
    add_person,
    csrf_of,
    enrol,
    log_in,
    use_clock,
)
from tests.smsgw.testbed import Client, WriteConfig, on_simulator

ME = "/api/v1/me"
ESTIMATE = "/api/v1/broadcasts/estimate"
DRAFT = {"service": "HEALTH", "texts": {"en": "Vaccination day Saturday"}}


@pytest.fixture
def settings(simulator: Simulator, write_config: WriteConfig) -> Settings:
    """conftest.py's, with sessions of two hours and the test client as a trusted TLS proxy."""
    http = '[http]\nsession_hours = 2\ntrusted_proxies = ["127.0.0.1"]\n'
    return load(write_config(on_simulator(simulator.port).replace("[http]\n", http)))


@pytest.fixture
def clock(client: Client) -> Clock:
    return use_clock(client)


def cookie(client: Client) -> str:
    """The session cookie the client holds now."""
    return client.session.cookie_jar.filter_cookies(client.make_url("/"))["smsgw_session"].value


async def test_a_password_opens_a_session_in_an_httponly_samesite_cookie(
    client: Client, clock: Clock
) -> None:
    await add_person(client, "Maria Chen", Role.OFFICER)
    response = await log_in(client, "maria  CHEN")  # the name ignoring case and spacing
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["person"] == {"name": "Maria Chen", "role": "officer", "ministry": "health"}
    assert body["totp"] == "optional"
    set_cookie = response.headers["Set-Cookie"]
    assert set_cookie.startswith("smsgw_session=")
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/"):
        assert attribute in set_cookie
    assert "Secure" not in set_cookie  # plain HTTP, and no proxy said https
    me = await client.get(ME)
    assert me.status == 200
    assert (await me.json()) | {"created_at": None, "expires_at": None} == {
        "id": "user:Maria Chen", "role": "officer", "ministry": "health", "person": "Maria Chen",
        "callback_url": None, "created_at": None, "expires_at": None, "revoked_at": None,
        "last_used_at": None, "usable": True, "timezone": "America/Belize", "csrf": body["csrf"],
        "totp": "optional",
    }  # fmt: skip
    assert (await client.get("/api/v1/broadcasts")).status == 200
    assert (await client.get("/api/v1/tokens")).status == 403  # an officer's role, as a token's


async def test_the_cookie_is_secure_when_a_trusted_proxy_says_https(
    client: Client, clock: Clock
) -> None:
    await add_person(client)
    body = {"name": "Maria Chen", "password": PASSWORD}
    response = await client.post(SESSION, json=body, headers={"X-Forwarded-Proto": "https"})
    assert response.status == 200
    assert "Secure" in response.headers["Set-Cookie"]


async def test_unsafe_requests_of_a_session_need_its_csrf_header(
    client: Client, gateway: Gateway, clock: Clock
) -> None:
    await add_service(gateway)
    await add_person(client)
    csrf = await csrf_of(await log_in(client))
    missing = await client.post(ESTIMATE, json=DRAFT)
    assert (await error_of(missing, 403))["code"] == "csrf"
    wrong = await client.post(ESTIMATE, json=DRAFT, headers={"X-CSRF-Token": "x" * 43})
    assert (await error_of(wrong, 403))["code"] == "csrf"
    odd = await client.post(ESTIMATE, json=DRAFT, headers={"X-CSRF-Token": "é"})
    assert (await error_of(odd, 403))["code"] == "csrf"
    right = await client.post(ESTIMATE, json=DRAFT, headers=csrf)
    assert right.status == 200, await right.text()
    assert (await client.get(ME)).status == 200  # a safe method needs none


async def test_every_failure_to_log_in_gets_the_same_answer(client: Client, clock: Clock) -> None:
    await add_person(client, "Maria Chen")
    await add_person(client, "Rosa Admin", Role.ADMIN)
    csrf = await csrf_of(await log_in(client, "Rosa Admin"))
    await enrol(client, csrf, clock)
    await client.delete(SESSION, headers=csrf)
    answers = [
        await log_in(client, "Maria Chen", "wrong password!"),
        await log_in(client, "Nobody Here"),
        await log_in(client, "Rosa Admin"),  # no code
        await log_in(client, "Rosa Admin", code="000000"),
    ]
    bodies = {(r.status, await r.text()) for r in answers}
    assert bodies == {(401, await answers[0].text())}
    assert "wrong name, password or code" in await answers[0].text()
    assert (await client.get(ME)).status == 401  # no session was opened


async def test_a_session_ends_after_its_idle_timeout(client: Client, clock: Clock) -> None:
    await add_person(client)
    await csrf_of(await log_in(client))
    for _ in range(3):  # 87 minutes in all, never 30 idle
        clock.advance(minutes=29)
        assert (await client.get(ME)).status == 200
    clock.advance(minutes=30)  # within its two hours, but idle too long
    ended = await client.get(ME)
    assert (await error_of(ended, 401))["message"] == "the session has ended: log in again"


async def test_a_session_ends_at_its_absolute_lifetime_however_busy(
    client: Client, clock: Clock
) -> None:
    await add_person(client)
    await csrf_of(await log_in(client))
    for _ in range(10):
        clock.advance(minutes=11)
        assert (await client.get(ME)).status == 200
    clock.advance(minutes=11)  # 121 minutes: session_hours = 2
    assert (await client.get(ME)).status == 401


async def test_log_out_ends_this_session_and_everywhere_ends_all_of_them(
    client: Client, clock: Clock
) -> None:
    await add_person(client)
    sessions = []
    for _ in range(3):
        csrf = await csrf_of(await log_in(client))
        sessions.append(({"Cookie": f"smsgw_session={cookie(client)}"}, csrf))
    client.session.cookie_jar.clear()  # from here each request names its session
    first, second, third = sessions

    refused = await client.delete(SESSION, headers=first[0])  # no CSRF header
    assert (await error_of(refused, 403))["code"] == "csrf"
    assert (await client.get(ME, headers=first[0])).status == 200
    out = await client.delete(SESSION, headers=first[0] | first[1])
    assert out.status == 204
    assert "Max-Age=0" in out.headers["Set-Cookie"]
    assert (await client.get(ME, headers=first[0])).status == 401
    assert (await client.get(ME, headers=second[0])).status == 200

    everywhere = await client.delete(f"{SESSION}?everywhere=true", headers=second[0] | second[1])
    assert everywhere.status == 204
    for headers, _ in sessions:
        assert (await client.get(ME, headers=headers)).status == 401
    again = await client.delete(SESSION, headers=third[0])  # an ended session: just cleared
    assert again.status == 204


async def test_an_admin_must_enrol_totp_first_then_each_code_opens_one_log_in(
    client: Client, clock: Clock
) -> None:
    await add_person(client, "Rosa Admin", Role.ADMIN)
    logged = await log_in(client, "Rosa Admin")
    assert (await logged.json())["totp"] == "required"
    csrf = await csrf_of(logged)
    blocked = await client.get("/api/v1/tokens")
    assert (await error_of(blocked, 403))["code"] == "totp_required"
    assert (await (await client.get(ME)).json())["totp"] == "required"

    started = await client.post("/api/v1/me/totp", headers=csrf)
    assert started.status == 200
    secret = (await started.json())["secret"]
    assert (await started.json())["uri"].startswith("otpauth://totp/smsgw:Rosa%20Admin?")
    wrong = await client.post("/api/v1/me/totp/confirm", json={"code": "123456"}, headers=csrf)
    assert (await error_of(wrong, 400))["field"] == "code"
    totp = pyotp.TOTP(secret)
    confirmed = await client.post(
        "/api/v1/me/totp/confirm", json={"code": totp.at(clock.now)}, headers=csrf
    )
    recovery = (await confirmed.json())["recovery_codes"]
    assert len(set(recovery)) == 10
    assert (await client.get("/api/v1/tokens")).status == 200  # the same session, now whole
    assert (await client.delete(SESSION, headers=csrf)).status == 204

    assert (await log_in(client, "Rosa Admin")).status == 401  # the code is needed now
    replayed = await log_in(client, "Rosa Admin", code=totp.at(clock.now))  # confirm's code
    assert replayed.status == 401
    clock.advance(seconds=30)
    code = totp.at(clock.now)
    assert (await log_in(client, "Rosa Admin", code=code)).status == 200
    assert (await log_in(client, "Rosa Admin", code=code)).status == 401  # used once
    assert (await log_in(client, "Rosa Admin", code=recovery[0].upper())).status == 200
    assert (await log_in(client, "Rosa Admin", code=recovery[0])).status == 401  # used once


async def test_an_officer_may_enrol_totp_and_then_needs_it(client: Client, clock: Clock) -> None:
    await add_person(client)
    csrf = await csrf_of(await log_in(client))
    secret, _ = await enrol(client, csrf, clock)
    assert (await (await client.get(ME)).json())["totp"] == "enrolled"
    assert (await log_in(client)).status == 401
    clock.advance(seconds=30)
    assert (await log_in(client, code=pyotp.TOTP(secret).at(clock.now))).status == 200


async def test_failures_slow_the_account_down_but_never_lock_its_person_out(
    client: Client, clock: Clock
) -> None:
    await add_person(client)
    for _ in range(3):  # the first three are free
        assert (await log_in(client, password="a wrong guess")).status == 401
    deferred = await log_in(client)  # even the right password: not checked while it holds
    assert (await error_of(deferred, 429))["code"] == "too_many_failures"
    assert deferred.headers["Retry-After"] == "1"
    clock.advance(seconds=1)
    assert (await log_in(client)).status == 200  # and a success starts afresh

    waits = []
    for _ in range(12):  # a guesser who waits each time as told
        assert (await log_in(client, password="a wrong guess")).status == 401
        refused = await log_in(client, password="a wrong guess")
        if refused.status == 429:
            waits.append(int(refused.headers["Retry-After"]))
            clock.advance(seconds=waits[-1])
    assert waits == [1, 2, 4, 8, 16, 30, 30, 30, 30, 30, 30]
    assert (await log_in(client)).status == 200  # the person waited 30 s at most


async def test_names_of_nobody_back_off_alike_and_hold_up_no_one_else(
    client: Client, clock: Clock
) -> None:
    await add_person(client)
    for _ in range(3):
        assert (await log_in(client, "Nobody Here")).status == 401
    assert (await log_in(client, "Nobody Here")).status == 429  # as a real name would
    for n in range(20):  # many failures from this address: the address is not held
        assert (await log_in(client, f"Guess {n}")).status == 401
    assert (await log_in(client)).status == 200


async def test_a_disabled_person_is_refused_and_their_sessions_end(
    client: Client, clock: Clock, admin: dict[str, str]
) -> None:
    person = await add_person(client)
    await csrf_of(await log_in(client))
    disable = await client.patch(
        f"/api/v1/users/{person.id}", json={"disabled": True}, headers=admin
    )
    assert disable.status == 200, await disable.text()
    assert (await client.get(ME)).status == 401
    assert (await log_in(client)).status == 401
    enable = await client.patch(f"/api/v1/users/{person.id}", json={"disabled": False},
                                headers=admin)  # fmt: skip
    assert (await enable.json())["disabled"] is False
    assert (await log_in(client)).status == 200


async def test_a_person_changes_their_password_and_their_other_sessions_end(
    client: Client, clock: Clock
) -> None:
    await add_person(client)
    await csrf_of(await log_in(client))
    other = {"Cookie": f"smsgw_session={cookie(client)}"}
    csrf = await csrf_of(await log_in(client))
    change = "/api/v1/me/password"
    short = await client.post(change, json={"current": PASSWORD, "new": "short"}, headers=csrf)
    assert (await error_of(short, 400))["field"] == "new"
    named = await client.post(change, json={"current": PASSWORD, "new": "maria chen"},
                              headers=csrf)  # fmt: skip
    assert (await error_of(named, 400))["field"] == "new"
    wrong = await client.post(change, json={"current": "not it at all", "new": "a new one, long"},
                              headers=csrf)  # fmt: skip
    assert (await error_of(wrong, 400))["field"] == "current"
    done = await client.post(change, json={"current": PASSWORD, "new": "a new one, long"},
                             headers=csrf)  # fmt: skip
    assert done.status == 204
    assert (await client.get(ME)).status == 200  # this session stays
    client.session.cookie_jar.clear()
    assert (await client.get(ME, headers=other)).status == 401
    assert (await log_in(client)).status == 401
    assert (await log_in(client, password="a new one, long")).status == 200


async def test_a_token_has_no_password_nor_totp_and_needs_no_csrf(
    client: Client, admin: dict[str, str]
) -> None:
    for path in ("/api/v1/me/totp", "/api/v1/me/password"):
        response = await client.post(path, json={"current": "x", "new": "y"}, headers=admin)
        assert (await error_of(response, 409))["code"] == "conflict"
    assert (await client.delete(SESSION, headers=admin)).status == 204  # nothing to end
    assert (await (await client.get(ME, headers=admin)).json())["csrf"] is None
