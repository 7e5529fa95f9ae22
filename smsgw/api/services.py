"""``/api/v1/services``: the service catalogue (any token reads, an admin writes).

Keywords and aliases are stored as citizens' texts are matched: normalised ("Salud" is SALUD),
so a path or a body may name a service in any case, by its keyword or one of its aliases.

Aliases are given by language, ``{"es": ["SALUD"]}``: a citizen who texts SALUD is answered in
Spanish. ``"und"`` (BCP 47's "undetermined") holds those of no known language, and a plain list
(``["SALUD"]``, the first form of this API) is read as such. They are always shown by language.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any

import structlog
from aiohttp import web
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator

from channels.text import text_info
from smsgw.access.audit import AuditAction, AuditEntry
from smsgw.access.tokens import STAFF, Role
from smsgw.api.context import PRINCIPAL, SERVICES, Services
from smsgw.api.errors import ErrorBody
from smsgw.api.routes import Route, json_response, read_body
from smsgw.errors import Conflict, Invalid, NotFound
from subscriptions.catalogue import CatalogueError, validate_service
from subscriptions.catalogue import find_service as named_service
from subscriptions.models import Service
from subscriptions.store import CatalogueStore, ServiceConflict, SubscriptionStore
from subscriptions.templates import Templates
from subscriptions.words import normalise

_log = structlog.get_logger(__name__)

Texts = dict[str, str]
_TEXTS = "language code → text, in the languages of templates/"
UNDETERMINED = "und"  # BCP 47: the aliases whose language is not known
MAX_ALIASES = 20


def _undetermined(value: Any) -> Any:
    """A plain list of aliases (the first form of this API): their language is not known."""
    return {UNDETERMINED: value} if isinstance(value, list) else value


_WORDS = {"type": "array", "items": {"type": "string"}}
# language code → aliases; or, as first accepted, a plain list (read as "und")
Aliases = Annotated[
    dict[str, list[str]],
    BeforeValidator(_undetermined),
    WithJsonSchema({"anyOf": [{"type": "object", "additionalProperties": _WORDS}, _WORDS]}),
]
_ALIASES = (
    'other keywords by language (a language code of templates/, or "und": not known); a text'
    ' made of one language\'s words is answered in it. A plain list is read as "und"'
)


def _normal_aliases(value: dict[str, list[str]]) -> dict[str, list[str]]:
    """The aliases with their words normalised (as _word), at most MAX_ALIASES in all."""
    grouped = {language: [_word(alias) for alias in group] for language, group in value.items()}
    if (count := sum(map(len, grouped.values()))) > MAX_ALIASES:
        raise ValueError(f"{count} aliases, at most {MAX_ALIASES}")
    return grouped


def _alias_fields(value: dict[str, list[str]]) -> tuple[tuple[str, ...], dict[str, str]]:
    """Service.aliases and Service.alias_languages of the aliases as the API takes them."""
    aliases = tuple(alias for group in value.values() for alias in group)
    languages = {
        alias: language
        for language, group in value.items()
        if language != UNDETERMINED
        for alias in group
    }
    return aliases, languages


def _by_language(service: Service) -> dict[str, list[str]]:
    """The aliases as the API shows them: by language, "und" for those of none known."""
    grouped: dict[str, list[str]] = {}
    for alias in service.aliases:
        language = service.alias_languages.get(alias, UNDETERMINED)
        grouped.setdefault(language, []).append(alias)
    return grouped


def _word(value: str) -> str:
    """A keyword as written by an admin → its stored form; letters and digits only (accents
    and case do not matter, as in citizens' texts; spaces and punctuation are refused)."""
    if not value or not all(char.isalnum() for char in value):
        raise ValueError(f"{value!r} must be letters A-Z and digits 0-9 only")
    return normalise(value)


class ServiceFields(BaseModel):
    """The fields a PATCH may change; each one left out keeps its value. ``null`` is refused:
    no field can be emptied that way (send ``[]`` or ``{}``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    aliases: Aliases | None = Field(None, description=_ALIASES, examples=[{"es": ["SALUD"]}])
    ministry: str | None = Field(None, min_length=1, max_length=64, examples=["health"])
    names: Texts | None = Field(None, description=_TEXTS)
    descriptions: Texts | None = Field(None, description=_TEXTS)
    welcome: Texts | None = Field(None, description=_TEXTS + " (the SMS a new subscriber gets)")
    default_language: str | None = Field(None, examples=["en"])
    requires_approval: bool | None = Field(None, description="broadcasts need a second person")
    active: bool | None = Field(None, description="false: citizens can no longer join it")
    confirm_sign_ups: bool | None = Field(
        None, description="a citizen an officer signs up gets one SMS: who, and how to leave"
    )

    @field_validator("*")
    @classmethod
    def _not_null(cls, value: Any) -> Any:  # runs only for the fields given
        if value is None:
            raise ValueError("must not be null")
        return value

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        return _normal_aliases(value)


class ServicePatch(ServiceFields):
    keyword: str | None = Field(None, description="cannot change; allowed if unchanged")


class NewService(ServiceFields):
    keyword: str = Field(
        min_length=2, max_length=20, description="what citizens text", examples=["HEALTH"]
    )
    aliases: Aliases = Field({}, description=_ALIASES, examples=[{"es": ["SALUD"]}])
    ministry: str = Field(min_length=1, max_length=64, examples=["health"])
    names: Texts = Field(description=_TEXTS + "; one in the default language at least")
    descriptions: Texts = Field({}, description=_TEXTS)
    welcome: Texts = Field({}, description=_TEXTS + " (the SMS a new subscriber gets)")
    default_language: str = "en"
    requires_approval: bool = False
    active: bool = True
    confirm_sign_ups: bool = True

    @field_validator("keyword")
    @classmethod
    def _keyword(cls, value: str) -> str:
        return _word(value)

    def service(self) -> Service:
        fields = self.model_dump(exclude={"aliases"})
        aliases, languages = _alias_fields(self.aliases)
        return Service(**fields, aliases=aliases, alias_languages=languages)


class ServiceView(BaseModel):
    keyword: str
    aliases: dict[str, list[str]] = Field(
        description='language code ("und": not known) → aliases', examples=[{"es": ["SALUD"]}]
    )
    ministry: str
    names: Texts
    descriptions: Texts
    welcome: Texts
    default_language: str
    requires_approval: bool
    active: bool
    confirm_sign_ups: bool
    subscribers: int = Field(description="active subscribers without a global opt-out")


class ServiceList(BaseModel):
    services: list[ServiceView]
    languages: list[str] = Field(
        description="those a service's texts and aliases may be in (templates/'s)",
        examples=[["en", "es"]],
    )


async def find_service(store: CatalogueStore, word: str, *, field: str | None = None) -> Service:
    """The service named by ``word`` (its keyword or an alias, any case); 404 otherwise."""
    service = await named_service(store, word)
    if service is None:
        raise NotFound(f"no service {word!r}", field=field)
    return service


async def _view(store: SubscriptionStore, service: Service) -> ServiceView:
    fields = {f.name: getattr(service, f.name) for f in dataclasses.fields(service)}
    del fields["alias_languages"]
    fields["aliases"] = _by_language(service)
    return ServiceView(**fields, subscribers=await store.audience_size(service.keyword))


async def list_services(request: web.Request) -> web.Response:
    deps = request.app[SERVICES]
    views = [await _view(deps.subscriptions, s) for s in await deps.catalogue.services()]
    return json_response(ServiceList(services=views, languages=list(deps.templates.languages)))


async def get_service(request: web.Request) -> web.Response:
    deps = request.app[SERVICES]
    service = await find_service(deps.catalogue, request.match_info["keyword"])
    return json_response(await _view(deps.subscriptions, service))


async def create_service(request: web.Request) -> web.Response:
    deps = request.app[SERVICES]
    body = await read_body(request, NewService)
    _check_languages(body.aliases, deps.templates)
    service = body.service()
    await _save(deps, service, await deps.catalogue.services(), new=True)
    _log.info("service_created", keyword=service.keyword, ministry=service.ministry)
    await deps.audit.audit(
        AuditEntry.by(request[PRINCIPAL], AuditAction.SERVICE_CREATED, service.keyword,
                      at=datetime.now(UTC), ministry=service.ministry)
    )  # fmt: skip
    return json_response(await _view(deps.subscriptions, service), status=201)


async def update_service(request: web.Request) -> web.Response:
    deps = request.app[SERVICES]
    body = await read_body(request, ServicePatch)
    catalogue = await deps.catalogue.services()
    current = await find_service(deps.catalogue, request.match_info["keyword"])
    if body.keyword is not None and normalise(body.keyword) != current.keyword:
        raise Invalid(
            f"the keyword of {current.keyword} cannot change (add an alias instead)",
            field="keyword",
        )
    changes = body.model_dump(exclude_unset=True, exclude={"keyword"})
    fields = dict(changes)
    if body.aliases is not None:
        _check_languages(body.aliases, deps.templates)
        fields["aliases"], fields["alias_languages"] = _alias_fields(body.aliases)
    service = dataclasses.replace(current, **fields)
    others = [other for other in catalogue if other.keyword != current.keyword]
    await _save(deps, service, others, new=False)
    _log.info("service_updated", keyword=service.keyword, fields=sorted(changes))
    await deps.audit.audit(
        AuditEntry.by(request[PRINCIPAL], AuditAction.SERVICE_UPDATED, service.keyword,
                      at=datetime.now(UTC), changes=changes)
    )  # fmt: skip
    if current.active and not service.active:  # retired: nothing more goes out in its name
        await deps.broadcasts.service_retired(request[PRINCIPAL], service.keyword)
    return json_response(await _view(deps.subscriptions, service))


async def _save(deps: Services, service: Service, others: list[Service], *, new: bool) -> None:
    """Check ``service`` against the rest of the catalogue, store it, tell the gateway."""
    _check_free(service, others)
    try:
        validate_service(service, others, deps.templates)
    except CatalogueError as error:
        raise Invalid(error.message, field=error.field) from None
    _check_lengths(service)
    store = deps.catalogue
    try:
        await (store.add_service if new else store.replace_service)(service)
    except ServiceConflict as error:  # taken meanwhile by a concurrent request
        raise Conflict(str(error), field="keyword" if new else "aliases") from None
    except LookupError as error:
        raise NotFound(str(error)) from None
    await deps.catalogue_changed()


MAX_WELCOME_SMS = 2  # every JOIN is answered with it


def _check_lengths(service: Service) -> None:
    """Citizen-facing texts kept short: a welcome of at most MAX_WELCOME_SMS, a name that fits
    its LIST line in one SMS, a description of one SMS."""
    for language, text in service.welcome.items():
        if (count := text_info(text).segments) > MAX_WELCOME_SMS:
            raise Invalid(
                f"{count} SMS, at most {MAX_WELCOME_SMS}: every new subscriber gets it",
                code="too_long", field=f"welcome.{language}",
            )  # fmt: skip
    for language, name in service.names.items():
        if text_info(f"{service.keyword} {name}").segments > 1:
            raise Invalid(
                "with its keyword, a name fits one SMS (a line of the LIST reply)",
                code="too_long", field=f"names.{language}",
            )  # fmt: skip
    for language, text in service.descriptions.items():
        if text_info(text).segments > 1:
            raise Invalid("a description fits one SMS", code="too_long",
                          field=f"descriptions.{language}")  # fmt: skip


def _check_languages(aliases: dict[str, list[str]], templates: Templates) -> None:
    """400 for aliases given under a language no template speaks (an empty group too)."""
    known = templates.languages
    for language in aliases:
        if language != UNDETERMINED and language not in known:
            raise Invalid(
                f"{language!r} is not {UNDETERMINED!r} nor one of the languages {', '.join(known)}",
                field=f"aliases.{language}",
            )


def _check_free(service: Service, others: Iterable[Service]) -> None:
    """409 for a keyword or alias that already names another service (active or not)."""
    taken = {word: other.keyword for other in others for word in other.words}
    fields = [("keyword", service.keyword)] + [("aliases", alias) for alias in service.aliases]
    for field, word in fields:
        if word in taken:
            raise Conflict(f"{word} already names the service {taken[word]}", field=field)


_ANY = STAFF  # not an alerting system's
_READ: dict[int, type[BaseModel] | None] = {200: ServiceView, 404: ErrorBody}
_WRITE: dict[int, type[BaseModel] | None] = {400: ErrorBody, 404: ErrorBody, 409: ErrorBody}
ROUTES = [
    Route("GET", "/api/v1/services", list_services, "The service catalogue", roles=_ANY,
          responses={200: ServiceList}),
    Route("GET", "/api/v1/services/{keyword}", get_service, "One service (keyword or alias)",
          roles=_ANY, responses=_READ),
    Route("POST", "/api/v1/services", create_service, "Add a service", roles=(Role.ADMIN,),
          body=NewService, responses={201: ServiceView, 409: ErrorBody}),
    Route("PATCH", "/api/v1/services/{keyword}", update_service,
          "Change a service (fields left out keep their value); {\"active\": false} retires it",
          roles=(Role.ADMIN,), body=ServicePatch, responses={200: ServiceView, **_WRITE}),
]  # fmt: skip
