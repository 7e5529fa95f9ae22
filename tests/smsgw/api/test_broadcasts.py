"""The broadcasts API over HTTP: validation, the estimate, scheduling, roles and ministries,
approval, cancelling and the listing (real server, real simulator, real SQLite)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from channels.simulator import Simulator
from smsgw.access.audit import AuditAction
from smsgw.access.tokens import Role, hash_secret
from smsgw.app import Gateway
from smsgw.storage.sqlite.times import timestamp
from tests.smsgw.api.catalogue_testbed import add_service, error_of
from tests.smsgw.broadcast_testbed import (
    BROADCASTS,
    create,
    numbers,
    seed,
    sent_to,
    stop,
    view,
    wait_state,
)
from tests.smsgw.testbed import Client, bearer

_TEXT = "Clinic closed Monday for cleaning."
_SPANISH = "Día de vacunación el sábado."  # í, ó and á are not in GSM 03.38: UCS-2
_LONG_GSM = ("Vaccination day Saturday 9am to 3pm at every clinic. " * 4)[:200]  # 2 SMS
_ACCENTED = (
    "Vacunación gratuita en la clínica este sábado de 8 a 12. Señor Pérez, traiga la tarjeta."
)
_ACCENTED_FOLDED = (  # é and ñ are GSM letters: kept
    "Vacunacion gratuita en la clinica este sabado de 8 a 12. Señor Pérez, traiga la tarjeta."
)
_WAIT_UNSENT_S = 1.5  # longer than the scheduler's tick (1 s): time enough to send if it would


def _body(**changes: Any) -> dict[str, Any]:
    return {"service": "HEALTH", "texts": {"en": _TEXT}} | changes


def _later(hours: float = 24) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


async def _scheduled(
    client: Client, headers: dict[str, str], service: str = "HEALTH"
) -> dict[str, Any]:
    """A broadcast due tomorrow: nothing is sent during the test."""
    created = await create(client, headers, **_body(service=service, send_at=_later()))
    assert created["state"] == "scheduled"
    return created


async def _listing(client: Client, headers: dict[str, str], query: str = "") -> list[int]:
    response = await client.get(f"{BROADCASTS}{query}", headers=headers)
    assert response.status == 200, await response.text()
    return [b["id"] for b in (await response.json())["broadcasts"]]


async def _token_id(gateway: Gateway, headers: dict[str, str]) -> str:
    secret = headers["Authorization"].removeprefix("Bearer ")
    token = await gateway.store.tokens.token_by_hash(hash_secret(secret))
    assert token is not None
    return token.id


async def _nothing_sent(simulator: Simulator, seconds: float = _WAIT_UNSENT_S) -> None:
    await asyncio.sleep(seconds)
    assert len(simulator.submits) == 0, list(simulator.submits)


def _instant(text: str) -> datetime:
    """A timestamp of an answer, which must be in UTC."""
    parsed = datetime.fromisoformat(text)
    assert parsed.utcoffset() == timedelta(0), text
    return parsed


# --- validation -----------------------------------------------------------------------------

_INVALID = [
    ({"texts": {"en": _TEXT, "fr": "Clinique fermée lundi."}}, "invalid", "texts.fr"),
    ({"texts": {"es": _SPANISH}}, "invalid", "texts"),  # no text in the default language
    ({"texts": {}}, "invalid", "texts"),
    ({"texts": {"en": ""}}, "invalid", "texts.en"),
    ({"texts": {"en": " \n\t "}}, "invalid", "texts.en"),
    ({"texts": {"en": _TEXT, "es": "   "}}, "invalid", "texts.es"),
    ({"texts": {"en": 5}}, "invalid", "texts.en"),
    ({"texts": {"en": "a" * (6 * 153 + 1)}}, "too_long", "texts.en"),  # 7 SMS, at most 6
    ({"texts": {"en": _TEXT, "es": "á" * (6 * 67 + 1)}}, "too_long", "texts.es"),  # UCS-2
    ({"send_at": "2020-01-01T00:00:00Z"}, "invalid", "send_at"),
    ({"send_at": "2020-01-01T00:00:00"}, "invalid", "send_at"),
    ({"send_at": "next Tuesday"}, "invalid", "send_at"),
    ({"send_at": "9999-12-31T23:00:00Z"}, "invalid", "send_at"),  # + validity: out of range
    ({"send_at": "0001-01-01T00:00:00+14:00"}, "invalid", "send_at"),  # before year 1 in UTC
    ({"priority": "urgent"}, "invalid", "priority"),
    ({"valid_for_minutes": 0}, "invalid", "valid_for_minutes"),
    ({"valid_for_minutes": 7 * 24 * 60 + 1}, "invalid", "valid_for_minutes"),
    ({"fold_accents": "sometimes"}, "invalid", "fold_accents"),
    ({"service": None}, "invalid", "service"),
    ({"colour": "blue"}, "invalid", "colour"),  # unknown fields are refused
    # JSON's own types only: nothing is coerced
    ({"valid_for_minutes": True}, "invalid", "valid_for_minutes"),  # was 1 minute
    ({"valid_for_minutes": "60"}, "invalid", "valid_for_minutes"),
    ({"send_at": 1893456000}, "invalid", "send_at"),  # was read as an epoch time
    ({"fold_accents": 1}, "invalid", "fold_accents"),
]
_INVALID_IDS = ["unknown-language", "no-default-language", "no-texts", "empty-text",
                "blank-text", "blank-other-language", "not-a-string", "too-long-gsm",
                "too-long-ucs2", "past-utc", "past-naive", "not-a-time", "year-9999",
                "year-0", "unknown-priority", "zero-validity", "validity-over-a-week",
                "not-a-bool", "null-service", "unknown-field", "validity-true",
                "validity-string", "send-at-epoch", "fold-one"]  # fmt: skip


@pytest.mark.parametrize(("changes", "code", "field"), _INVALID, ids=_INVALID_IDS)
async def test_an_invalid_broadcast_is_400_naming_the_field_and_stores_nothing(
    client: Client,
    gateway: Gateway,
    admin: dict[str, str],
    changes: dict[str, Any],
    code: str,
    field: str,
) -> None:
    await add_service(gateway)
    response = await client.post(BROADCASTS, json=_body(**changes), headers=admin)
    error = await error_of(response, 400)
    assert (error["code"], error["field"]) == (code, field)
    assert error["message"]
    assert await _listing(client, admin) == []


async def test_a_text_of_exactly_the_maximum_segments_is_accepted(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    created = await create(client, admin, **_body(texts={"en": "a" * (6 * 153)}, send_at=_later()))
    assert (created["segments"], created["encoding"]) == ({"en": 6}, {"en": "gsm7"})


@pytest.mark.parametrize(
    "settings", ["\n[broadcasts]\nmax_segments = 2\n"], indirect=True, ids=["max-2"]
)
async def test_the_maximum_segments_come_from_the_config(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    created = await create(client, admin, **_body(texts={"en": "a" * 306}, send_at=_later()))
    assert created["segments"] == {"en": 2}
    response = await client.post(BROADCASTS, json=_body(texts={"en": "a" * 307}), headers=admin)
    error = await error_of(response, 400)
    assert (error["code"], error["field"]) == ("too_long", "texts.en")


@pytest.mark.parametrize(
    ("raw", "code"),
    [(b"{", "malformed_json"), (b"", "malformed_json"), (b"\xff\xfe", "malformed_json"),
     (b'{"service": "HEALTH",}', "malformed_json"), (b'["HEALTH"]', "invalid"),
     (b"null", "invalid")],
    ids=["truncated", "empty", "bad-utf8", "trailing-comma", "a-list", "null"],
)  # fmt: skip
async def test_a_body_that_is_not_a_json_object_is_400(
    client: Client, gateway: Gateway, admin: dict[str, str], raw: bytes, code: str
) -> None:
    await add_service(gateway)
    headers = admin | {"Content-Type": "application/json"}
    error = await error_of(await client.post(BROADCASTS, data=raw, headers=headers), 400)
    assert error["code"] == code
    assert await _listing(client, admin) == []


async def test_an_unknown_service_is_404_naming_the_field(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    response = await client.post(BROADCASTS, json=_body(service="WEATHER"), headers=admin)
    error = await error_of(response, 404)
    assert (error["code"], error["field"]) == ("not_found", "service")
    assert "WEATHER" in error["message"]


async def test_an_inactive_service_is_409(
    client: Client, gateway: Gateway, simulator: Simulator, admin: dict[str, str]
) -> None:
    await add_service(gateway, active=False)
    await seed(gateway, "HEALTH", numbers("+50160", 3))
    error = await error_of(await client.post(BROADCASTS, json=_body(), headers=admin), 409)
    assert (error["code"], error["field"]) == ("service_inactive", "service")
    assert await _listing(client, admin) == []


# --- the answer to a new broadcast ----------------------------------------------------------


async def _seed_mixed(gateway: Gateway) -> dict[str, list[str]]:
    """6 English, 4 without a language, 3 Spanish, 2 French and 2 who sent STOP."""
    groups = {
        "en": numbers("+50160", 6),
        "none": numbers("+50165", 4),
        "es": numbers("+50161", 3),
        "fr": numbers("+50161", 2, start=100),
        "stopped": numbers("+50160", 2, start=100),
    }
    await seed(gateway, "HEALTH", groups["en"] + groups["stopped"], language="en")
    await seed(gateway, "HEALTH", groups["none"])
    await seed(gateway, "HEALTH", groups["es"], language="es")
    await seed(gateway, "HEALTH", groups["fr"], language="fr")
    for number in groups["stopped"]:
        await stop(gateway, number)
    return groups


async def test_the_answer_estimates_the_audience_segments_and_encoding_per_language(
    client: Client, gateway: Gateway, simulator: Simulator, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    groups = await _seed_mixed(gateway)
    texts = {"en": _LONG_GSM, "es": _SPANISH}
    before = datetime.now(UTC)
    created = await create(client, admin, service="salud", texts=texts)  # an alias, any case
    after = datetime.now(UTC)

    # no language and French get the default language's text; STOPs are left out
    assert created["audience"] == 15
    assert created["audience_by_language"] == {"en": 12, "es": 3}
    assert created["segments"] == {"en": 2, "es": 1}
    assert created["encoding"] == {"en": "gsm7", "es": "ucs2"}
    assert created["texts"] == texts
    assert (created["cost_estimate"], created["currency"]) == (0.0, "BZD")  # the default cost
    assert (created["state"], created["send_at"]) == ("queued", None)
    expires_at = _instant(created["expires_at"])
    assert before + timedelta(days=1) <= expires_at <= after + timedelta(days=1)

    done = await wait_state(client, admin, created["id"], state="done", delivered=15)
    assert (done["service"], done["ministry"], done["audience"]) == ("HEALTH", "health", 15)
    english = groups["en"] + groups["none"] + groups["fr"]
    expected = Counter(dict.fromkeys(english, 2)) + Counter(dict.fromkeys(groups["es"], 1))
    assert sent_to(simulator) == expected  # one submit_sm per SMS: the estimate was right


async def test_subscribers_whose_language_has_no_text_count_under_the_default(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    await add_service(gateway, default_language="es")
    await _seed_mixed(gateway)
    created = await create(
        client, admin, service="HEALTH", texts={"es": _SPANISH}, send_at=_later()
    )
    assert created["audience_by_language"] == {"es": 15}
    assert created["audience"] == 15


@pytest.mark.parametrize(
    "settings",
    ['\n[broadcasts]\ncost_per_segment = 0.05\ncurrency = "USD"\n'],
    indirect=True,
    ids=["priced"],
)
async def test_the_cost_estimate_is_audience_times_segments_times_the_price(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    await _seed_mixed(gateway)
    body = _body(texts={"en": _LONG_GSM, "es": _SPANISH}, send_at=_later())
    created = await create(client, admin, **body)
    # (12 English × 2 SMS + 3 Spanish × 1 SMS) × 0.05
    assert created["cost_estimate"] == pytest.approx(1.35)
    assert created["currency"] == "USD"
    assert (await view(client, admin, created["id"]))["cost_estimate"] == pytest.approx(1.35)


@pytest.mark.parametrize(
    ("fold", "text", "encoding", "segments"),
    [(False, _ACCENTED, "ucs2", 2), (True, _ACCENTED_FOLDED, "gsm7", 1)],
    ids=["as-written", "folded"],
)
async def test_fold_accents_writes_letters_outside_gsm_as_their_base_and_saves_sms(
    client: Client,
    gateway: Gateway,
    admin: dict[str, str],
    fold: bool,
    text: str,
    encoding: str,
    segments: int,
) -> None:
    await add_service(gateway)
    await seed(gateway, "HEALTH", numbers("+50161", 4), language="es")
    body = _body(texts={"en": _TEXT, "es": _ACCENTED}, fold_accents=fold, send_at=_later())
    created = await create(client, admin, **body)
    assert created["texts"]["es"] == text
    assert (created["encoding"]["es"], created["segments"]["es"]) == (encoding, segments)
    assert (await view(client, admin, created["id"]))["texts"]["es"] == text


async def test_subscribers_get_the_folded_text(
    client: Client, gateway: Gateway, simulator: Simulator, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    spanish = numbers("+50161", 3)
    await seed(gateway, "HEALTH", spanish, language="es")
    body = _body(texts={"en": _TEXT, "es": "Vacunación el sábado en la clínica."})
    created = await create(client, admin, **body, fold_accents=True)
    await wait_state(client, admin, created["id"], state="done", delivered=3)
    assert sent_to(simulator) == Counter(dict.fromkeys(spanish, 1))
    for submit in simulator.submits:
        assert submit.data_coding != 8  # not UCS-2
        assert submit.short_message == b"Vacunacion el sabado en la clinica."


@pytest.mark.parametrize(
    ("priority", "valid_for", "minutes"),
    [("normal", None, 1440), ("emergency", None, 120), ("emergency", 30, 30),
     ("normal", 7 * 24 * 60, 7 * 24 * 60)],
    ids=["normal-default", "emergency-default", "given", "a-week"],
)  # fmt: skip
async def test_messages_expire_after_the_validity_counted_from_send_at(
    client: Client,
    gateway: Gateway,
    admin: dict[str, str],
    priority: str,
    valid_for: int | None,
    minutes: int,
) -> None:
    await add_service(gateway)
    due = (datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0)
    body = _body(priority=priority, send_at=due.isoformat(), valid_for_minutes=valid_for)
    created = await create(client, admin, **body)
    assert _instant(created["expires_at"]) == due + timedelta(minutes=minutes)
    found = await view(client, admin, created["id"])
    assert found["priority"] == priority
    assert _instant(found["expires_at"]) == due + timedelta(minutes=minutes)


# --- scheduling -----------------------------------------------------------------------------


@pytest.mark.parametrize("written", ["utc", "offset", "naive-local"])
async def test_a_broadcast_for_later_is_scheduled_at_the_right_instant_and_not_sent(
    client: Client, gateway: Gateway, simulator: Simulator, admin: dict[str, str], written: str
) -> None:
    await add_service(gateway)
    await seed(gateway, "HEALTH", numbers("+50160", 3) + numbers("+50165", 2))
    due = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    if written == "utc":
        send_at = due.strftime("%Y-%m-%dT%H:%M:%SZ")
    elif written == "offset":
        send_at = due.astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat()
    else:  # read in the gateway's time zone, America/Belize: UTC-6 all year (read as UTC,
        # it would be 4 hours in the past)
        send_at = (due - timedelta(hours=6)).replace(tzinfo=None).isoformat()

    created = await create(client, admin, **_body(send_at=send_at))
    assert created["state"] == "scheduled"
    assert _instant(created["send_at"]) == due
    assert created["audience"] == 5

    await _nothing_sent(simulator)
    found = await view(client, admin, created["id"])
    assert (found["state"], found["audience"], found["started_at"]) == ("scheduled", 0, None)
    assert _instant(found["send_at"]) == due


async def test_a_scheduled_broadcast_goes_out_when_due(
    client: Client, gateway: Gateway, simulator: Simulator, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    members = numbers("+50160", 3) + numbers("+50165", 2)
    await seed(gateway, "HEALTH", members)
    due = datetime.now(UTC) + timedelta(seconds=1)
    created = await create(client, admin, **_body(send_at=due.isoformat()))
    assert created["state"] == "scheduled"
    done = await wait_state(client, admin, created["id"], state="done", delivered=5)
    assert _instant(done["started_at"]) >= due
    assert sent_to(simulator) == Counter(dict.fromkeys(members, 1))


# --- roles and ministries -------------------------------------------------------------------


async def test_an_officer_of_another_ministry_may_not_touch_the_services_broadcasts(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    created = await _scheduled(client, admin)
    education = await bearer(gateway, Role.OFFICER, ministry="education")
    one = f"{BROADCASTS}/{created['id']}"

    post = await client.post(BROADCASTS, json=_body(), headers=education)
    assert (await error_of(post, 403))["code"] == "forbidden"
    # another ministry's broadcast is as absent as one that never was (no enumeration)
    for response in (
        await client.get(one, headers=education),
        await client.post(f"{one}/cancel", headers=education),
    ):
        error = await error_of(response, 404)
        assert error["message"] == f"no broadcast {created['id']}"
    await error_of(await client.post(f"{one}/approve", headers=education), 403)  # the role
    assert await _listing(client, education) == []

    assert (await view(client, admin, created["id"]))["state"] == "scheduled"
    assert await _listing(client, admin) == [created["id"]]  # the refused one is not stored


async def test_an_officer_acts_on_their_own_ministrys_broadcasts_in_any_case(
    client: Client, gateway: Gateway
) -> None:
    await add_service(gateway)
    officer = await bearer(gateway, Role.OFFICER, ministry=" Health ")
    created = await _scheduled(client, officer)
    found = await view(client, officer, created["id"])
    assert found["created_by"] == await _token_id(gateway, officer)
    response = await client.post(f"{BROADCASTS}/{created['id']}/cancel", headers=officer)
    assert response.status == 200, await response.text()
    assert await _listing(client, officer) == [created["id"]]


async def test_an_operator_may_use_no_broadcasts_route(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    created = await _scheduled(client, admin)
    operator = await bearer(gateway, Role.OPERATOR)
    one = f"{BROADCASTS}/{created['id']}"
    for response in (
        await client.post(BROADCASTS, json=_body(), headers=operator),
        await client.get(BROADCASTS, headers=operator),
        await client.get(one, headers=operator),
        await client.post(f"{one}/approve", headers=operator),
        await client.post(f"{one}/cancel", headers=operator),
    ):
        assert (await error_of(response, 403))["code"] == "forbidden"
    found = await view(client, admin, created["id"])
    assert (found["state"], found["cancelled_at"]) == ("scheduled", None)
    assert await _listing(client, admin) == [created["id"]]


@pytest.mark.parametrize("token", ["none", "expired", "revoked"])
async def test_without_a_usable_token_it_is_401(
    client: Client, gateway: Gateway, admin: dict[str, str], token: str
) -> None:
    await add_service(gateway)
    created = await _scheduled(client, admin)
    headers: dict[str, str] = {}
    if token != "none":
        headers = await bearer(
            gateway, Role.ADMIN, expired=token == "expired", revoked=token == "revoked"
        )
    one = f"{BROADCASTS}/{created['id']}"
    for response in (
        await client.post(BROADCASTS, json=_body(), headers=headers),
        await client.get(BROADCASTS, headers=headers),
        await client.get(one, headers=headers),
        await client.post(f"{one}/approve", headers=headers),
        await client.post(f"{one}/cancel", headers=headers),
    ):
        assert (await error_of(response, 401))["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await view(client, admin, created["id"]))["state"] == "scheduled"
    assert await _listing(client, admin) == [created["id"]]


async def test_an_officer_lists_only_their_ministrys_broadcasts(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    await add_service(gateway, keyword="SCHOOL", aliases=[], ministry="education")
    health = await bearer(gateway, Role.OFFICER, ministry="health")
    education = await bearer(gateway, Role.OFFICER, ministry="education")
    first = await _scheduled(client, admin)
    school = await _scheduled(client, education, service="SCHOOL")
    second = await _scheduled(client, health)

    assert await _listing(client, health) == [second["id"], first["id"]]
    assert await _listing(client, education) == [school["id"]]
    everything = [second["id"], school["id"], first["id"]]
    # a supervisor is a ministry's too; only admins act nationally
    supervisor = await bearer(gateway, Role.SUPERVISOR, ministry="health")
    assert await _listing(client, supervisor) == [second["id"], first["id"]]
    assert await _listing(client, admin) == everything
    other = await client.get(f"{BROADCASTS}/{school['id']}", headers=supervisor)
    assert (await error_of(other, 404))["code"] == "not_found"
    assert (await view(client, admin, school["id"]))["ministry"] == "education"


async def test_an_officers_page_is_full_however_many_other_ministries_broadcasts_come_first(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    await add_service(gateway, keyword="SCHOOL", aliases=[], ministry="education")
    health = await bearer(gateway, Role.OFFICER, ministry="health")
    services = ["HEALTH", "SCHOOL", "HEALTH", "SCHOOL", "SCHOOL", "SCHOOL"]
    ids = [(await _scheduled(client, admin, service=s))["id"] for s in services]
    mine = [ids[2], ids[0]]

    assert await _listing(client, health, "?limit=1") == [ids[2]]
    assert await _listing(client, health, f"?limit=1&before={ids[2]}") == [ids[0]]
    assert await _listing(client, health, "?limit=2") == mine
    assert await _listing(client, health, f"?limit=5&before={ids[0]}") == []


# --- approval -------------------------------------------------------------------------------


async def test_a_broadcast_needing_approval_waits_for_a_supervisor_then_goes_out(
    client: Client, gateway: Gateway, simulator: Simulator
) -> None:
    await add_service(gateway, requires_approval=True)
    members = numbers("+50160", 4) + numbers("+50165", 3)
    await seed(gateway, "HEALTH", members)
    officer = await bearer(gateway, Role.OFFICER, ministry="health")
    created = await create(client, officer, **_body())
    assert (created["state"], created["audience"]) == ("awaiting_approval", 7)
    approve = f"{BROADCASTS}/{created['id']}/approve"

    await _nothing_sent(simulator)
    other_officer = await bearer(gateway, Role.OFFICER, ministry="health")
    assert (await error_of(await client.post(approve, headers=other_officer), 403))["code"]
    found = await view(client, officer, created["id"])
    assert (found["state"], found["approved_by"]) == ("awaiting_approval", None)

    supervisor = await bearer(gateway, Role.SUPERVISOR)
    response = await client.post(approve, headers=supervisor)
    assert response.status == 200, await response.text()
    approved = await response.json()
    assert approved["approved_by"] == await _token_id(gateway, supervisor)
    assert approved["created_by"] == await _token_id(gateway, officer)
    assert approved["approved_at"] is not None
    assert approved["state"] in ("queued", "sending", "done")

    await wait_state(client, officer, created["id"], state="done", delivered=7)
    assert sent_to(simulator) == Counter(dict.fromkeys(members, 1))
    again = await error_of(await client.post(approve, headers=supervisor), 409)
    assert again["code"] == "conflict"


async def test_the_author_may_not_approve_their_own_broadcast_even_as_an_admin(
    client: Client, gateway: Gateway, simulator: Simulator, admin: dict[str, str]
) -> None:
    await add_service(gateway, requires_approval=True)
    await seed(gateway, "HEALTH", numbers("+50160", 3))
    due = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    created = await create(client, admin, **_body(send_at=due.isoformat()))
    assert created["state"] == "awaiting_approval"
    approve = f"{BROADCASTS}/{created['id']}/approve"

    assert (await error_of(await client.post(approve, headers=admin), 403))["code"] == "forbidden"
    assert (await view(client, admin, created["id"]))["state"] == "awaiting_approval"

    other_admin = await bearer(gateway, Role.ADMIN)
    response = await client.post(approve, headers=other_admin)
    assert response.status == 200, await response.text()
    approved = await response.json()
    assert approved["state"] == "scheduled"  # approved before send_at: it waits for it
    assert _instant(approved["send_at"]) == due
    await _nothing_sent(simulator)


async def test_approving_a_broadcast_that_needs_no_approval_is_409(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    created = await _scheduled(client, admin)
    supervisor = await bearer(gateway, Role.SUPERVISOR)
    response = await client.post(f"{BROADCASTS}/{created['id']}/approve", headers=supervisor)
    assert (await error_of(response, 409))["code"] == "conflict"
    found = await view(client, admin, created["id"])
    assert (found["state"], found["approved_by"], found["approved_at"]) == (
        "scheduled",
        None,
        None,
    )


# --- cancelling -----------------------------------------------------------------------------


async def test_a_cancelled_broadcast_is_never_sent_and_cancels_once(
    client: Client, gateway: Gateway, simulator: Simulator
) -> None:
    await add_service(gateway)
    await seed(gateway, "HEALTH", numbers("+50160", 4) + numbers("+50165", 2))
    officer = await bearer(gateway, Role.OFFICER, ministry="health")
    due = datetime.now(UTC) + timedelta(seconds=1)
    created = await create(client, officer, **_body(send_at=due.isoformat()))
    assert created["state"] == "scheduled"
    cancel = f"{BROADCASTS}/{created['id']}/cancel"

    response = await client.post(cancel, headers=officer)
    assert response.status == 200, await response.text()
    cancelled = await response.json()
    assert cancelled["state"] == "cancelled"
    assert cancelled["cancelled_at"] is not None

    await _nothing_sent(simulator, seconds=2.2)  # past send_at, and a scheduler tick more
    found = await view(client, officer, created["id"])
    assert (found["state"], found["audience"], found["started_at"]) == ("cancelled", 0, None)
    assert (await error_of(await client.post(cancel, headers=officer), 409))["code"] == "conflict"


async def test_a_broadcast_awaiting_approval_can_be_cancelled_and_then_not_approved(
    client: Client, gateway: Gateway, simulator: Simulator
) -> None:
    await add_service(gateway, requires_approval=True)
    await seed(gateway, "HEALTH", numbers("+50160", 3))
    officer = await bearer(gateway, Role.OFFICER, ministry="health")
    created = await create(client, officer, **_body())
    one = f"{BROADCASTS}/{created['id']}"
    response = await client.post(f"{one}/cancel", headers=officer)
    assert (response.status, (await response.json())["state"]) == (200, "cancelled")
    supervisor = await bearer(gateway, Role.SUPERVISOR)
    await error_of(await client.post(f"{one}/approve", headers=supervisor), 409)
    await _nothing_sent(simulator, seconds=1.2)
    assert (await view(client, officer, created["id"]))["state"] == "cancelled"


async def test_a_done_broadcast_cannot_be_cancelled(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    await seed(gateway, "HEALTH", numbers("+50160", 3))
    created = await create(client, admin, **_body())
    await wait_state(client, admin, created["id"], state="done", delivered=3)
    response = await client.post(f"{BROADCASTS}/{created['id']}/cancel", headers=admin)
    assert (await error_of(response, 409))["code"] == "conflict"
    found = await view(client, admin, created["id"])
    assert (found["state"], found["cancelled_at"], found["delivered"]) == ("done", None, 3)


@pytest.mark.parametrize(
    "raw",
    ["4", "abc", "-1", "1.0", "²", "٣", "99999999999999999999999", "1" * 5000],
    ids=["unknown", "letters", "negative", "decimal", "superscript", "arabic-digit",
         "past-sqlite-integer", "past-int-digits"],
)  # fmt: skip
async def test_an_unknown_broadcast_is_404(
    client: Client, gateway: Gateway, admin: dict[str, str], raw: str
) -> None:
    await add_service(gateway)
    for _ in range(3):  # ids 1 to 3 exist: "٣" is not broadcast 3
        await _scheduled(client, admin)
    one = f"{BROADCASTS}/{raw}"
    for response in (
        await client.get(one, headers=admin),
        await client.post(f"{one}/approve", headers=admin),
        await client.post(f"{one}/cancel", headers=admin),
    ):
        assert (await error_of(response, 404))["code"] == "not_found"
    assert (await view(client, admin, 3))["state"] == "scheduled"


# --- the listing ----------------------------------------------------------------------------


async def test_the_list_is_newest_first_and_pages_with_before_and_limit(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    ids = [(await _scheduled(client, admin))["id"] for _ in range(5)]
    newest_first = ids[::-1]
    assert await _listing(client, admin) == newest_first
    assert await _listing(client, admin, "?limit=2") == newest_first[:2]
    assert await _listing(client, admin, f"?limit=2&before={ids[3]}") == newest_first[2:4]
    assert await _listing(client, admin, f"?before={ids[1]}") == [ids[0]]
    assert await _listing(client, admin, f"?before={ids[0]}") == []

    response = await client.get(f"{BROADCASTS}?limit=1", headers=admin)
    assert (await response.json())["broadcasts"] == [await view(client, admin, ids[-1])]


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=abc", "limit=501", "limit=-1", "limit=", "limit=²", "before=abc",
     "before=-3", "before=²", "before=99999999999999999999999"],
)  # fmt: skip
async def test_a_bad_page_is_400(
    client: Client, gateway: Gateway, admin: dict[str, str], query: str
) -> None:
    error = await error_of(await client.get(f"{BROADCASTS}?{query}", headers=admin), 400)
    assert error["code"] == "invalid"


async def test_the_broadcast_routes_document_their_answers(client: Client) -> None:
    paths = (await (await client.get("/api/v1/openapi.json")).json())["paths"]

    def statuses(path: str, method: str) -> set[str]:
        return set(paths[path][method]["responses"])

    # 429: the failed-authentication limit (every route with a token); 503: every write
    assert statuses(BROADCASTS, "post") == {
        "201", "400", "401", "403", "404", "409", "413", "429", "503",
    }  # fmt: skip
    assert statuses(BROADCASTS, "get") == {"200", "400", "401", "403", "429"}
    assert statuses(f"{BROADCASTS}/{{id}}", "get") == {"200", "401", "403", "404", "429"}
    for action in ("approve", "cancel"):
        assert statuses(f"{BROADCASTS}/{{id}}/{action}", "post") == {
            "200", "401", "403", "404", "409", "429", "503",
        }  # fmt: skip


async def test_the_validity_runs_from_the_approval_when_that_comes_late(
    client: Client, gateway: Gateway, simulator: Simulator
) -> None:
    await add_service(gateway, requires_approval=True)
    await seed(gateway, "HEALTH", numbers("+50160", 3))
    officer = await bearer(gateway, Role.OFFICER, ministry="health")
    created = await create(client, officer, **_body(valid_for_minutes=60))
    # written two hours ago: as created, its hour of validity ended an hour ago
    ago = datetime.now(UTC) - timedelta(hours=2)
    with sqlite3.connect(gateway.settings.database.sqlite_path) as db:
        db.execute(
            "UPDATE broadcasts SET created_at = ?, expires_at = ? WHERE id = ?",
            (timestamp(ago), timestamp(ago + timedelta(hours=1)), created["id"]),
        )
    supervisor = await bearer(gateway, Role.SUPERVISOR)

    response = await client.post(f"{BROADCASTS}/{created['id']}/approve", headers=supervisor)

    assert response.status == 200, await response.text()
    expires = datetime.fromisoformat((await response.json())["expires_at"])
    assert timedelta(minutes=59) < expires - datetime.now(UTC) <= timedelta(minutes=60)
    await wait_state(client, officer, created["id"], state="done", delivered=3)


# --- the estimate before sending ------------------------------------------------------------

_ESTIMATE = f"{BROADCASTS}/estimate"


async def _estimate(client: Client, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.post(_ESTIMATE, json=body, headers=headers)
    assert response.status == 200, await response.text()
    found: dict[str, Any] = await response.json()
    return found


@pytest.mark.parametrize(
    "settings",
    ['\n[broadcasts]\ncost_per_segment = 0.05\ncurrency = "USD"\n'],
    indirect=True,
    ids=["priced"],
)
async def test_the_estimate_is_what_a_create_answers_and_stores_nothing(
    client: Client, gateway: Gateway, simulator: Simulator, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    await _seed_mixed(gateway)
    # send_at fixes expires_at, so that the two answers can be compared whole
    body = _body(texts={"en": _LONG_GSM, "es": _ACCENTED}, fold_accents=True, send_at=_later())
    estimate = await _estimate(client, admin, **body)
    assert await _listing(client, admin) == []
    audit = await (await client.get("/api/v1/audit", headers=admin)).json()
    assert [e for e in audit["entries"] if e["action"].startswith("broadcast")] == []

    created = await create(client, admin, **body)
    assert estimate == {k: v for k, v in created.items() if k not in ("id", "state")}
    assert estimate["audience"] == 15
    assert estimate["cost_estimate"] == pytest.approx(1.35)  # (12 × 2 + 3 × 1) × 0.05
    assert estimate["texts"]["es"] == _ACCENTED_FOLDED
    assert await _listing(client, admin) == [created["id"]]


async def test_an_estimate_sends_nothing(
    client: Client, gateway: Gateway, simulator: Simulator, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    await seed(gateway, "HEALTH", numbers("+50160", 3))
    estimate = await _estimate(client, admin, **_body())  # for now: no send_at
    assert (estimate["audience"], estimate["send_at"]) == (3, None)
    await _nothing_sent(simulator)
    assert await _listing(client, admin) == []


@pytest.mark.parametrize(("changes", "code", "field"), _INVALID, ids=_INVALID_IDS)
async def test_an_invalid_estimate_is_the_same_400_as_a_create(
    client: Client,
    gateway: Gateway,
    admin: dict[str, str],
    changes: dict[str, Any],
    code: str,
    field: str,
) -> None:
    await add_service(gateway)
    estimate = await client.post(_ESTIMATE, json=_body(**changes), headers=admin)
    post = await client.post(BROADCASTS, json=_body(**changes), headers=admin)
    error = await error_of(estimate, 400)
    assert (error["code"], error["field"]) == (code, field)
    assert error == await error_of(post, 400)


async def test_an_estimate_has_the_roles_and_scope_of_a_create(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    await add_service(gateway, keyword="GONE", aliases=[], active=False)
    education = await bearer(gateway, Role.OFFICER, ministry="education")
    operator = await bearer(gateway, Role.OPERATOR)
    for headers in (education, operator):
        response = await client.post(_ESTIMATE, json=_body(), headers=headers)
        assert (await error_of(response, 403))["code"] == "forbidden"
    unknown = await client.post(_ESTIMATE, json=_body(service="WEATHER"), headers=admin)
    assert (await error_of(unknown, 404))["field"] == "service"
    inactive = await client.post(_ESTIMATE, json=_body(service="GONE"), headers=admin)
    assert (await error_of(inactive, 409))["code"] == "service_inactive"
    officer = await bearer(gateway, Role.OFFICER, ministry="health")
    assert (await _estimate(client, officer, **_body()))["audience"] == 0
    assert await _listing(client, admin) == []


async def test_a_supervisor_acts_for_their_own_ministry_only(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    await add_service(gateway, requires_approval=True)
    health = await bearer(gateway, Role.OFFICER, ministry="health")
    pending = await create(client, health, **_body(send_at=_later()))
    education = await bearer(gateway, Role.SUPERVISOR, ministry="education")

    post = await client.post(BROADCASTS, json=_body(), headers=education)
    assert (await error_of(post, 403))["code"] == "forbidden"
    approve = await client.post(f"{BROADCASTS}/{pending['id']}/approve", headers=education)
    await error_of(approve, 404)
    assert (await view(client, admin, pending["id"]))["state"] == "awaiting_approval"
    unscoped = await client.post(
        "/api/v1/tokens", json={"role": "supervisor", "person": "Ana"}, headers=admin
    )
    assert (await error_of(unscoped, 400))["field"] == "ministry"


async def test_deactivating_a_service_cancels_what_it_still_had_to_send_saying_why(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    await seed(gateway, "HEALTH", numbers("+50160", 3))
    scheduled = await _scheduled(client, admin)
    patch = await client.patch("/api/v1/services/HEALTH", json={"active": False}, headers=admin)
    assert patch.status == 200

    detail = await view(client, admin, scheduled["id"])
    assert (detail["state"], detail["cancel_reason"]) == ("cancelled", "service_deactivated")
    entries = await gateway.store.audit.audit_entries(
        before=None, limit=10, action=AuditAction.BROADCAST_CANCELLED
    )
    assert [e.detail["reason"] for e in entries] == ["service_deactivated"]
    later = await client.post(BROADCASTS, json=_body(), headers=admin)
    assert (await error_of(later, 409))["code"] == "service_inactive"


async def test_four_eyes_compares_persons_not_tokens(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    await add_service(gateway, requires_approval=True)

    async def token_for(person: str, role: str) -> dict[str, str]:
        body = {"role": role, "ministry": "health", "person": person}
        issued = await client.post("/api/v1/tokens", json=body, headers=admin)
        assert issued.status == 201, await issued.text()
        return {"Authorization": f"Bearer {(await issued.json())['token']}"}

    author = await token_for("Maria Chen", "officer")
    pending = await create(client, author, **_body(send_at=_later()))
    approve = f"{BROADCASTS}/{pending['id']}/approve"
    second_token = await token_for("maria  chen", "supervisor")  # the same person again
    refused = await client.post(approve, headers=second_token)
    assert (await error_of(refused, 403))["message"] == "a second person must approve a broadcast"
    other = await token_for("Luis Pop", "supervisor")
    assert (await client.post(approve, headers=other)).status == 200
