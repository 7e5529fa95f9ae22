from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from smsgw.access.tokens import Role
from smsgw.app import Gateway
from subscriptions.models import Source
from tests.smsgw.api.catalogue_testbed import SERVICES, add_service, error_of, health_body
from tests.smsgw.testbed import Client, bearer


async def test_an_admin_creates_a_service_that_every_token_can_read(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    response = await client.post(SERVICES, json=health_body(), headers=admin)
    assert response.status == 201
    created = await response.json()
    assert created == health_body() | {"subscribers": 0}
    assert await gateway.store.catalogue.service("HEALTH") is not None

    operator = await bearer(gateway, Role.OPERATOR)
    listing = await client.get(SERVICES, headers=operator)
    assert listing.status == 200
    # with the languages a service's texts may be in: the console's form offers those
    assert await listing.json() == {"services": [created], "languages": ["en", "es"]}
    for name in ("HEALTH", "health", "Salud"):  # any case, keyword or alias
        one = await client.get(f"{SERVICES}/{name}", headers=operator)
        assert (one.status, await one.json()) == (200, created)


async def test_keywords_are_stored_as_citizens_texts_are_matched(
    client: Client, admin: dict[str, str]
) -> None:
    body = health_body(keyword="Música", aliases=["radio1"], ministry="culture")
    response = await client.post(SERVICES, json=body, headers=admin)
    assert response.status == 201
    assert {k: (await response.json())[k] for k in ("keyword", "aliases")} == {
        "keyword": "MUSICA",
        "aliases": {"und": ["RADIO1"]},  # a plain list: their language is not known
    }


async def test_aliases_are_given_and_shown_by_language_and_read_back_as_given(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    aliases = {"es": ["Salud", "clínica"], "en": ["clinic"], "und": ["h1"]}
    response = await client.post(SERVICES, json=health_body(aliases=aliases), headers=admin)
    assert response.status == 201, await response.text()
    shown = {"es": ["SALUD", "CLINICA"], "en": ["CLINIC"], "und": ["H1"]}
    created = await response.json()
    assert created["aliases"] == shown
    service = await gateway.store.catalogue.service("HEALTH")
    assert service is not None
    assert service.aliases == ("SALUD", "CLINICA", "CLINIC", "H1")
    assert service.alias_languages == {"SALUD": "es", "CLINICA": "es", "CLINIC": "en"}

    got = await (await client.get(f"{SERVICES}/clinica", headers=admin)).json()
    assert got == created
    again = await client.patch(f"{SERVICES}/HEALTH", json={"aliases": got["aliases"]},
                               headers=admin)  # fmt: skip
    assert (again.status, await again.json()) == (200, created)
    assert await gateway.store.catalogue.service("HEALTH") == service


async def test_a_plain_list_of_aliases_is_still_read_as_of_no_known_language(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    await add_service(gateway)  # SALUD: Spanish
    response = await client.patch(f"{SERVICES}/HEALTH", json={"aliases": ["SALUD", "H1"]},
                                  headers=admin)  # fmt: skip
    assert (await response.json())["aliases"] == {"und": ["SALUD", "H1"]}
    service = await gateway.store.catalogue.service("HEALTH")
    assert service is not None
    assert (service.aliases, service.alias_languages) == (("SALUD", "H1"), {})


async def test_the_subscriber_count_is_the_audience(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    store, now = gateway.store, datetime.now(UTC)
    for msisdn in ("+5016012345", "+5016012346", "+5016012347"):
        await store.subscriptions.join(msisdn, "HEALTH", at=now, source=Source.SMS, consent="mo-1")
    await store.subscriptions.stop_all("+5016012347", at=now, source=Source.SMS, consent="mo-2")
    response = await client.get(f"{SERVICES}/HEALTH", headers=admin)
    assert (await response.json())["subscribers"] == 2


async def test_a_patch_changes_only_the_fields_given(
    client: Client, gateway: Gateway, admin: dict[str, str]
) -> None:
    await add_service(gateway)
    aliases = {"es": ["SALUD"], "en": ["clinic"]}
    changes = {"aliases": aliases, "welcome": {"en": "Welcome!"}, "active": False}
    response = await client.patch(f"{SERVICES}/salud", json=changes, headers=admin)
    assert response.status == 200
    aliases = {"es": ["SALUD"], "en": ["CLINIC"]}
    expected = health_body(aliases=aliases, welcome={"en": "Welcome!"}, active=False)
    assert await response.json() == expected | {"subscribers": 0}
    service = await gateway.store.catalogue.service("HEALTH")
    assert service is not None
    assert (service.active, service.aliases) == (False, ("SALUD", "CLINIC"))

    unchanged = await client.patch(f"{SERVICES}/HEALTH", json={"keyword": "health"}, headers=admin)
    assert (await unchanged.json())["active"] is False  # the same keyword may be sent back


async def test_every_catalogue_write_tells_the_gateway(
    client: Client, gateway: Gateway, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    async def changed() -> None:
        calls.append("changed")

    monkeypatch.setattr(gateway, "catalogue_changed", changed)
    await client.post(SERVICES, json=health_body(), headers=admin)
    await client.patch(f"{SERVICES}/HEALTH", json={"active": False}, headers=admin)
    await client.post(SERVICES, json=health_body(keyword="JOIN"), headers=admin)  # refused
    assert calls == ["changed", "changed"]


_BAD = [
    ({"keyword": "HEALTH!"}, "keyword"),
    ({"keyword": "HEAL TH"}, "keyword"),
    ({"keyword": "H"}, "keyword"),
    ({"keyword": "JOIN"}, "keyword"),
    ({"keyword": "ALL"}, "keyword"),  # STOP ALL: a service ALL would be ambiguous
    ({"aliases": ["ALTO"]}, "aliases"),
    ({"aliases": ["SALUD", "salud"]}, "aliases"),
    ({"aliases": ["SA-LUD"]}, "aliases"),
    ({"aliases": {"fr": ["SANTE"]}}, "aliases.fr"),
    ({"aliases": {"es": ["SALUD"], "EN": []}}, "aliases.EN"),
    ({"aliases": {"es": ["SALUD"], "und": ["salud"]}}, "aliases"),
    ({"aliases": {"es": ["ALTO"]}}, "aliases"),
    ({"aliases": {"es": [f"SALUD{i}" for i in range(21)]}}, "aliases"),
    ({"aliases": {"es": "SALUD"}}, "aliases.es"),
    ({"names": {"en": "Health", "fr": "Santé"}}, "names.fr"),
    ({"welcome": {"en": " "}}, "welcome.en"),
    ({"default_language": "fr"}, "default_language"),
    ({"default_language": "es", "names": {"en": "Health"}}, "names"),
    ({"ministry": " "}, "ministry"),
    ({"ministry": None}, "ministry"),
    ({"active": "maybe"}, "active"),
    ({"colour": "blue"}, "colour"),
]
_BAD_IDS = ["punctuation", "space", "one-letter", "reserved-join", "reserved-all",
            "reserved-alias", "alias-twice", "alias-punctuation", "alias-unknown-language",
            "alias-language-in-capitals", "alias-twice-in-two-languages", "reserved-spanish-alias",
            "21-aliases", "alias-group-not-a-list", "unknown-language",
            "empty-welcome", "unknown-default-language", "no-default-name", "blank-ministry",
            "null-ministry", "not-a-bool", "unknown-field"]  # fmt: skip


_LONG = [
    ({"welcome": {"en": "Welcome! " * 36}}, "welcome.en"),  # 3 SMS to every JOIN
    ({"names": {"en": "Health " * 23}}, "names.en"),  # its LIST line would take 2 SMS
    ({"descriptions": {"en": "Clinics " * 21}}, "descriptions.en"),
]


@pytest.mark.parametrize(("changes", "field"), _LONG, ids=["welcome", "name", "description"])
async def test_citizen_facing_texts_are_capped(
    client: Client, admin: dict[str, str], changes: dict[str, Any], field: str
) -> None:
    response = await client.post(SERVICES, json=health_body(**changes), headers=admin)
    error = await error_of(response, 400)
    assert (error["code"], error["field"]) == ("too_long", field)
    fine = {"welcome": {"en": "Welcome! " * 30}}  # 2 SMS: the most a welcome may take
    assert (await client.post(SERVICES, json=health_body(**fine), headers=admin)).status == 201


@pytest.mark.parametrize(("changes", "field"), _BAD, ids=_BAD_IDS)
async def test_an_invalid_service_is_400_naming_the_field(
    client: Client, admin: dict[str, str], changes: dict[str, Any], field: str
) -> None:
    response = await client.post(SERVICES, json=health_body(**changes), headers=admin)
    error = await error_of(response, 400)
    assert (error["code"], error["field"]) == ("invalid", field)
    assert error["message"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"aliases": ["SALUD"]}, "aliases"), ({"aliases": {"en": ["salud"]}}, "aliases"),
     ({"keyword": "salud"}, "keyword"), ({"keyword": "HEALTH", "aliases": []}, "keyword")],
    ids=["alias-taken", "alias-taken-in-another-language", "keyword-is-an-alias",
         "keyword-taken"],
)  # fmt: skip
async def test_a_word_naming_another_service_is_409(
    client: Client, gateway: Gateway, admin: dict[str, str], changes: dict[str, Any], field: str
) -> None:
    await add_service(gateway, active=False)  # an inactive service keeps its words
    body = health_body(keyword="CLINIC", aliases=[]) | changes
    error = await error_of(await client.post(SERVICES, json=body, headers=admin), 409)
    assert (error["code"], error["field"]) == ("conflict", field)
    assert "HEALTH" in error["message"]


@pytest.mark.parametrize(
    ("changes", "status", "field"),
    [({"keyword": "CLINIC"}, 400, "keyword"), ({"aliases": ["STOP"]}, 400, "aliases"),
     ({"aliases": ["WEATHER"]}, 409, "aliases"), ({"names": None}, 400, "names"),
     ({"default_language": "es", "names": {"en": "x"}}, 400, "names"),
     ({"aliases": {"es": ["SALUD"], "xx": ["H1"]}}, 400, "aliases.xx")],
    ids=["keyword-change", "reserved-alias", "alias-taken", "null", "no-default-name",
         "alias-unknown-language"],
)  # fmt: skip
async def test_an_invalid_patch_is_refused_and_changes_nothing(
    client: Client,
    gateway: Gateway,
    admin: dict[str, str],
    changes: dict[str, Any],
    status: int,
    field: str,
) -> None:
    before = await add_service(gateway)
    await add_service(gateway, keyword="WEATHER", aliases=["CLIMA"], ministry="nemo")
    response = await client.patch(f"{SERVICES}/HEALTH", json=changes, headers=admin)
    assert (await error_of(response, status))["field"] == field
    assert await gateway.store.catalogue.service("HEALTH") == before


async def test_an_unknown_service_is_404(client: Client, admin: dict[str, str]) -> None:
    error = await error_of(await client.get(f"{SERVICES}/NOPE", headers=admin), 404)
    assert error["code"] == "not_found"
    response = await client.patch(f"{SERVICES}/NOPE", json={"active": False}, headers=admin)
    await error_of(response, 404)


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.OFFICER, Role.OPERATOR], ids=str)
async def test_only_an_admin_writes_the_catalogue(
    client: Client, gateway: Gateway, role: Role
) -> None:
    await add_service(gateway)
    headers = await bearer(gateway, role)
    await error_of(await client.post(SERVICES, json=health_body(), headers=headers), 403)
    patch = await client.patch(f"{SERVICES}/HEALTH", json={"active": False}, headers=headers)
    await error_of(patch, 403)
    assert (await client.get(SERVICES, headers=headers)).status == 200


async def test_without_a_token_it_is_401(client: Client) -> None:
    for response in (
        await client.get(SERVICES),
        await client.get(f"{SERVICES}/HEALTH"),
        await client.post(SERVICES, json=health_body()),
        await client.patch(f"{SERVICES}/HEALTH", json={}),
    ):
        assert (await error_of(response, 401))["code"] == "unauthorized"


async def test_the_catalogue_routes_are_documented(client: Client) -> None:
    document = await (await client.get("/api/v1/openapi.json")).json()
    post = document["paths"][SERVICES]["post"]
    assert set(post["responses"]) == {"201", "400", "401", "403", "409", "413", "429", "503"}
    assert set(document["paths"][f"{SERVICES}/{{keyword}}"]) == {"get", "patch"}
    schemas = document["components"]["schemas"]
    assert set(schemas["NewService"]["required"]) == {"keyword", "ministry", "names"}
    assert "keyword" not in schemas["ServicePatch"].get("required", [])
    assert "subscribers" in schemas["ServiceView"]["properties"]
    aliases = schemas["NewService"]["properties"]["aliases"]  # by language, or a plain list
    assert {form["type"] for form in aliases["anyOf"]} == {"object", "array"}
    assert "und" in aliases["description"]
    assert schemas["ServiceView"]["properties"]["aliases"]["type"] == "object"
