"""Catalogue rules: keywords and aliases citizens can type, unique, never a command word."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from subscriptions.catalogue import CatalogueError, find_service, validate_service
from subscriptions.models import Service
from subscriptions.templates import Templates

TEMPLATES = Path(__file__).parents[2] / "templates"

HEALTH = Service(
    "HEALTH",
    "health",
    {"en": "Health alerts", "es": "Alertas de salud"},
    aliases=("SALUD",),
    descriptions={"en": "Clinics, vaccination days, outbreaks", "es": "Clínicas y vacunación"},
    welcome={"en": "Welcome to Health alerts.", "es": "Bienvenido a Alertas de salud."},
)
OTHERS = (
    Service("WEATHER", "met", {"en": "Weather"}, aliases=("CLIMA",)),
    Service("HURRICANE", "nemo", {"en": "Hurricane alerts"}, aliases=("HURACAN",)),
    Service("EDUCATION", "education", {"en": "School news"}, aliases=("EDUCACION",)),
    Service("AGRI", "agriculture", {"en": "Farm prices"}, aliases=("AGRO",)),
    Service("JOBS", "labour", {"en": "Job offers"}, aliases=("EMPLEO",), active=False),
)


@pytest.fixture(scope="module")
def templates() -> Templates:
    return Templates.load(TEMPLATES)


def test_a_well_formed_service_is_accepted(templates):
    validate_service(HEALTH, OTHERS, templates)


def test_an_update_is_checked_against_the_other_services_only(templates):
    updated = dataclasses.replace(HEALTH, aliases=("SALUD", "CLINIC"), active=False)
    validate_service(updated, OTHERS, templates)
    with pytest.raises(CatalogueError, match="already used by the service HEALTH"):
        validate_service(updated, [*OTHERS, HEALTH], templates)


def test_keywords_are_compared_as_citizens_type_them(templates):
    validate_service(
        dataclasses.replace(HEALTH, keyword="Héalth", aliases=("salud",)), OTHERS, templates
    )


INVALID: list[tuple[str, dict[str, Any], str, str]] = [
    ("keyword-with-space", {"keyword": "HEALTH NEWS"}, "keyword", "A-Z"),
    ("keyword-with-punctuation", {"keyword": "HEALTH-2"}, "keyword", "A-Z"),
    ("keyword-one-letter", {"keyword": "H"}, "keyword", "2 to 20"),
    ("keyword-21-letters", {"keyword": "H" * 21}, "keyword", "2 to 20"),
    ("keyword-empty", {"keyword": ""}, "keyword", "2 to 20"),
    ("keyword-non-latin", {"keyword": "ЗДОРОВЬЕ"}, "keyword", "A-Z"),
    ("alias-with-space", {"aliases": ("SALUD PUBLICA",)}, "aliases", "A-Z"),
    ("keyword-is-another-keyword", {"keyword": "WEATHER"}, "keyword", "WEATHER"),
    ("keyword-is-another-alias", {"keyword": "Clima"}, "keyword", "service WEATHER"),
    ("alias-is-another-keyword", {"aliases": ("AGRI",)}, "aliases", "service AGRI"),
    ("alias-is-another-alias", {"aliases": ("HURACAN",)}, "aliases", "service HURRICANE"),
    ("alias-of-an-inactive-service", {"aliases": ("EMPLEO",)}, "aliases", "service JOBS"),
    ("alias-repeats-keyword", {"aliases": ("health",)}, "aliases", "twice"),
    ("alias-given-twice", {"aliases": ("SALUD", "SALUD")}, "aliases", "twice"),
    ("keyword-stop", {"keyword": "STOP"}, "keyword", "command word"),
    ("keyword-help", {"keyword": "HELP"}, "keyword", "command word"),
    ("keyword-all-of-stop-all", {"keyword": "ALL"}, "keyword", "command word"),
    ("alias-alto", {"aliases": ("ALTO",)}, "aliases", "command word"),
    ("alias-lista", {"aliases": ("Lista",)}, "aliases", "command word"),
    ("alias-language-word", {"aliases": ("ESPANOL",)}, "aliases", "command word"),
    ("alias-language-code", {"aliases": ("ES",)}, "aliases", "command word"),
    ("alias-yes", {"aliases": ("YES",)}, "aliases", "command word"),
    ("name-unknown-language", {"names": {"en": "Health", "fr": "Santé"}}, "names.fr", "'fr'"),
    ("welcome-unknown-language", {"welcome": {"kr": "Welkum"}}, "welcome.kr", "'kr'"),
    ("alias-unknown-language", {"alias_languages": {"SALUD": "fr"}}, "aliases.fr", "'fr'"),
    ("language-of-no-alias", {"alias_languages": {"CLINIC": "en"}}, "aliases", "not an alias"),
    ("description-unknown-language", {"descriptions": {"xx": "?"}}, "descriptions.xx", "'xx'"),
    ("name-empty", {"names": {"en": " "}}, "names.en", "empty"),
    ("default-language-unknown", {"default_language": "fr"}, "default_language", "'fr'"),
    ("default-language-without-name", {"default_language": "es", "names": {"en": "Health"}},
     "names", "'es'"),
    ("ministry-empty", {"ministry": ""}, "ministry", "empty"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_an_invalid_service_is_refused_naming_the_field(templates, change, field, message):
    with pytest.raises(CatalogueError) as raised:
        validate_service(dataclasses.replace(HEALTH, **change), OTHERS, templates)
    assert raised.value.field == field
    assert message in raised.value.message


class _Catalogue:
    """A CatalogueStore over a fixed list of services."""

    def __init__(self, services: tuple[Service, ...]) -> None:
        self._services = {service.keyword: service for service in services}

    async def services(self, *, active_only: bool = False) -> list[Service]:
        return [s for s in self._services.values() if s.active or not active_only]

    async def service(self, keyword: str) -> Service | None:
        return self._services.get(keyword)

    async def add_service(self, service: Service) -> None:
        raise NotImplementedError

    async def replace_service(self, service: Service) -> None:
        raise NotImplementedError


@pytest.mark.parametrize("word", ["WEATHER", "weather", "Clima", "clima"])
async def test_a_service_is_found_by_its_keyword_or_an_alias_in_any_case(word):
    assert await find_service(_Catalogue(OTHERS), word) == OTHERS[0]


async def test_an_inactive_service_is_found_and_an_unknown_word_is_not():
    catalogue = _Catalogue(OTHERS)

    assert await find_service(catalogue, "empleo") == OTHERS[-1]
    assert await find_service(catalogue, "NOPE") is None
