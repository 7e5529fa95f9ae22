"""Citizens' texts that are not consent commands: questions, replies to broadcasts, poll
answers. The inbound handler hands over each batch's texts that may be one (ASK, an unknown
text, a bare YES / SI) and sends the replies this returns.

In order, for a text from a number:
1. it answers an open poll whose audience it was in ("1", "YES", "2 NO"): counted (its last
   answer counts); a poll closed within the reply window: "poll closed";
2. ASK HEALTH <question>: into the number's HEALTH ticket not closed, else a new one,
   acknowledged with its number;
3. any other text that is no command: a reply to the latest broadcast that reached the number
   within ``reply_window_h`` and since its last text (into its service's ticket, a new one
   acknowledged), else into the number's latest ticket not closed (no acknowledgement: the
   conversation goes on);
4. else the usual reply (unknown, a suggestion).

"The audience" of a broadcast, here, is who was subscribed to its service when its fan-out
began (and is still), in its districts: the fan-out's own rule, read from the subscriptions
rather than from the outbox (which has no index by number: one would slow every fan-out).

A batch costs two reads (the recent broadcasts, cached a few seconds; the numbers' tickets
and subscriptions) and at most two writes (tickets, poll answers).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import structlog

from smsgw.broadcasts.model import Broadcast
from smsgw.broadcasts.poll import PollAnswer, PollStore
from smsgw.broadcasts.store import BroadcastStore
from smsgw.config import InboxConfig
from smsgw.inbound.guard import recent
from smsgw.inbound.said import Said
from smsgw.inbox.model import Citizen, CitizenText
from smsgw.inbox.store import InboxStore
from subscriptions.service import SubscriptionService
from subscriptions.words import Verb

_log = structlog.get_logger(__name__)

_RECENT_S = 5.0  # the recent broadcasts are read again after this long
_POLL_CLOSED_FOR = timedelta(days=7)  # answers this long after a close still get "closed"


class Conversations:
    def __init__(
        self,
        inbox: InboxStore,
        polls: PollStore,
        broadcasts: BroadcastStore,
        citizens: SubscriptionService,
        settings: InboxConfig,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._inbox = inbox
        self._polls = polls
        self._broadcasts = broadcasts
        self._citizens = citizens
        self._settings = settings
        self._clock = clock
        self._limiter = _Limiter(settings.texts_per_hour)
        self._recent: list[Broadcast] = []
        self._recent_at: datetime | None = None

    def forget_recent(self) -> None:
        """A broadcast started or changed: read the recent ones again at the next text."""
        self._recent_at = None

    async def take(self, said: Sequence[Said]) -> list[tuple[str, ...] | None]:
        """The replies to each text (None: not the inbox's: the usual reply stands)."""
        if not said:
            return []
        recent = await self._recent_broadcasts()
        # only the services of recent broadcasts tell who a broadcast reached
        services = {broadcast.service for broadcast in recent}
        citizens = await self._inbox.citizens({s.msisdn for s in said}, services)
        results: list[tuple[str, ...] | None] = [None] * len(said)
        answers: list[PollAnswer] = []
        filing: list[tuple[int, CitizenText, bool]] = []  # index, text, asked
        opened: dict[str, list[str]] = {}  # number → services of tickets filed in this batch
        for i, item in enumerate(said):
            citizen = citizens.get(item.msisdn, Citizen())
            command = item.command
            if command.verb in (Verb.UNKNOWN, Verb.UNSTOP):
                polled = self._poll(item, citizen, recent)
                if polled is not None:
                    results[i], answer = polled
                    if answer is not None:
                        answers.append(answer)
                    continue
                if command.verb is Verb.UNSTOP:
                    continue
            service = self._service_of(item, citizen, recent, opened.get(item.msisdn, []))
            if service is None:
                continue
            keyword, broadcast = service
            allowed, tell = self._limiter.allow(item.msisdn, item.at)
            if not allowed:
                reply = self._citizens.reply(item.language, "questions_limited")
                results[i] = (reply,) if tell else ()
                _log.info("question_limited", sender=item.msisdn, service=keyword)
                continue
            said_text = command.question if command.verb is Verb.ASK else item.text
            asked = command.verb is Verb.ASK  # acknowledged even into an open ticket
            filing.append((i, self._text(item, keyword, broadcast, said_text or item.text), asked))
            opened.setdefault(item.msisdn, []).insert(0, keyword)
            results[i] = ()
        if answers:
            await self._polls.answer_many(answers)
        if filing:
            filed = await self._inbox.file([text for _, text, _ in filing])
            for (i, text, asked), done in zip(filing, filed, strict=True):
                _log.info("question_filed", ticket=done.ticket, new=done.new,
                          service=text.service, sender=text.msisdn)  # fmt: skip
                if asked or done.new:
                    results[i] = (self._citizens.reply(
                        text.language, "question_received", text.service,
                        ticket=f"#{done.ticket}"),)  # fmt: skip
        return results

    def _service_of(
        self, item: Said, citizen: Citizen, recent: list[Broadcast], opened: list[str]
    ) -> tuple[str, int | None] | None:
        """The service whose inbox takes the text and the broadcast it replies to; None: no
        inbox's. A broadcast that reached the number since its last text is what a reply is
        about; else the conversation goes on in its latest ticket."""
        command = item.command
        if command.verb is Verb.ASK:
            assert command.service is not None  # noqa: S101 - wanted() let only these in
            return command.service, None
        if opened:  # a ticket filed earlier in this batch
            return opened[0], None
        latest = citizen.tickets[0] if citizen.tickets else None
        broadcast = self._reply_to(item, citizen, recent)
        if (
            broadcast is not None
            and broadcast.started_at is not None
            and (latest is None or broadcast.started_at > latest[2])
        ):
            return broadcast.service, broadcast.id
        return None if latest is None else (latest[1], None)

    def _reply_to(self, item: Said, citizen: Citizen, recent: list[Broadcast]) -> Broadcast | None:
        """The latest broadcast that reached the number within the reply window."""
        window = self._settings.reply_window_h
        if not window:
            return None
        since = item.at - timedelta(hours=window)
        for broadcast in recent:
            started = broadcast.started_at
            if (
                started is not None
                and since <= started <= item.at
                and self._reached(broadcast, citizen)
            ):
                return broadcast
        return None

    def _poll(
        self, item: Said, citizen: Citizen, recent: list[Broadcast]
    ) -> tuple[tuple[str, ...], PollAnswer | None] | None:
        """The replies and the answer when the text answers a poll the number was asked."""
        closed = None
        for broadcast in recent:
            poll = broadcast.poll
            if poll is None or not self._reached(broadcast, citizen):
                continue
            answered = poll.answer(item.text)
            if answered is None:
                continue
            if not poll.open_at(item.at):
                closed = closed or broadcast
                continue
            option, told = answered
            language = told or citizen.language or broadcast.default_language
            answer = PollAnswer(broadcast.id, item.msisdn, option, language, citizen.district,
                                item.at)  # fmt: skip
            _log.info("poll_answered", broadcast=broadcast.id, sender=item.msisdn)
            if not self._settings.thank_poll_answers:
                return (), answer
            thanks = self._citizens.reply(told or item.language, "poll_thanks", answer=str(option))
            return (thanks,), answer
        poll = closed.poll if closed is not None else None
        if poll is not None and item.at - poll.closes_at <= _POLL_CLOSED_FOR:
            return (self._citizens.reply(item.language, "poll_closed"),), None
        return None

    @staticmethod
    def _reached(broadcast: Broadcast, citizen: Citizen) -> bool:
        """The number was in the broadcast's audience (subscribed when its fan-out began, in
        its districts)."""
        since = (citizen.subscribed or {}).get(broadcast.service)
        started = broadcast.started_at
        if since is None or started is None or since > started:
            return False
        districts = broadcast.districts
        return districts is None or citizen.district is None or citizen.district in districts

    def _text(self, item: Said, keyword: str, broadcast: int | None, text: str) -> CitizenText:
        service = self._citizens.service(keyword)
        return CitizenText(
            service=keyword,
            ministry=service.ministry if service is not None else "",
            msisdn=item.msisdn,
            language=item.language,
            channel=item.channel,
            broadcast=broadcast,
            text=text,
            inbound_id=item.inbound_id,
            at=item.at,
            due_at=item.at + self._settings.first_answer(keyword),
        )

    async def _recent_broadcasts(self) -> list[Broadcast]:
        """Those begun within the reply window or the polls' (the latest first)."""
        now = self._clock()
        if self._recent_at is not None and (now - self._recent_at).total_seconds() < _RECENT_S:
            return self._recent
        window = timedelta(hours=self._settings.reply_window_h)
        # a poll may stay open longer than the reply window: those of the last 60 days
        since = now - max(window, timedelta(days=60))
        found = await self._broadcasts.started_since(since)
        self._recent = [
            b for b in found
            if b.poll is not None or (b.started_at is not None and b.started_at >= now - window)
        ]  # fmt: skip
        self._recent_at = now
        return self._recent


class _Limiter:
    """At most ``per_hour`` texts taken from one number in any hour; the first refused in an
    hour is told so (the rest are silent: an auto-responder gets no loop). In memory and
    bounded, as the inbound Guard's reply windows are (the same eviction)."""

    def __init__(self, per_hour: int, max_numbers: int = 200_000) -> None:
        self._per_hour = per_hour
        self._max = max_numbers
        self._taken: OrderedDict[str, tuple[deque[datetime], datetime | None]] = OrderedDict()

    def allow(self, msisdn: str, at: datetime) -> tuple[bool, bool]:
        """(taken, tell: the first refused this hour)."""
        hour = timedelta(hours=1)
        taken, told = self._taken.pop(msisdn, (deque(), None))
        while taken and at - taken[0] >= hour:
            taken.popleft()
        if len(taken) < self._per_hour:
            taken.append(at)
            result = (True, False)
        else:
            tell = told is None or at - told >= hour
            told = at if tell else told
            result = (False, tell)
        self._taken[msisdn] = (taken, told)
        while self._taken and (
            len(self._taken) > self._max
            or not recent(next(iter(self._taken.values()))[0], at, hour)
        ):
            self._taken.popitem(last=False)
        return result
