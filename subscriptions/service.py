"""A citizen's text → the consent change it asks for, recorded, and the replies to send."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from subscriptions.keywords import Command, KeywordParser
from subscriptions.models import Change, ChangeKind, ChangeResult, Service, Source
from subscriptions.replies import pack
from subscriptions.store import CatalogueStore, SubscriptionStore
from subscriptions.templates import Templates
from subscriptions.words import Verb


@dataclass(frozen=True, slots=True)
class IncomingText:
    msisdn: str  # E.164
    text: str
    message_id: str  # the stored inbound text: the proof of consent
    received_at: datetime


@dataclass(frozen=True, slots=True)
class _Plan:
    command: Command
    service: Service | None
    change: Change


@dataclass(frozen=True, slots=True)
class Handled:
    command: Command
    language: str  # of the replies
    replies: tuple[str, ...]  # to the sender, in order; each meant to fit one SMS


class SubscriptionService:
    """Applies keyword commands. Call :meth:`refresh` after the catalogue changes."""

    def __init__(
        self,
        catalogue: CatalogueStore,
        subscriptions: SubscriptionStore,
        templates: Templates,
        *,
        programme: str,
        contact: str,
        fits_one_sms: Callable[[str], bool],
        districts: Mapping[str, str] | None = None,
    ) -> None:
        """``districts``: normalised name or alias → district, for JOIN HURRICANE TOLEDO."""
        self._catalogue = catalogue
        self._subscriptions = subscriptions
        self._templates = templates
        self._common = {"programme": programme, "contact": contact}
        self._fits = fits_one_sms
        self._services: dict[str, Service] = {}
        self._districts = districts
        self._parser = KeywordParser((), templates, districts)

    async def refresh(self) -> None:
        services = await self._catalogue.services()
        self._services = {s.keyword: s for s in services}
        self._parser = KeywordParser(services, self._templates, self._districts)

    async def handle(self, incoming: IncomingText) -> Handled:
        return (await self.handle_many([incoming]))[0]

    async def handle_many(self, incoming: Sequence[IncomingText]) -> list[Handled]:
        """The texts in order, their changes stored in one trip to the database."""
        plans = [self._plan(text) for text in incoming]
        results = await self._subscriptions.apply([plan.change for plan in plans])
        return [self._answer(plan, result) for plan, result in zip(plans, results, strict=True)]

    def _plan(self, incoming: IncomingText) -> _Plan:
        command = self._parser.parse(incoming.text)
        service = self._services.get(command.service or "")
        verb, kind = command.verb, ChangeKind.NONE
        if verb is Verb.JOIN and service is not None and service.active:
            kind = ChangeKind.JOIN
        elif verb is Verb.LEAVE and service is not None:
            kind = ChangeKind.LEAVE
        elif verb is Verb.STOP_ALL:
            kind = ChangeKind.STOP_ALL
        elif verb is Verb.UNSTOP:
            kind = ChangeKind.UNSTOP
        elif verb is Verb.LANGUAGE and command.language is not None:
            kind = ChangeKind.LANGUAGE
        elif verb is Verb.MY:
            kind = ChangeKind.MY
        change = Change(
            kind,
            incoming.msisdn,
            incoming.received_at,
            Source.SMS,
            incoming.message_id,
            service=service.keyword if service else None,
            # a citizen who wrote in a language we speak gets it, unless they chose another
            # (the store keeps it only for a subscriber who has none)
            language=command.language,
            # a text whose words tell its language ("AYUDA") is answered in it; otherwise in
            # the subscriber's, then the service's: looked up only then
            lookup=command.language is None,
            district=command.district if kind is ChangeKind.JOIN else None,
        )
        return _Plan(command, service, change)

    def _answer(self, plan: _Plan, result: ChangeResult) -> Handled:
        command, service = plan.command, plan.service
        language = command.language or result.language
        language = language or (service.default_language if service else "en")
        if language not in self._templates.languages:
            language = "en"
        replies = self._replies(command, service, language, result)
        if command.verb is Verb.LANGUAGE and command.language:
            language = command.language
        return Handled(command, language, tuple(replies))

    def _replies(
        self, command: Command, service: Service | None, language: str, result: ChangeResult
    ) -> list[str]:
        verb = command.verb
        if result.error is not None:
            return [self._render(language, "unknown")]
        if verb is Verb.JOIN and service is not None:
            if not service.active:
                return [self._say(language, "service_inactive", service)]
            if command.district is not None:
                key = "joined_district" if result.changed else "district_set"
                return [self._say(language, key, service, district=command.district)]
            if result.changed:
                welcome = service.welcome.get(language)
                return [welcome or self._say(language, "joined", service)]
            return [self._say(language, "already_joined", service)]
        if verb is Verb.LEAVE and service is not None:
            return [self._say(language, "left" if result.changed else "not_subscribed", service)]
        if verb is Verb.STOP_ALL:
            return [
                self._render(language, "stopped_all" if result.services else "stopped_all_none")
            ]
        if verb is Verb.UNSTOP:
            if not result.services:
                return [self._render(language, "unstopped_none")]
            names = self._names(language, list(result.services))
            return [self._render(language, "unstopped", services=names)]
        if verb is Verb.LANGUAGE:
            if command.language is None:
                choices = self._templates.language_choices()
                return [self._render(language, "language_help", choices=choices)]
            name = self._templates.name(command.language)
            return [self._render(command.language, "language_set", language=name)]
        if verb is Verb.LIST:
            return self._list(language)
        if verb is Verb.MY:
            return [self._my(list(result.services), language, result.district)]
        if verb is Verb.HELP:
            return [self._render(language, "help")]
        if verb is Verb.ASK:
            if service is None or command.question is None:
                return [self._render(language, "ask_help")]
            return []  # the inbox opens the ticket and acknowledges it (smsgw.inbox)
        if service is not None and not service.active:
            return [self._say(language, "service_inactive", service)]  # the parser's UNKNOWN
        suggested = self._services.get(command.suggestion or "")
        if suggested is not None:
            return [self._say(language, "suggestion", suggested)]
        return [self._render(language, "unknown")]

    def reply(self, language: str, key: str, /, keyword: str | None = None, **values: str) -> str:
        """The reply ``key`` in ``language`` (English if not installed); with ``keyword``, the
        service's name and keyword are given to it too."""
        if language not in self._templates.languages:
            language = "en"
        service = self._services.get(keyword or "")
        if service is not None:
            return self._say(language, key, service, **values)
        return self._render(language, key, **values)

    def service(self, keyword: str) -> Service | None:
        """The service ``keyword`` names (canonical), as last refreshed."""
        return self._services.get(keyword)

    def _list(self, language: str) -> list[str]:
        active = [s for s in self._services.values() if s.active]
        if not active:
            return [self._render(language, "list_empty")]
        lines = [
            self._render(language, "list_line", keyword=s.keyword, name=self._name(language, s))
            for s in active
        ]
        return pack(self._render(language, "list_header"), lines, self._fits)

    def _my(self, keywords: list[str], language: str, district: str | None) -> str:
        if not keywords:
            return self._render(language, "my_none")
        names = self._names(language, keywords)
        if district is not None:
            return self._render(language, "my_district", services=names, keyword=keywords[0],
                                district=district)  # fmt: skip
        return self._render(language, "my", services=names, keyword=keywords[0])

    def _name(self, language: str, service: Service) -> str:
        return service.names.get(language) or service.names[service.default_language]

    def _names(self, language: str, keywords: list[str]) -> str:
        return ", ".join(
            self._name(language, self._services[k]) if k in self._services else k for k in keywords
        )

    def _say(self, language: str, key: str, service: Service, **values: str) -> str:
        name = self._name(language, service)
        return self._render(language, key, name=name, keyword=_keyword(service, language),
                            **values)  # fmt: skip

    def _render(self, language: str, key: str, /, **values: str) -> str:
        return self._templates.render(language, key, **self._common, **values)


def _keyword(service: Service, language: str) -> str:
    """The word a reply in ``language`` names the service by: its alias in that language
    (ALTO SALUD in Spanish), else its keyword."""
    for alias in service.aliases:
        if service.alias_languages.get(alias) == language:
            return alias
    return service.keyword
