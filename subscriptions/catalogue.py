"""Service catalogue rules: what makes a service's keywords and texts acceptable."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from subscriptions.models import Service
from subscriptions.store import CatalogueStore
from subscriptions.templates import Templates
from subscriptions.words import normalise

_KEYWORD = re.compile(r"[A-Z0-9]{2,20}")


class CatalogueError(ValueError):
    """A service breaks a catalogue rule; `field` names the offending field (for the API)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def validate_service(service: Service, others: Iterable[Service], templates: Templates) -> None:
    """Raise CatalogueError unless `service` can join the catalogue made of `others`.

    `others` is the rest of the catalogue, inactive services included (their keywords stay
    theirs: LEAVE still works for them); for an update, without this service's old version.
    Keywords and aliases are compared as citizens' texts are (normalised: "Salud" is SALUD).
    """
    taken: dict[str, str] = {}
    for other in others:
        taken.update(dict.fromkeys(map(normalise, other.words), other.keyword))
    reserved = templates.reserved
    seen: set[str] = set()
    for field, word in [("keyword", service.keyword)] + [("aliases", a) for a in service.aliases]:
        normal = normalise(word)
        if not _KEYWORD.fullmatch(normal):
            raise CatalogueError(field, f"{word!r} must be 2 to 20 letters A-Z or digits 0-9")
        if normal in seen:
            raise CatalogueError(field, f"{normal} is given twice")
        if normal in taken:
            raise CatalogueError(field, f"{normal} is already used by the service {taken[normal]}")
        if normal in reserved:
            raise CatalogueError(field, f"{normal} is a command word citizens send")
        seen.add(normal)
    for alias, language in service.alias_languages.items():
        if alias not in service.aliases:
            raise CatalogueError("aliases", f"{alias!r} has a language but is not an alias")
        if language not in templates.languages:
            raise CatalogueError(
                f"aliases.{language}",
                f"{language!r} is not one of the languages {_list(templates.languages)}",
            )
    if not service.ministry.strip():
        raise CatalogueError("ministry", "must not be empty")
    known = templates.languages
    for field, texts in (
        ("names", service.names),
        ("descriptions", service.descriptions),
        ("welcome", service.welcome),
    ):
        _check_texts(field, texts, known)
    if service.default_language not in known:
        raise CatalogueError(
            "default_language", f"{service.default_language!r} is not one of {_list(known)}"
        )
    if service.default_language not in service.names:
        raise CatalogueError(
            "names", f"a name in the default language {service.default_language!r} is needed"
        )


async def find_service(store: CatalogueStore, word: str) -> Service | None:
    """The service named by ``word``: its keyword or an alias, in any case (normalised)."""
    keyword = normalise(word)
    service = await store.service(keyword)
    if service is None:
        found = [s for s in await store.services() if keyword in s.words]
        if not found:
            return None
        service = found[0]
    return service


def _check_texts(field: str, texts: Mapping[str, str], known: tuple[str, ...]) -> None:
    for language, text in texts.items():
        if language not in known:
            raise CatalogueError(
                f"{field}.{language}", f"{language!r} is not one of the languages {_list(known)}"
            )
        if not text.strip():
            raise CatalogueError(f"{field}.{language}", "must not be empty")


def _list(languages: Iterable[str]) -> str:
    return ", ".join(languages)
