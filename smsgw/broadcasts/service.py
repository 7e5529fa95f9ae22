"""The broadcasts' use cases: estimate, create, approve, cancel, and progress.

An officer acts on their own ministry's services only; a supervisor or an admin on any. Where
the service requires approval, a second person (supervisor or admin, not the author) approves.
Refusals are domain errors (smsgw.errors): the API maps them to statuses.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import structlog

from channels.text import fold_accents, text_info
from smsgw.access.audit import AuditAction, AuditEntry
from smsgw.access.store import AuditLog, TokenStore
from smsgw.access.tokens import ApiToken
from smsgw.broadcasts.model import Broadcast, BroadcastState, BroadcastStats, CarrierProgress
from smsgw.broadcasts.poll import Poll
from smsgw.broadcasts.store import BroadcastStore, Recipient, RecipientGroup
from smsgw.config import BroadcastsConfig
from smsgw.delivery.message import WITHOUT_OUTCOME
from smsgw.delivery.outbox import Priority
from smsgw.errors import Conflict, Forbidden, Invalid, NotFound
from subscriptions.catalogue import find_service
from subscriptions.models import Service
from subscriptions.store import CatalogueStore
from subscriptions.words import normalise

_log = structlog.get_logger(__name__)

SERVICE_DEACTIVATED = "service_deactivated"
_FAILED = ("undeliverable", "rejected", "failed")
_UNSENT = ("queued", "cancelled", "expired")


@dataclass(frozen=True, slots=True)
class Order:
    """A new broadcast as an officer asks for it (the API's body, checked for shape)."""

    service: str  # keyword or alias
    texts: dict[str, str]  # language → text
    priority: Priority
    send_at: datetime | None  # without an offset: the gateway's time zone
    valid_for_minutes: int | None
    fold_accents: bool
    # only these districts' subscribers and those who never said theirs (None: everyone)
    districts: tuple[str, ...] | None = None
    poll: Poll | None = None


@dataclass(frozen=True, slots=True)
class Draft:
    """A checked order and its estimate: what create and estimate share."""

    service: Service
    texts: dict[str, str]  # as they will be sent (accents folded if asked)
    segments: dict[str, int]
    encodings: dict[str, str]
    priority: Priority
    send_at: datetime | None  # UTC
    expires_at: datetime
    counts: dict[str, int]  # audience per language
    cost_estimate: float
    now: datetime
    districts: tuple[str, ...] | None = None
    poll: Poll | None = None

    @property
    def audience(self) -> int:
        return sum(self.counts.values())

    @property
    def audience_by_language(self) -> dict[str, int]:
        return {lang: self.counts.get(lang, 0) for lang in self.texts}


@dataclass(frozen=True, slots=True)
class Progress:
    """A broadcast and how far it got."""

    broadcast: Broadcast
    by_state: dict[str, int]  # its outbox messages per state
    audience: int
    failed: int
    # delivered / the messages that reached a final state, cancelled ones aside: mid-send, those
    # still queued or in flight are no failures (None: none finished yet)
    delivery_rate: float | None
    latency_p50_s: float | None
    latency_p95_s: float | None
    throughput_per_s: float | None  # submitted per second, from the start of the fan-out


class BroadcastService:
    def __init__(
        self,
        broadcasts: BroadcastStore,
        catalogue: CatalogueStore,
        tokens: TokenStore,
        audit: AuditLog,
        settings: BroadcastsConfig,
        *,
        zone: ZoneInfo,
        changed: Callable[[Broadcast | None], None],
    ) -> None:
        self._broadcasts = broadcasts
        self._catalogue = catalogue
        self._tokens = tokens
        self._audit = audit
        self._settings = settings
        self._zone = zone
        self._changed = changed  # the scheduler and dispatcher are told

    async def estimate(self, actor: ApiToken, order: Order) -> Draft:
        """What a create would store, before the officer commits: nothing stored or audited."""
        service = await find_service(self._catalogue, order.service)
        if service is None:
            raise NotFound(f"no service {order.service!r}", field="service")
        _check_scope(actor, service.ministry, service.keyword)
        if not service.active:
            raise Conflict(
                f"{service.keyword} is not active", code="service_inactive", field="service"
            )
        texts = _texts(order, service, self._settings.max_segments)
        if order.poll is not None:
            await self._check_poll_words(order.poll)
        now = datetime.now(UTC)
        send_at = self._send_at(order.send_at, now)
        settings = self._settings
        minutes = order.valid_for_minutes or (
            settings.emergency_valid_for_minutes
            if order.priority is Priority.EMERGENCY
            else settings.normal_valid_for_minutes
        )
        try:
            expires_at = max(send_at or now, now) + timedelta(minutes=minutes)
        except OverflowError:  # a send_at at the end of year 9999
            raise Invalid("send_at is out of range", field="send_at") from None
        infos = {language: text_info(text) for language, text in texts.items()}
        counts = await self._broadcasts.audience_by_language(
            service.keyword, list(texts), service.default_language, order.districts
        )
        cost = sum(counts.get(lang, 0) * info.segments for lang, info in infos.items())
        return Draft(
            service=service,
            texts=texts,
            segments={lang: info.segments for lang, info in infos.items()},
            encodings={lang: str(info.encoding) for lang, info in infos.items()},
            priority=order.priority,
            send_at=send_at,
            expires_at=expires_at,
            counts=counts,
            cost_estimate=round(cost * settings.cost_per_segment, 4),
            now=now,
            districts=order.districts,
            poll=self._poll(order.poll, send_at or now),
        )

    async def _check_poll_words(self, poll: Poll) -> None:
        """A service's keyword or alias as an answer would join the service instead."""
        words = {normalise(w): s.keyword for s in await self._catalogue.services() for w in s.words}
        for option in poll.options:
            for answers in option.words.values():
                for word in answers:
                    if word in words:
                        raise Invalid(f"{word} is a keyword of the service {words[word]}",
                                      field="poll.options")  # fmt: skip

    def _poll(self, poll: Poll | None, start: datetime) -> Poll | None:
        """The poll with its closing time in UTC (read in the gateway's zone without an
        offset); it must close after the broadcast starts."""
        if poll is None:
            return None
        closes_at = poll.closes_at
        if closes_at.tzinfo is None:
            closes_at = closes_at.replace(tzinfo=self._zone)
        try:
            closes_at = closes_at.astimezone(UTC)
        except OverflowError:
            raise Invalid("poll.closes_at is out of range", field="poll.closes_at") from None
        if closes_at <= start:
            raise Invalid("the poll closes before the broadcast is sent", field="poll.closes_at")
        return dataclasses.replace(poll, closes_at=closes_at)

    def _send_at(self, send_at: datetime | None, now: datetime) -> datetime | None:
        if send_at is None:
            return None
        if send_at.tzinfo is None:
            send_at = send_at.replace(tzinfo=self._zone)
        try:
            send_at = send_at.astimezone(UTC)
        except OverflowError:  # "0001-01-01T00:00+14:00"
            raise Invalid("send_at is out of range", field="send_at") from None
        if send_at < now - timedelta(minutes=1):
            raise Invalid("send_at is in the past", field="send_at")
        return send_at

    async def create(
        self, actor: ApiToken, order: Order, *, approved: bool = False
    ) -> tuple[Broadcast, Draft]:
        """``approved``: no second person needed (an alerting authority's CAP alert)."""
        draft = await self.estimate(actor, order)
        service, now = draft.service, draft.now
        if service.requires_approval and not approved:
            state = BroadcastState.AWAITING_APPROVAL
        elif draft.send_at is not None and draft.send_at > now:
            state = BroadcastState.SCHEDULED
        else:
            state = BroadcastState.QUEUED
        broadcast = Broadcast(
            id=0,
            service=service.keyword,
            ministry=service.ministry,
            texts=draft.texts,
            segments=draft.segments,
            encodings=draft.encodings,
            default_language=service.default_language,
            priority=draft.priority,
            state=state,
            send_at=draft.send_at,
            expires_at=draft.expires_at,
            audience=None,
            cost_estimate=draft.cost_estimate,
            created_by=actor.id,
            created_at=now,
            updated_at=now,
            districts=draft.districts,
            poll=draft.poll,
        )
        broadcast_id = await self._broadcasts.add_broadcast(broadcast)
        priority = draft.priority.label
        _log.info(
            "broadcast_created", broadcast=broadcast_id, service=service.keyword,
            priority=priority, state=state.value, audience=draft.audience, by=actor.id,
        )  # fmt: skip
        await self._audit.audit(
            AuditEntry.by(actor, AuditAction.BROADCAST_CREATED, str(broadcast_id), at=now,
                          service=service.keyword, priority=priority, state=state.value,
                          audience=draft.audience, texts=draft.texts, send_at=draft.send_at,
                          districts=draft.districts,
                          poll=None if draft.poll is None else draft.poll.to_json())
        )  # fmt: skip
        self._changed(None)
        return dataclasses.replace(broadcast, id=broadcast_id), draft

    async def confirm_import(
        self, actor: ApiToken, service: Service, texts: dict[str, str], *, joined_at: datetime
    ) -> int:
        """Queue an import's sign-up confirmations: ``texts`` (one per language) to each number
        the import signed up at ``joined_at``, through the outbox as a broadcast is (paced, in
        waking hours, opt-outs checked before sending). No approval: it is the gateway's
        notice to the citizen, not a ministry's message. Returns its broadcast's id."""
        now = datetime.now(UTC)
        infos = {language: text_info(text) for language, text in texts.items()}
        broadcast = Broadcast(
            id=0,
            service=service.keyword,
            ministry=service.ministry,
            texts=texts,
            segments={lang: info.segments for lang, info in infos.items()},
            encodings={lang: str(info.encoding) for lang, info in infos.items()},
            default_language=service.default_language,
            priority=Priority.NORMAL,
            state=BroadcastState.QUEUED,
            send_at=None,
            expires_at=now + timedelta(minutes=self._settings.normal_valid_for_minutes),
            audience=None,
            cost_estimate=0.0,  # a confirmation is not the ministry's spend
            created_by=actor.id,
            created_at=now,
            updated_at=now,
            joined_at=joined_at,
        )
        broadcast_id = await self._broadcasts.add_broadcast(broadcast)
        _log.info("import_confirmations_queued", broadcast=broadcast_id, service=service.keyword)
        await self._audit.audit(
            AuditEntry.by(actor, AuditAction.BROADCAST_CREATED, str(broadcast_id), at=now,
                          service=service.keyword, priority=Priority.NORMAL.label,
                          state=BroadcastState.QUEUED.value, texts=texts, joined_at=joined_at)
        )  # fmt: skip
        self._changed(None)
        return broadcast_id

    async def find(self, actor: ApiToken, broadcast_id: int | None, raw: str) -> Broadcast:
        """The broadcast of that id (``raw`` as asked, for the message), if ``actor`` may act
        on it."""
        found = await self._broadcasts.broadcast(broadcast_id) if broadcast_id is not None else None
        # another ministry's is as absent as one that never was: its ids tell nothing
        if found is None or not actor.may_act_for(found.ministry):
            raise NotFound(f"no broadcast {raw}")
        return found

    async def listing(
        self,
        actor: ApiToken,
        *,
        before: int | None,
        limit: int,
        states: Collection[BroadcastState] | None = None,
    ) -> list[Progress]:
        """Newest first (``states``: only in those); an officer sees their own ministry's."""
        found = await self._broadcasts.broadcasts(
            ministry=actor.scope, before=before, limit=limit, states=states
        )
        return [await self.progress(b) for b in found]

    async def progress(self, broadcast: Broadcast) -> Progress:
        return _progress(broadcast, await self._broadcasts.broadcast_stats(broadcast.id))

    async def carrier_progress(self, broadcast_id: int) -> CarrierProgress:
        """What an alert's page shows to anyone who may see the alert: counts, no texts."""
        return await self._broadcasts.carrier_progress(broadcast_id)

    def recipients(self, broadcast: Broadcast) -> AsyncIterator[Sequence[Recipient]]:
        """Its recipients, in batches, for its report (``broadcast`` as find gave it: the
        caller's to see); OutboxPurged once retention deleted them."""
        return self._broadcasts.recipients(broadcast.id)

    async def recipient_groups(self, broadcast: Broadcast) -> list[RecipientGroup]:
        """Its recipients counted per carrier, language, district, state and error (its
        report's breakdowns); OutboxPurged once retention deleted them."""
        return await self._broadcasts.recipient_groups(broadcast.id)

    async def approve(self, actor: ApiToken, broadcast: Broadcast) -> None:
        if broadcast.state is not BroadcastState.AWAITING_APPROVAL:
            raise Conflict(f"broadcast {broadcast.id} is {broadcast.state.value}")
        author = await self._tokens.token(broadcast.created_by)
        if broadcast.created_by == actor.id or (author and author.identity == actor.identity):
            raise Forbidden("a second person must approve a broadcast")
        now = datetime.now(UTC)
        due = broadcast.send_at is None or broadcast.send_at <= now
        state = BroadcastState.QUEUED if due else BroadcastState.SCHEDULED
        # the validity runs from when it may go: an alert approved late is not born expired
        planned = broadcast.send_at or broadcast.created_at
        start = now if due else planned
        expires_at = start + (broadcast.expires_at - planned)
        if not await self._broadcasts.approve_broadcast(
            broadcast.id, by=actor.id, at=now, state=state, expires_at=expires_at
        ):
            raise Conflict(f"broadcast {broadcast.id} is no longer awaiting approval")
        _log.info("broadcast_approved", broadcast=broadcast.id, by=actor.id)
        await self._audit.audit(
            AuditEntry.by(actor, AuditAction.BROADCAST_APPROVED, str(broadcast.id), at=now,
                          service=broadcast.service, author=broadcast.created_by)
        )  # fmt: skip
        self._changed(None)

    async def cancel(
        self, actor: ApiToken, broadcast: Broadcast, reason: str | None = None
    ) -> None:
        cancelled = await self._broadcasts.cancel_broadcast(
            broadcast.id, by=actor.id, at=datetime.now(UTC), reason=reason
        )
        if cancelled is None:
            raise Conflict(f"broadcast {broadcast.id} is {broadcast.state.value}")
        _log.info("broadcast_cancelled", broadcast=broadcast.id, by=actor.id, messages=cancelled,
                  reason=reason)  # fmt: skip
        await self._audit.audit(
            AuditEntry.by(actor, AuditAction.BROADCAST_CANCELLED, str(broadcast.id),
                          at=datetime.now(UTC), service=broadcast.service, messages=cancelled,
                          reason=reason)
        )  # fmt: skip
        self._changed(await self._broadcasts.broadcast(broadcast.id))

    async def service_retired(self, actor: ApiToken, service: str) -> list[int]:
        """The service was deactivated: what it still had to send is cancelled, saying why
        (a broadcast scheduled before must not go out). The ids cancelled."""
        cancelled = []
        for broadcast in await self._broadcasts.open_of_service(service):
            with contextlib.suppress(Conflict):  # ended meanwhile
                await self.cancel(actor, broadcast, reason=SERVICE_DEACTIVATED)
                cancelled.append(broadcast.id)
        return cancelled


def _check_scope(actor: ApiToken, ministry: str, what: str) -> None:
    if not actor.may_act_for(ministry):
        raise Forbidden(
            f"{what} belongs to the ministry {ministry}; an officer acts on their own ministry's"
        )


def _texts(order: Order, service: Service, max_segments: int) -> dict[str, str]:
    known = set(service.names) | {service.default_language}
    texts: dict[str, str] = {}
    for language, raw in order.texts.items():
        field = f"texts.{language}"
        if language not in known:
            has = ", ".join(sorted(known))
            raise Invalid(
                f"{service.keyword} has no language {language!r} (it has {has})", field=field
            )
        text = fold_accents(raw) if order.fold_accents else raw
        if not text.strip():
            raise Invalid("the text is empty", field=field)
        segments = text_info(text).segments
        if segments > max_segments:
            raise Invalid(f"{segments} SMS, at most {max_segments}", code="too_long", field=field)
        texts[language] = text
    if service.default_language not in texts:
        raise Invalid(
            f"a text in {service.default_language!r}, the service's default language, is needed"
            " (subscribers of other languages get it)",
            field="texts",
        )
    return texts


def _progress(b: Broadcast, stats: BroadcastStats) -> Progress:
    counts = stats.by_state
    audience = b.audience or 0
    finished = sum(n for state, n in counts.items() if state not in WITHOUT_OUTCOME)
    throughput = None
    if stats.first_submit_at and stats.last_submit_at:
        # from the start of the fan-out: two messages a millisecond apart are no 2,000/s
        start = min(b.started_at or stats.first_submit_at, stats.first_submit_at)
        span = (stats.last_submit_at - start).total_seconds()
        sent = sum(v for k, v in counts.items() if k not in _UNSENT)
        throughput = round(sent / span, 1) if span > 0 else None
    return Progress(
        broadcast=b,
        by_state=counts,
        audience=audience,
        failed=sum(counts.get(state, 0) for state in _FAILED),
        delivery_rate=round(counts.get("delivered", 0) / finished, 4) if finished > 0 else None,
        latency_p50_s=stats.latency_p50_s,
        latency_p95_s=stats.latency_p95_s,
        throughput_per_s=throughput,
    )
