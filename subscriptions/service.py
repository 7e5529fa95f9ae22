"""A citizen's text → the consent change it asks for, recorded, and the replies to send."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from subscriptions.keywords import Command, KeywordParser, Verb
from subscriptions.models import Service, Source
from subscriptions.replies import pack
from subscriptions.store import SubscriptionStore
from subscriptions.templates import Templates


@dataclass(frozen=True, slots=True)
class IncomingText:
    msisdn: str  # E.164
    text: str
    message_id: str  # the stored inbound text: the proof of consent
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Handled:
    command: Command
    language: str  # of the replies
    replies: tuple[str, ...]  # to the sender, in order; each meant to fit one SMS


class SubscriptionService:
    """Applies keyword commands. Call :meth:`refresh` after the catalogue changes."""

    def __init__(
        self,
        store: SubscriptionStore,
        templates: Templates,
        *,
        programme: str,
        contact: str,
        fits_one_sms: Callable[[str], bool],
    ) -> None:
        self._store = store
        self._templates = templates
        self._common = {"programme": programme, "contact": contact}
        self._fits = fits_one_sms
        self._services: dict[str, Service] = {}
        self._parser = KeywordParser((), templates)

    async def refresh(self) -> None:
        services = await self._store.services()
        self._services = {s.keyword: s for s in services}
        self._parser = KeywordParser(services, self._templates)

    async def handle(self, incoming: IncomingText) -> Handled:
        command = self._parser.parse(incoming.text)
        service = self._services.get(command.service or "")
        # A text whose words tell its language ("AYUDA") is answered in it; otherwise the
        # subscriber's language, then the service's. Only then is the subscriber looked up: a
        # trip to the database saved for about half the texts of a storm.
        chosen = None
        if command.language is None:
            subscriber = await self._store.subscriber(incoming.msisdn)
            chosen = subscriber.language if subscriber else None
        language = command.language or chosen or (service.default_language if service else "en")
        if language not in self._templates.languages:
            language = "en"
        # The store keeps a language only for a subscriber who has none: passing the text's
        # language on every join is safe.
        replies = await self._apply(command, incoming, language, service, learnt=chosen is None)
        if command.verb is Verb.LANGUAGE and command.language:
            language = command.language
        return Handled(command, language, tuple(replies))

    async def _apply(
        self,
        command: Command,
        incoming: IncomingText,
        language: str,
        service: Service | None,
        *,
        learnt: bool,
    ) -> list[str]:
        store, msisdn = self._store, incoming.msisdn
        at, source, consent = incoming.received_at, Source.SMS, incoming.message_id
        verb = command.verb
        if verb is Verb.JOIN and service is not None:
            if not service.active:
                return [self._say(language, "service_inactive", service)]
            # A citizen who wrote in a language we speak gets it, unless they chose another.
            remembered = command.language if learnt else None
            joined = await store.join(
                msisdn, service.keyword, at=at, source=source, consent=consent, language=remembered
            )
            if joined:
                welcome = service.welcome.get(language)
                return [welcome or self._say(language, "joined", service)]
            return [self._say(language, "already_joined", service)]
        if verb is Verb.LEAVE and service is not None:
            left = await store.leave(msisdn, service.keyword, at=at, source=source, consent=consent)
            return [self._say(language, "left" if left else "not_subscribed", service)]
        if verb is Verb.STOP_ALL:
            stopped = await store.stop_all(msisdn, at=at, source=source, consent=consent)
            return [self._render(language, "stopped_all" if stopped else "stopped_all_none")]
        if verb is Verb.UNSTOP:
            back = await store.unstop(msisdn, at=at, source=source, consent=consent)
            if not back:
                return [self._render(language, "unstopped_none")]
            return [self._render(language, "unstopped", services=self._names(language, back))]
        if verb is Verb.LANGUAGE:
            if command.language is None:
                choices = self._templates.language_choices()
                return [self._render(language, "language_help", choices=choices)]
            await store.set_language(
                msisdn, command.language, at=at, source=source, consent=consent
            )
            name = self._templates.name(command.language)
            return [self._render(command.language, "language_set", language=name)]
        if verb is Verb.LIST:
            return self._list(language)
        if verb is Verb.MY:
            return [await self._my(msisdn, language)]
        if verb is Verb.HELP:
            return [self._render(language, "help")]
        if service is not None and not service.active:
            return [self._say(language, "service_inactive", service)]  # the parser's UNKNOWN
        suggested = self._services.get(command.suggestion or "")
        if suggested is not None:
            return [self._say(language, "suggestion", suggested)]
        return [self._render(language, "unknown")]

    def _list(self, language: str) -> list[str]:
        active = [s for s in self._services.values() if s.active]
        if not active:
            return [self._render(language, "list_empty")]
        lines = [
            self._render(language, "list_line", keyword=s.keyword, name=self._name(language, s))
            for s in active
        ]
        return pack(self._render(language, "list_header"), lines, self._fits)

    async def _my(self, msisdn: str, language: str) -> str:
        keywords = [s.service for s in await self._store.subscriptions(msisdn)]
        if not keywords:
            return self._render(language, "my_none")
        names = self._names(language, keywords)
        return self._render(language, "my", services=names, keyword=keywords[0])

    def _name(self, language: str, service: Service) -> str:
        return service.names.get(language) or service.names[service.default_language]

    def _names(self, language: str, keywords: list[str]) -> str:
        return ", ".join(
            self._name(language, self._services[k]) if k in self._services else k for k in keywords
        )

    def _say(self, language: str, key: str, service: Service) -> str:
        name = self._name(language, service)
        return self._render(language, key, name=name, keyword=service.keyword)

    def _render(self, language: str, key: str, /, **values: str) -> str:
        return self._templates.render(language, key, **self._common, **values)
