"""``[[alerts.feeds]]``: the authorities' feeds of CAP alerts, polled every ``every_s``.

A feed is an Atom feed (each entry's CAP inline, or linked as application/cap+xml), an RSS
feed (each item's CAP enclosure or link), or one CAP document. Each alert goes through the
same intake as POST /api/v1/alerts, as the system ``feed:<name>``; its CAP key in the
database makes it taken once, across restarts and gateways (a repeat is a duplicate: nothing
sent). A failed poll or fetch is logged and tried again at the next poll.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin
from xml.etree.ElementTree import Element, ParseError, tostring

import aiohttp
import structlog
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from smsgw.access.tokens import ApiToken, Role
from smsgw.alerts.cap import MAX_BYTES, NAMESPACE
from smsgw.config import AlertFeedConfig
from smsgw.errors import Conflict, Invalid, Unprocessable
from smsgw.tasks import Tasks

_log = structlog.get_logger(__name__)

_ATOM = "{http://www.w3.org/2005/Atom}"
_CAP = f"{{{NAMESPACE}}}alert"
_CAP_TYPES = ("application/cap+xml", "application/xml", "text/xml")
FEED_MAX_BYTES = 4 * 1024 * 1024
# the alert itself is wrong (refused as the API would with 400/409/422): not fetched again
_REFUSED = (Invalid, Unprocessable, Conflict)

Receive = Callable[[ApiToken, bytes], Awaitable[object]]


class FeedError(Exception):
    """A feed or an alert could not be read (HTTP, size, XML): tried again at the next poll."""


@dataclass(frozen=True, slots=True)
class Entry:
    key: str  # what the feed calls it (id and updated, or the link): taken once per poll set
    link: str | None  # where its CAP is
    inline: bytes | None  # its CAP, when the feed carries it


def actor(feed: AlertFeedConfig) -> ApiToken:
    """Who a feed's alerts are received by, in the alerts' and the audit log's records."""
    return ApiToken(
        id=f"feed:{feed.label}", token_hash="", role=Role.ALERTING, ministry=None,
        created_at=datetime.now(UTC), expires_at=None, person=f"feed {feed.label}",
    )  # fmt: skip


class FeedPoller:
    def __init__(
        self,
        feeds: Sequence[AlertFeedConfig],
        receive: Receive,
        *,
        session: Callable[[], aiohttp.ClientSession] = aiohttp.ClientSession,
    ) -> None:
        self._feeds = feeds
        self._receive = receive
        self._session_factory = session
        self._session: aiohttp.ClientSession | None = None
        self._taken: dict[str, set[str]] = {feed.label: set() for feed in feeds}
        self._tasks = Tasks()

    async def start(self) -> None:
        if not self._feeds:
            return
        self._session = self._session_factory()
        for feed in self._feeds:
            self._tasks.spawn(self._run(feed), name=f"alert-feed-{feed.label}")

    async def stop(self) -> None:
        await self._tasks.cancel()
        if self._session is not None:
            await self._session.close()

    async def _run(self, feed: AlertFeedConfig) -> None:
        while True:
            try:
                await self.poll(feed)
            except FeedError as exc:
                _log.warning("alert_feed_failed", feed=feed.label, error=str(exc))
            except Exception:  # noqa: BLE001  # task root: the next poll tries again
                _log.exception("alert_feed_failed", feed=feed.label)
            await asyncio.sleep(feed.every_s)

    async def poll(self, feed: AlertFeedConfig) -> int:
        """Reads the feed once and takes each entry not taken yet; returns how many it took."""
        body = await self._get(feed, feed.url, FEED_MAX_BYTES)
        entries = _entries(body, feed.url)
        taken = self._taken[feed.label]
        count = 0
        for entry in entries:
            if entry.key in taken:
                continue
            if entry.inline is None and not entry.link:
                _log.warning("alert_feed_entry_refused", feed=feed.label, entry=entry.key,
                             error="no CAP in it, nor a link to one")  # fmt: skip
                taken.add(entry.key)
                continue
            try:
                document = entry.inline or await self._get(feed, entry.link or "", MAX_BYTES)
            except FeedError as exc:  # this one again at the next poll; the others now
                _log.warning("alert_feed_entry_failed", feed=feed.label, entry=entry.key,
                             error=str(exc))  # fmt: skip
                continue
            try:
                await self._receive(actor(feed), document)
            except _REFUSED as exc:
                _log.warning("alert_feed_entry_refused", feed=feed.label, entry=entry.key,
                             error=str(exc))  # fmt: skip
            taken.add(entry.key)
            count += 1
        taken.intersection_update(entry.key for entry in entries)  # bounded by the feed
        return count

    async def _get(self, feed: AlertFeedConfig, url: str, limit: int) -> bytes:
        assert self._session is not None  # noqa: S101 - started
        timeout = aiohttp.ClientTimeout(total=feed.timeout_s)
        try:
            async with self._session.get(url, timeout=timeout) as response:
                if response.status != 200:
                    raise FeedError(f"{url}: HTTP {response.status}")
                body = await response.content.read(limit + 1)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise FeedError(f"{url}: {type(exc).__name__} {exc}") from None
        if len(body) > limit:
            raise FeedError(f"{url}: over {limit} bytes")
        return body


def _entries(body: bytes, url: str) -> list[Entry]:
    """The feed's alerts, oldest first (feeds list the newest first)."""
    try:
        root = fromstring(body, forbid_dtd=True)
    except (ParseError, DefusedXmlException) as exc:
        raise FeedError(f"{url}: not a feed: {exc}") from None
    if root.tag == _CAP:
        return [Entry(key=url, link=None, inline=body)]
    if root.tag == f"{_ATOM}feed":
        return [_atom(entry, url) for entry in reversed(root.findall(f"{_ATOM}entry"))]
    if root.tag == "rss":
        return [_rss(item, url) for item in reversed(root.findall("channel/item"))]
    raise FeedError(f"{url}: neither Atom, RSS nor a CAP alert (root <{root.tag}>)")


def _atom(entry: Element, base: str) -> Entry:
    key = f"{entry.findtext(f'{_ATOM}id', '')} {entry.findtext(f'{_ATOM}updated', '')}"
    links = entry.findall(f"{_ATOM}link")
    cap = [link for link in links if link.get("type") in _CAP_TYPES]
    alert = entry.find(f"{_ATOM}content/{_CAP}")
    if alert is not None and not cap:  # a link is the document as signed, inline a copy
        return Entry(key=key, link=None, inline=tostring(alert, encoding="utf-8"))
    chosen = cap or [link for link in links if link.get("rel", "alternate") == "alternate"]
    href = chosen[0].get("href") if chosen else None
    return Entry(key=key, link=urljoin(base, href) if href else None, inline=None)


def _rss(item: Element, base: str) -> Entry:
    enclosure = item.find("enclosure")
    link = enclosure.get("url") if enclosure is not None else item.findtext("link")
    key = item.findtext("guid") or link or ""
    return Entry(key=key, link=urljoin(base, link.strip()) if link else None, inline=None)
