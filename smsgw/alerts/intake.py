"""What the gateway does with a CAP alert from an alerting authority (SPEC, issue 11):

- Actual Alert: a broadcast on the service ``[[alerts.routes]]`` maps it to; emergency when
  urgency is Immediate or Expected and severity Extreme or Severe; valid until its
  ``expires``; no second-person approval for an ``alerting`` token.
- Update: what is still queued of the alerts it references is cancelled, and the update is
  sent to the same service. Cancel: what is still queued of them is cancelled.
- Exercise: sent only to the exercise list (``[alerts] exercise_numbers``), each text
  prefixed with the templates' ``exercise_prefix`` ("EXERCISE", "SIMULACRO"); never to the
  service's subscribers, never in a broadcast (so apart from the programme's KPIs).
- Cancel with ``[alerts] cancel_notice``: a short notice (the templates' ``alert_cancelled``)
  to the service of each cancelled alert that was sent, at that alert's priority.
- Test, System (and the recipients' Ack and Error): stored, never sent. Draft: refused (422).
- The same CAP key (sender, identifier, sent) again: the first one's result, nothing sent.

With ``[alerts] require_signature``, an alert not signed by an authority's certificate is
refused (403, audited), and what is acted on is what the signature covers.

Every alert is audited with its CAP identifier and sender.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from datetime import UTC, datetime

import structlog

from channels.text import text_info
from smsgw.access.audit import AuditAction, AuditEntry
from smsgw.access.store import AuditLog
from smsgw.access.tokens import ApiToken
from smsgw.alerts.areas import districts_of
from smsgw.alerts.cap import Alert, CapError, Info, MsgType, Status, parse
from smsgw.alerts.signature import SignatureError, Verifier
from smsgw.alerts.store import AlertAction, AlertRecord, AlertStore
from smsgw.alerts.text import compose
from smsgw.broadcasts.model import Broadcast
from smsgw.broadcasts.service import BroadcastService, Order
from smsgw.config import AlertRouteConfig, AlertsConfig
from smsgw.delivery.outbox import Priority
from smsgw.delivery.sender import NewMessage, Sender
from smsgw.errors import Conflict, Forbidden, Invalid, NotFound, Unprocessable
from subscriptions.catalogue import find_service
from subscriptions.districts import Districts
from subscriptions.models import Service
from subscriptions.store import CatalogueStore, SubscriptionStore
from subscriptions.templates import Templates

_log = structlog.get_logger(__name__)

_URGENT = frozenset({"Immediate", "Expected"})
_SEVERE = frozenset({"Extreme", "Severe"})
_STORED_ONLY = frozenset({Status.TEST, Status.SYSTEM})


@dataclasses.dataclass(frozen=True, slots=True)
class Received:
    record: AlertRecord
    duplicate: bool  # the same CAP key came before: its first result, nothing done now


class AlertIntake:
    def __init__(
        self,
        alerts: AlertStore,
        broadcasts: BroadcastService,
        catalogue: CatalogueStore,
        audit: AuditLog,
        settings: AlertsConfig,
        *,
        sender: Sender,
        subscriptions: SubscriptionStore,
        templates: Templates,
        programme: str,
        districts: Districts | None = None,
    ) -> None:
        """``sender``, ``subscriptions``: an exercise's messages to the exercise list, in each
        number's language when it is a subscriber; ``templates``: the exercise prefix and the
        cancellation notice per language (naming ``programme``); ``districts``: the country's,
        which an alert's areas may name (then only their subscribers, and those who never
        said theirs, are sent it)."""
        self._alerts = alerts
        self._broadcasts = broadcasts
        self._catalogue = catalogue
        self._audit = audit
        self._settings = settings
        self._sender = sender
        self._subscriptions = subscriptions
        self._templates = templates
        self._programme = programme
        self._districts = districts or Districts()
        self._verifier = Verifier(settings.certificates) if settings.require_signature else None

    async def receive(self, actor: ApiToken, document: bytes) -> Received:
        try:
            alert = parse(document)
        except CapError as exc:
            raise Invalid(exc.message, code="invalid_cap", field=exc.element) from None
        if self._verifier is not None:
            alert = await self._signed(actor, alert, document)
        if alert.status is Status.DRAFT:
            raise Unprocessable("a Draft is a template, not an alert to act on", field="status")
        now = datetime.now(UTC)
        first = alert.infos[0] if alert.infos else None
        claimed = AlertRecord(
            id=0, sender=alert.sender, identifier=alert.identifier, sent=alert.sent_text,
            status=alert.status.value, msg_type=alert.msg_type.value,
            event=first.event if first else "", headline=first.headline if first else "",
            action=AlertAction.PENDING, reason=None, service=None, broadcast=None,
            document=document.decode("utf-8", "replace"), received_by=actor.id, received_at=now,
            scope=alert.scope.value,
        )  # fmt: skip
        earlier = await self._alerts.claim(claimed)
        if earlier is not None:
            _log.info("alert_repeated", identifier=alert.identifier, sender=alert.sender)
            return Received(earlier, duplicate=True)
        stored = await self._alerts.alert_by_key(*alert.key)
        assert stored is not None  # noqa: S101 - claimed just now
        action, reason, service, broadcast = await self._act(actor, alert, now)
        await self._alerts.settle(stored.id, action=action, reason=reason, service=service,
                                  broadcast=broadcast)  # fmt: skip
        record = dataclasses.replace(stored, action=action, reason=reason, service=service,
                                     broadcast=broadcast)  # fmt: skip
        _log.info("alert_received", identifier=alert.identifier, sender=alert.sender,
                  status=alert.status.value, msg_type=alert.msg_type.value, action=action.value,
                  reason=reason, service=service, broadcast=broadcast, by=actor.id)  # fmt: skip
        await self._audit.audit(
            AuditEntry.by(actor, AuditAction.ALERT_RECEIVED, alert.identifier, at=now,
                          sender=alert.sender, sent=alert.sent_text, status=alert.status.value,
                          msg_type=alert.msg_type.value, outcome=action.value, reason=reason,
                          service=service, broadcast=broadcast)
        )  # fmt: skip
        return Received(record, duplicate=False)

    async def _signed(self, actor: ApiToken, alert: Alert, document: bytes) -> Alert:
        """The alert its signature covers; Forbidden, audited, when it has none of an
        authority's."""
        assert self._verifier is not None  # noqa: S101 - called when signatures are required
        try:
            return parse(self._verifier.signed(document))
        except (SignatureError, CapError) as exc:
            reason = str(exc) if isinstance(exc, SignatureError) else "what is signed is no alert"
        _log.warning("alert_refused", identifier=alert.identifier, sender=alert.sender,
                     reason=reason, by=actor.id)  # fmt: skip
        await self._audit.audit(
            AuditEntry.by(actor, AuditAction.ALERT_REFUSED, alert.identifier,
                          at=datetime.now(UTC), sender=alert.sender, sent=alert.sent_text,
                          reason=reason)
        )  # fmt: skip
        raise Forbidden(f"refused: {reason}", code="bad_signature", field="Signature")

    async def _act(
        self, actor: ApiToken, alert: Alert, now: datetime
    ) -> tuple[AlertAction, str | None, str | None, int | None]:
        """(action, reason, service, broadcast)"""
        if alert.status in _STORED_ONLY:
            return AlertAction.NOT_SENT, f"status {alert.status.value}: never sent", None, None
        if alert.msg_type in (MsgType.ACK, MsgType.ERROR):
            return AlertAction.NOT_SENT, f"msgType {alert.msg_type.value}: never sent", None, None
        if alert.msg_type is MsgType.CANCEL:
            cancelled = await self._cancel_referenced(actor, alert)
            if self._settings.cancel_notice and alert.status is Status.ACTUAL:
                await self._notify_cancelled(actor, alert)
            return AlertAction.CANCELLED, _cancelled(cancelled), None, None
        expires = alert.expires
        if expires is not None and expires <= now:
            return AlertAction.NOT_SENT, "expired before it came", None, None
        service = self._route(alert)
        if service is None and alert.msg_type is MsgType.UPDATE:
            service = await self._referenced_service(alert)
        if service is None:
            return AlertAction.NOT_SENT, "no [[alerts.routes]] matches it", None, None
        if alert.status is Status.EXERCISE:
            return await self._exercise(actor, alert, service)
        cancelled = []
        if alert.msg_type is MsgType.UPDATE:
            cancelled = await self._cancel_referenced(actor, alert)
        broadcast = await self._broadcast(actor, alert, service, now)
        if alert.msg_type is MsgType.UPDATE:
            return AlertAction.UPDATED, _cancelled(cancelled), service, broadcast.id
        return AlertAction.SENT, None, service, broadcast.id

    def _route(self, alert: Alert) -> str | None:
        for route in self._settings.routes:
            if any(_matches(route, alert, info) for info in alert.infos or ()):
                return route.service
        return None

    async def _service(self, keyword: str) -> Service:
        found = await find_service(self._catalogue, keyword)
        if found is None:
            raise Conflict(f"the alerts' route names {keyword}, which is no service",
                           code="no_service", field="routes")  # fmt: skip
        return found

    def _texts(self, alert: Alert, service: Service, *, exercise: bool = False) -> dict[str, str]:
        languages = [service.default_language, *(lang for lang in service.names
                                                 if lang != service.default_language)]  # fmt: skip
        prefix = None
        if exercise:
            prefix = {lang: self._templates.render(lang, "exercise_prefix") for lang in languages}
        texts = compose(alert.infos, languages, service.default_language,
                        max_segments=self._settings.max_segments, prefix=prefix)  # fmt: skip
        if not texts:
            raise Invalid("the alert has no info to send", code="invalid_cap", field="info")
        return texts

    async def _exercise(
        self, actor: ApiToken, alert: Alert, keyword: str
    ) -> tuple[AlertAction, str | None, str | None, int | None]:
        """To the exercise list only: each number in its language if it subscribes (else the
        service's), none under a STOP."""
        numbers = self._settings.exercise_numbers
        if not numbers:
            return (AlertAction.NOT_SENT, "an exercise, and the exercise list is empty"
                    " ([alerts] exercise_numbers)", keyword, None)  # fmt: skip
        service = await self._service(keyword)
        texts = self._texts(alert, service, exercise=True)
        new, stopped = [], 0
        for number in numbers:
            subscriber = await self._subscriptions.subscriber(number)
            if subscriber is not None and subscriber.opted_out_at is not None:
                stopped += 1
                continue
            language = subscriber.language if subscriber is not None else None
            text = texts.get(language or "") or texts[service.default_language]
            info = text_info(text)
            new.append(NewMessage(number, text, info.segments, info.encoding))
        await self._sender.create_many(new, created_by=actor.id)
        reason = f"an exercise: sent to {len(new)} of the exercise list"
        if stopped:
            reason += f" ({stopped} under a STOP left out)"
        return AlertAction.EXERCISE, reason, service.keyword, None

    async def _notify_cancelled(self, actor: ApiToken, alert: Alert) -> None:
        """The cancellation notice, once per service a referenced alert was sent on."""
        notified: set[str] = set()
        for record in await self._referenced(alert):
            if record.service is None or record.broadcast is None or record.service in notified:
                continue
            notified.add(record.service)
            try:
                was = await self._broadcasts.find(actor, record.broadcast, "referenced")
            except NotFound:
                continue
            service = await self._service(record.service)
            texts = {lang: self._templates.render(lang, "alert_cancelled", event=record.event,
                                               programme=self._programme)
                     for lang in was.texts}  # fmt: skip
            order = Order(service=service.keyword, texts=texts, priority=was.priority,
                          send_at=None, valid_for_minutes=None, fold_accents=False)  # fmt: skip
            await self._broadcasts.create(actor, order, approved=True)

    async def _broadcast(
        self, actor: ApiToken, alert: Alert, keyword: str, now: datetime
    ) -> Broadcast:
        found = await self._service(keyword)
        texts = self._texts(alert, found)
        urgent = any(i.urgency in _URGENT and i.severity in _SEVERE for i in alert.infos)
        expires = alert.expires
        minutes = None if expires is None else max(1, math.ceil((expires - now).total_seconds()
                                                                 / 60))  # fmt: skip
        order = Order(
            service=found.keyword, texts=texts,
            priority=Priority.EMERGENCY if urgent else Priority.NORMAL, send_at=None,
            valid_for_minutes=minutes, fold_accents=False,
            districts=districts_of(alert.infos, self._districts),
        )  # fmt: skip
        broadcast, _ = await self._broadcasts.create(actor, order, approved=True)
        return broadcast

    async def _referenced(self, alert: Alert) -> list[AlertRecord]:
        found = []
        for reference in alert.references:
            record = await self._alerts.alert_by_key(
                reference.sender, reference.identifier, reference.sent
            )
            if record is not None:
                found.append(record)
        return found

    async def _referenced_service(self, alert: Alert) -> str | None:
        return next((r.service for r in await self._referenced(alert) if r.service), None)

    async def _cancel_referenced(self, actor: ApiToken, alert: Alert) -> list[int]:
        """What is still queued of the referenced alerts' broadcasts is cancelled; their ids."""
        cancelled = []
        for record in await self._referenced(alert):
            if record.broadcast is None:
                continue
            try:
                broadcast = await self._broadcasts.find(actor, record.broadcast, "referenced")
            except NotFound:
                continue
            if not broadcast.state.open:
                continue
            try:
                await self._broadcasts.cancel(
                    actor, broadcast, reason=f"CAP {alert.msg_type.value} {alert.identifier}"
                )
            except Conflict:  # it ended meanwhile
                continue
            cancelled.append(broadcast.id)
        return cancelled


def _matches(route: AlertRouteConfig, alert: Alert, info: Info) -> bool:
    def same(wanted: str | None, values: Sequence[str]) -> bool:
        return wanted is None or wanted.casefold() in (v.casefold() for v in values)

    return (same(route.event, [info.event]) and same(route.sender, [alert.sender])
            and same(route.category, info.categories))  # fmt: skip


def _cancelled(ids: list[int]) -> str | None:
    if not ids:
        return "nothing referenced was still being sent"
    return "cancelled the rest of broadcast " + ", ".join(str(i) for i in ids)
