from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from channels.simulator import Simulator
from channels.text import decode
from smsgw.access.audit import AuditAction
from smsgw.access.tokens import Role, hash_secret
from smsgw.api import MAX_BODY
from smsgw.api.subscriptions import MAX_LINE, MAX_REJECTED
from smsgw.app import GATEWAY, Gateway, build_app
from smsgw.config import Settings
from subscriptions.models import Action, Source
from tests.smsgw.api.catalogue_testbed import IMPORT, SUBSCRIPTIONS, add_service, error_of
from tests.smsgw.testbed import Client, bearer, eventually

CONSENT = "community-centre:orange-walk"
SIGN_UP = {"msisdn": "601-2345", "service": "HEALTH", "language": "es", "consent_source": CONSENT}
LEAVE = {"msisdn": "+5016012345", "service": "HEALTH", "consent_source": CONSENT}


@pytest.fixture
async def health(gateway: Gateway) -> None:
    await add_service(gateway)


@pytest.fixture
async def officer(gateway: Gateway, health: None) -> dict[str, str]:
    """An officer of the health ministry, which owns HEALTH."""
    return await bearer(gateway, Role.OFFICER, ministry="health")


def _import(service: str = "HEALTH", consent: str = "list:moh-2026.csv") -> str:
    return f"{IMPORT}?service={service}&consent_source={consent}"


# ------------------------------------------------------------------ assisted sign-up


async def test_an_assisted_sign_up_is_recorded_with_its_consent_source(
    client: Client, gateway: Gateway, officer: dict[str, str]
) -> None:
    response = await client.post(SUBSCRIPTIONS, json=SIGN_UP, headers=officer)
    assert response.status == 201
    assert await response.json() == {
        "msisdn": "+5016012345",  # a local number, read in the default region
        "service": "HEALTH",
        "subscribed": True,
        "opt_out_lifted": False,
        "language": "es",
        "district": None,
    }
    [join, language] = await gateway.store.subscriptions.history("+5016012345")
    assert (join.action, join.service, join.source, join.consent) == (
        Action.JOIN, "HEALTH", Source.ASSISTED, CONSENT
    )  # fmt: skip
    assert (language.action, language.detail, language.source) == (
        Action.LANGUAGE, "es", Source.ASSISTED
    )  # fmt: skip

    again = await client.post(SUBSCRIPTIONS, json=SIGN_UP | {"service": "salud"}, headers=officer)
    assert again.status == 200
    assert (await again.json())["subscribed"] is False
    assert len(await gateway.store.subscriptions.history("+5016012345")) == 2


async def test_an_assisted_sign_up_never_lifts_a_global_stop(
    client: Client, gateway: Gateway, officer: dict[str, str]
) -> None:
    store = gateway.store
    await store.subscriptions.stop_all(
        "+5016012345", at=datetime.now(UTC), source=Source.SMS, consent="mo-9"
    )
    response = await client.post(SUBSCRIPTIONS, json=SIGN_UP, headers=officer)
    error = await error_of(response, 409)  # only the citizen, by SMS, lifts their STOP
    assert (error["code"], error["field"]) == ("opted_out", "msisdn")
    subscriber = await store.subscriptions.subscriber("+5016012345")
    assert subscriber is not None
    assert subscriber.opted_out_at is not None
    actions = [(e.action, e.source) for e in await store.subscriptions.history("+5016012345")]
    assert actions == [(Action.STOP_ALL, Source.SMS)]


async def test_an_assisted_removal_is_recorded_with_its_consent_source(
    client: Client, gateway: Gateway, officer: dict[str, str]
) -> None:
    await client.post(SUBSCRIPTIONS, json=SIGN_UP, headers=officer)
    for left in (True, False):
        response = await client.delete(SUBSCRIPTIONS, json=LEAVE, headers=officer)
        assert response.status == 200
        assert await response.json() == {"msisdn": "+5016012345", "service": "HEALTH", "left": left}
    last = (await gateway.store.subscriptions.history("+5016012345"))[-1]
    assert (last.action, last.source, last.consent) == (Action.LEAVE, Source.ASSISTED, CONSENT)
    assert await gateway.store.subscriptions.subscriptions("+5016012345") == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"msisdn": "12"}, "msisdn"), ({"msisdn": "+1555"}, "msisdn"),
     ({"msisdn": "six oh one"}, "msisdn"), ({"language": "fr"}, "language"),
     ({"consent_source": ""}, "consent_source"), ({"consent_source": "  "}, "consent_source"),
     ({"consent_source": None}, "consent_source"), ({"channel": "web"}, "channel")],
    ids=["short-number", "invalid-number", "not-a-number", "unknown-language", "no-consent",
         "blank-consent", "null-consent", "unknown-field"],
)  # fmt: skip
async def test_an_invalid_sign_up_is_400_naming_the_field(
    client: Client, officer: dict[str, str], changes: dict[str, Any], field: str
) -> None:
    response = await client.post(SUBSCRIPTIONS, json=SIGN_UP | changes, headers=officer)
    error = await error_of(response, 400)
    assert (error["code"], error["field"]) == ("invalid", field)
    if field == "msisdn":
        assert "is not a valid phone number" in error["message"]


async def test_a_sign_up_without_consent_source_is_400(
    client: Client, officer: dict[str, str]
) -> None:
    body = {k: v for k, v in SIGN_UP.items() if k != "consent_source"}
    for method in (client.post, client.delete):
        error = await error_of(await method(SUBSCRIPTIONS, json=body, headers=officer), 400)
        assert error["field"] == "consent_source"


async def test_an_unknown_service_is_404_and_an_inactive_one_409(
    client: Client, gateway: Gateway, officer: dict[str, str]
) -> None:
    response = await client.post(SUBSCRIPTIONS, json=SIGN_UP | {"service": "NOPE"}, headers=officer)
    assert (await error_of(response, 404))["field"] == "service"
    await add_service(gateway, keyword="CLINIC", aliases=[], active=False)
    body = SIGN_UP | {"service": "CLINIC"}
    error = await error_of(await client.post(SUBSCRIPTIONS, json=body, headers=officer), 409)
    assert (error["code"], error["field"]) == ("service_inactive", "service")
    response = await client.delete(
        SUBSCRIPTIONS, json=LEAVE | {"service": "CLINIC"}, headers=officer
    )
    assert response.status == 200  # leaving an inactive service is always possible


async def test_an_officer_of_another_ministry_is_403(
    client: Client, gateway: Gateway, health: None
) -> None:
    other = await bearer(gateway, Role.OFFICER, ministry="education")
    for response in (
        await client.post(SUBSCRIPTIONS, json=SIGN_UP, headers=other),
        await client.delete(SUBSCRIPTIONS, json=LEAVE, headers=other),
        await client.post(_import(), data=b"msisdn\n+5016012345\n", headers=other),
    ):
        error = await error_of(response, 403)
        assert (error["code"], error["field"]) == ("forbidden", "service")
    assert await gateway.store.subscriptions.history("+5016012345") == []


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.OPERATOR], ids=str)
async def test_only_officers_and_admins_change_subscriptions(
    client: Client, gateway: Gateway, health: None, role: Role
) -> None:
    headers = await bearer(gateway, role)
    await error_of(await client.post(SUBSCRIPTIONS, json=SIGN_UP, headers=headers), 403)
    await error_of(await client.post(_import(), data=b"msisdn\n", headers=headers), 403)


async def test_an_admin_acts_on_any_ministry(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    await add_service(gateway, keyword="SCHOOL", aliases=[], ministry="education")
    body = SIGN_UP | {"service": "SCHOOL"}
    assert (await client.post(SUBSCRIPTIONS, json=body, headers=admin)).status == 201


async def test_without_a_token_it_is_401(client: Client, health: None) -> None:
    for response in (
        await client.post(SUBSCRIPTIONS, json=SIGN_UP),
        await client.delete(SUBSCRIPTIONS, json=LEAVE),
        await client.post(_import(), data=b"msisdn\n"),
    ):
        assert (await error_of(response, 401))["code"] == "unauthorized"


async def test_an_officer_records_the_district_by_its_name_or_an_alias(
    client: Client, gateway: Gateway, officer: dict[str, str]
) -> None:
    response = await client.post(SUBSCRIPTIONS, json=SIGN_UP | {"district": "punta gorda"},
                                 headers=officer)  # fmt: skip
    assert (await response.json())["district"] == "Toledo"
    history = await gateway.store.subscriptions.history("+5016012345")
    assert (history[-1].action, history[-1].detail) == (Action.DISTRICT, "Toledo")
    wrong = await client.post(SUBSCRIPTIONS, json=SIGN_UP | {"district": "Atlantis"},
                              headers=officer)  # fmt: skip
    error = await error_of(wrong, 400)
    assert error["field"] == "district"
    assert "Corozal, Orange Walk, Belize, Cayo, Stann Creek, Toledo" in error["message"]
    listed = await (await client.get("/api/v1/districts", headers=officer)).json()
    toledo = {"name": "Toledo", "aliases": ["Punta Gorda", "PG"]}
    assert (len(listed["districts"]), listed["districts"][-1]) == (6, toledo)


async def test_an_import_takes_a_district_column(
    client: Client, gateway: Gateway, officer: dict[str, str]
) -> None:
    text = "district,msisdn\nCayo,+5016010001\n,+5016010002\nAtlantis,+5016010003\n"
    response = await client.post(_import(), data=text.encode(), headers=officer)
    report = await response.json()
    assert (report["joined"], report["rejected"][0]["field"]) == (2, "district")
    subscribers = gateway.store.subscriptions
    assert await subscribers.audience_by_district("HEALTH") == {"Cayo": 1, None: 1}


# ------------------------------------------------------------------ CSV import

CSV = """msisdn,language
+5016010001,en
601-0002,es
+5016010001,es
12,en

"+501 601 0003",
+5016010004,fr
+1555,en
6010005
"""


async def test_an_import_reports_every_row(
    client: Client, gateway: Gateway, officer: dict[str, str]
) -> None:
    store, now = gateway.store, datetime.now(UTC)
    await store.subscriptions.join(
        "+5016010003", "HEALTH", at=now, source=Source.SMS, consent="mo-1"
    )
    await store.subscriptions.stop_all("+5016010005", at=now, source=Source.SMS, consent="mo-2")
    response = await client.post(_import(), data=CSV.encode(), headers=officer)
    assert response.status == 200
    report = await response.json()
    reasons = {row["line"]: row.pop("reason") for row in report["rejected"]}
    assert isinstance(report.pop("confirmations"), int)  # the broadcast of their confirmations
    assert report == {
        "service": "HEALTH",
        "rows": 8,
        "accepted": 5,
        "joined": 2,  # 0001 and 0002
        "already": 2,  # 0001 again, 0003 subscribed by SMS
        "opted_out_skipped": 1,  # 0005: only the citizen lifts their STOP
        "rejected_total": 3,
        "rejected": [
            {"line": 5, "field": "msisdn", "value": "12"},
            {"line": 8, "field": "language", "value": "fr"},
            {"line": 9, "field": "msisdn", "value": "+1555"},
        ],
    }
    assert "is not a valid phone number" in reasons[5]
    assert "'fr' is not one of the languages en, es" in reasons[8]
    assert await store.subscriptions.audience_size("HEALTH") == 3
    subscriber = await store.subscriptions.subscriber("+5016010002")
    assert subscriber is not None
    assert subscriber.language == "es"
    join = (await store.subscriptions.history("+5016010001"))[0]
    assert (join.action, join.source, join.consent) == (
        Action.JOIN, Source.IMPORT, "list:moh-2026.csv"
    )  # fmt: skip


async def _rows(count: int, *, repeat_every: int) -> AsyncIterator[bytes]:
    """A CSV sent in pieces (chunked transfer): a number every line, some of them repeated."""
    yield b"msisdn,language\r\n"
    for start in range(0, count, 1000):
        lines = (
            f"+50160{(i - 1 if i % repeat_every == 1 else i):05d},en\r\n"
            for i in range(start, min(start + 1000, count))
        )
        yield "".join(lines).encode()


async def test_a_large_import_is_streamed_past_the_body_limit_in_chunks(
    client: Client, gateway: Gateway, officer: dict[str, str]
) -> None:
    rows = 70_000  # 14 chunks of the store; 16 bytes a line: more than a JSON body may have
    assert rows * len(b"+5016000000,en\r\n") > MAX_BODY
    response = await client.post(_import(), data=_rows(rows, repeat_every=10), headers=officer)
    assert response.status == 200
    report = await response.json()
    repeats = rows // 10
    assert {k: report[k] for k in ("rows", "accepted", "joined", "already")} == {
        "rows": rows,
        "accepted": rows,
        "joined": rows - repeats,
        "already": repeats,
    }
    assert report["rejected_total"] == 0
    assert await gateway.store.subscriptions.audience_size("HEALTH") == rows - repeats


async def test_the_rejected_rows_listed_are_capped(client: Client, officer: dict[str, str]) -> None:
    body = "msisdn\n" + "12\n" * (MAX_REJECTED + 5) + "x" * (MAX_LINE + 1) + "\n+5016010001\n"
    report = await (await client.post(_import(), data=body.encode(), headers=officer)).json()
    assert (report["rejected_total"], len(report["rejected"])) == (MAX_REJECTED + 6, MAX_REJECTED)
    assert (report["rows"], report["joined"]) == (MAX_REJECTED + 7, 1)


async def test_an_overlong_line_or_bad_bytes_reject_that_row_only(
    client: Client, officer: dict[str, str]
) -> None:
    body = b"msisdn,language\n" + b"6" * (3 * MAX_LINE) + b"\n\xff\xfe,en\n6010001,en,x\n6010002"
    report = await (await client.post(_import(), data=body, headers=officer)).json()
    assert [(r["line"], r["reason"]) for r in report["rejected"]] == [
        (2, f"the line is longer than {MAX_LINE} bytes"),
        (3, "not UTF-8 text"),
        (4, "more values than the 2 columns"),
    ]
    assert report["joined"] == 1  # the last line, without a final newline


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [(f"{IMPORT}?service=HEALTH", "msisdn\n", "consent_source"),
     (_import(consent="%20"), "msisdn\n", "consent_source"),
     (f"{IMPORT}?consent_source=x", "msisdn\n", "service"),
     (_import() + "&dry_run=1", "msisdn\n", "dry_run"),
     (_import(), "", "body"),
     (_import(), "\n\n", "body"),
     (_import(), "phone,language\n+5016010001,en\n", "body"),
     (_import(), "msisdn,msisdn\n", "body"),
     (_import(), "msisdn," + "x" * MAX_LINE + "\n", "body")],
    ids=["no-consent", "blank-consent", "no-service", "unknown-parameter", "empty",
         "blank", "no-msisdn-column", "column-twice", "header-too-long"],
)  # fmt: skip
async def test_an_import_without_consent_or_header_is_400(
    client: Client, gateway: Gateway, officer: dict[str, str], url: str, body: str, field: str
) -> None:
    error = await error_of(await client.post(url, data=body.encode(), headers=officer), 400)
    assert (error["code"], error["field"]) == ("invalid", field)
    assert await gateway.store.subscriptions.audience_size("HEALTH") == 0


async def test_an_import_into_an_unknown_or_inactive_service_is_refused(
    client: Client, gateway: Gateway, officer: dict[str, str]
) -> None:
    await error_of(await client.post(_import("NOPE"), data=b"msisdn\n", headers=officer), 404)
    await add_service(gateway, keyword="CLINIC", aliases=[], active=False)
    await error_of(await client.post(_import("CLINIC"), data=b"msisdn\n", headers=officer), 409)


async def test_the_subscription_routes_are_documented(client: Client) -> None:
    paths = (await (await client.get("/api/v1/openapi.json")).json())["paths"]
    assert set(paths[SUBSCRIPTIONS]) == {"post", "delete"}
    assert set(paths[SUBSCRIPTIONS]["post"]["responses"]) >= {"200", "201", "400", "403", "409"}
    assert "200" in paths[IMPORT]["post"]["responses"]


async def test_a_number_no_carrier_serves_is_refused_up_front(
    client: Client, gateway: Gateway, officer: dict[str, str]
) -> None:
    uk = "+442079460000"  # a valid number, but no channel of this gateway has its prefix
    signed = await client.post(SUBSCRIPTIONS, json=SIGN_UP | {"msisdn": uk}, headers=officer)
    error = (await signed.json())["error"]
    assert (signed.status, error["code"], error["field"]) == (400, "no_route", "msisdn")
    assert await gateway.store.subscriptions.subscriber(uk) is None

    csv = f"msisdn\n{uk}\n+5016010001\n"
    report = await (await client.post(_import(), data=csv.encode(), headers=officer)).json()
    assert (report["joined"], report["rejected_total"]) == (1, 1)
    assert report["rejected"][0]["field"] == "msisdn"
    assert report["rejected"][0]["reason"] == "no carrier of this gateway serves this number"
    assert await gateway.store.subscriptions.subscriber(uk) is None


@pytest.fixture
async def limited(settings: Settings) -> AsyncIterator[Client]:
    """The API with small import limits: 1,000 rows, 64 KiB once decompressed."""
    http = settings.http.model_copy(update={"import_max_rows": 1000, "import_max_bytes": 65536})
    app = build_app(settings.model_copy(update={"http": http}))
    async with TestClient(TestServer(app)) as client:
        await add_service(client.app[GATEWAY])
        yield client


def _numbers(count: int) -> bytes:
    return ("msisdn\n" + "".join(f"+50160{n:05d}\n" for n in range(count))).encode()


async def _import_audit(gateway: Gateway) -> dict[str, Any]:
    [entry] = await gateway.store.audit.audit_entries(
        before=None, limit=5, action=AuditAction.SUBSCRIBERS_IMPORTED
    )
    assert entry.actor != "cli"
    return entry.detail


async def test_an_import_over_its_row_limit_is_413_and_audited_with_what_it_did(
    limited: Client,
) -> None:
    gateway = limited.app[GATEWAY]
    admin = await bearer(gateway, Role.ADMIN)
    response = await limited.post(_import(), data=_numbers(1001), headers=admin)
    error = await error_of(response, 413)
    assert (error["code"], error["field"]) == ("too_large", "body")
    assert "more than 1000 rows" in error["message"]
    detail = await _import_audit(gateway)
    assert detail["outcome"] == "too_large"
    assert detail["rows"] == 1001
    assert await gateway.store.subscriptions.audience_size("HEALTH") == detail["joined"]


async def test_a_gzipped_import_is_capped_once_decompressed(limited: Client) -> None:
    gateway = limited.app[GATEWAY]
    admin = await bearer(gateway, Role.ADMIN)
    bomb = gzip.compress(b"msisdn\n" + b"+5016000001\n" * 200_000)  # 2.4 MB from a few KB
    assert len(bomb) < 10_000
    headers = {**admin, "Content-Encoding": "gzip", "Content-Type": "text/csv"}
    response = await limited.post(_import(), data=bomb, headers=headers)
    error = await error_of(response, 413)
    assert "over 65536 bytes (once decompressed)" in error["message"]
    assert (await _import_audit(gateway))["outcome"] == "too_large"
    small = gzip.compress(_numbers(10))
    fine = await limited.post(_import(), data=small, headers=headers)
    assert fine.status == 200
    assert (await fine.json())["joined"] == 10


async def test_every_consent_record_names_who_made_it_for_the_citizen(
    client: Client, gateway: Gateway, officer: dict[str, str]
) -> None:
    token = await gateway.store.tokens.token_by_hash(
        hash_secret(officer["Authorization"].removeprefix("Bearer "))
    )
    assert token is not None
    assert (await client.post(SUBSCRIPTIONS, json=SIGN_UP, headers=officer)).status == 201
    assert (
        await client.request("DELETE", SUBSCRIPTIONS, json=LEAVE, headers=officer)
    ).status == 200
    csv = b"msisdn,language\n+5016010001,es\n"
    assert (await client.post(_import(), data=csv, headers=officer)).status == 200
    await gateway.store.subscriptions.stop_all(
        "+5016010001", at=datetime.now(UTC), source=Source.SMS, consent="mo-1"
    )
    signed = await gateway.store.subscriptions.history("+5016012345")
    imported = await gateway.store.subscriptions.history("+5016010001")
    assert {(e.action, e.actor) for e in signed} == {
        (Action.JOIN, token.id),
        (Action.LANGUAGE, token.id),
        (Action.LEAVE, token.id),
    }
    assert [(e.action, e.source, e.actor) for e in imported] == [
        (Action.JOIN, Source.IMPORT, token.id),
        (Action.LANGUAGE, Source.IMPORT, token.id),
        (Action.STOP_ALL, Source.SMS, None),  # the citizen themself
    ]


async def test_a_citizen_signed_up_by_an_officer_gets_one_sms_saying_who_and_how_to_leave(
    client: Client, gateway: Gateway, officer: dict[str, str], simulator: Simulator
) -> None:
    response = await client.post(SUBSCRIPTIONS, json=SIGN_UP, headers=officer)  # Spanish
    assert response.status == 201
    again = await client.post(SUBSCRIPTIONS, json=SIGN_UP, headers=officer)
    assert again.status == 200  # subscribed already: no second SMS
    await eventually(lambda: len(simulator.submits) >= 1)
    await asyncio.sleep(0.2)
    [sms] = [s for s in simulator.submits if s.destination_addr == "5016012345"]
    text = decode(sms.short_message, sms.data_coding)
    assert text.startswith("El ministerio health le dio de alta en")
    assert "ALTO HEALTH" in text


async def test_a_service_may_switch_the_sign_up_confirmation_off(
    client: Client, gateway: Gateway, simulator: Simulator
) -> None:
    await add_service(gateway, keyword="QUIET", aliases=[], confirm_sign_ups=False)
    officer = await bearer(gateway, Role.OFFICER, ministry="health")
    body = SIGN_UP | {"service": "QUIET"}
    assert (await client.post(SUBSCRIPTIONS, json=body, headers=officer)).status == 201
    await asyncio.sleep(0.5)  # time enough for a confirmation to reach the SMSC, were one sent
    assert [s for s in simulator.submits if s.destination_addr == "5016012345"] == []


async def test_the_numbers_an_import_signs_up_each_get_one_confirmation_in_their_language(
    client: Client, gateway: Gateway, officer: dict[str, str], simulator: Simulator
) -> None:
    store, now = gateway.store, datetime.now(UTC)
    await store.subscriptions.join("+5016010003", "HEALTH", at=now, source=Source.SMS, consent="1")
    await store.subscriptions.stop_all("+5016010005", at=now, source=Source.SMS, consent="mo-2")
    await store.subscriptions.join("+5016010009", "HEALTH", at=now, source=Source.SMS, consent="2")
    csv = b"msisdn,language\n+5016010001,en\n+5016010002,es\n+5016010003,\n+5016010005,en\n"
    response = await client.post(_import(), data=csv, headers=officer)
    assert response.status == 200
    report = await response.json()
    assert report["joined"] == 2

    await eventually(lambda: len(simulator.submits) >= 2)
    await asyncio.sleep(0.3)  # time enough for a third, were one sent
    texts = {s.destination_addr: decode(s.short_message, s.data_coding) for s in simulator.submits}
    assert set(texts) == {"5016010001", "5016010002"}  # not those already in, nor the STOP
    assert texts["5016010001"].startswith("The health ministry signed you up to Health alerts")
    assert texts["5016010002"].startswith("El ministerio health le dio de alta en Alertas")
    detail = await client.get(f"/api/v1/broadcasts/{report['confirmations']}", headers=officer)
    confirmations = await detail.json()
    assert confirmations["joined_at"] is not None
    assert confirmations["audience"] == 2


async def test_an_import_into_a_service_without_confirmations_sends_nothing(
    client: Client, gateway: Gateway, simulator: Simulator
) -> None:
    await add_service(gateway, keyword="QUIET", aliases=[], confirm_sign_ups=False)
    officer = await bearer(gateway, Role.OFFICER, ministry="health")
    csv = b"msisdn,language\n+5016010001,en\n"
    response = await client.post(_import("QUIET"), data=csv, headers=officer)
    assert (await response.json())["confirmations"] is None
    await asyncio.sleep(0.5)  # time enough for a confirmation to reach the SMSC, were one sent
    assert simulator.submits == []
