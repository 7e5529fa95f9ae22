"""The SQLite backend: one connection (the single writer), WAL, transactions serialised."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from smsgw.audit import AuditAction, AuditEntry
from smsgw.broadcasts.model import (
    Broadcast,
    BroadcastState,
    BroadcastStats,
    OutboxMessage,
    Priority,
)
from smsgw.delivery.message import (
    DeliveryBatch,
    DroppedReceipt,
    Message,
    MessageEvent,
    MessageState,
)
from smsgw.inbound.queue import HandledInbound, StoredInbound
from smsgw.kpis.figures import (
    ConsentFlow,
    DeliveryTotals,
    Period,
    ServiceCount,
    SubscriberCounts,
)
from smsgw.storage.sqlite import broadcasts, delivery, kpis
from smsgw.storage.sqlite.access import SqliteAccess
from smsgw.storage.sqlite.catalogue import SqliteCatalogue
from smsgw.storage.sqlite.checkpoint import WRITER_PRAGMA, Checkpointer
from smsgw.storage.sqlite.delivery import timestamp
from smsgw.storage.sqlite.migrations import migrate
from smsgw.storage.sqlite.subscriptions import SqliteSubscriptions
from smsgw.storage.sqlite.thread import SqliteThread, in_transaction, run_in_db
from smsgw.tokens import ApiToken
from subscriptions.models import (
    Change,
    ChangeResult,
    ConsentEvent,
    ImportCounts,
    Service,
    Source,
    Subscriber,
    Subscription,
)

_PRAGMAS = (
    "PRAGMA journal_mode = WAL",  # readers never block the writer
    "PRAGMA synchronous = NORMAL",  # with WAL: durable across crashes of the process, fast
    "PRAGMA busy_timeout = 5000",  # another process (smsgw token create) holding the lock
    "PRAGMA temp_store = MEMORY",
    "PRAGMA cache_size = -32000",  # 32 MB
    WRITER_PRAGMA,  # checkpoints run on another connection (checkpoint.py)
)
# column lists are spelt out in each statement (no SQL is assembled from strings)

T = TypeVar("T")


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text is not None else None


class _Transactions:
    """Serialises transactions on the shared connection: a batch is never interleaved with
    another coroutine's statements (which would otherwise land inside its transaction)."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        async with self._lock:
            yield

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        async with self._lock:
            try:
                await self._conn.execute("BEGIN IMMEDIATE")
                yield
                await self._conn.execute("COMMIT")
            except BaseException:
                # Cancelled while COMMIT was queued, the COMMIT still runs in aiosqlite's thread
                # (before this ROLLBACK): then there is nothing left to roll back.
                if self._conn.in_transaction:
                    with contextlib.suppress(sqlite3.OperationalError):
                        await asyncio.shield(self._conn.execute("ROLLBACK"))
                raise


class SqliteStore:
    """Implements every storage Protocol on one aiosqlite connection."""

    def __init__(self, conn: aiosqlite.Connection, unmatched: int) -> None:
        self._conn = conn
        self._checkpointer: Checkpointer | None = None
        self._tx = _Transactions(conn)
        self._delivery = delivery.DeliveryWriter(unmatched=unmatched)
        # one trip to aiosqlite's thread per operation
        self._thread = SqliteThread(conn, self._tx)
        self._catalogue = SqliteCatalogue(self._thread)
        self._subscriptions = SqliteSubscriptions(self._thread)
        self._access = SqliteAccess(self._thread)

    @classmethod
    async def open(cls, path: Path) -> SqliteStore:
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level None: we issue BEGIN/COMMIT ourselves, one transaction per batch
        conn = await aiosqlite.connect(path, isolation_level=None)
        try:
            for pragma in _PRAGMAS:
                await conn.execute(pragma)
            await migrate(conn)
            await delivery.create_temp_tables(conn)
            async with conn.execute("SELECT count(*) FROM unmatched_receipts") as cursor:
                row = await cursor.fetchone()
        except BaseException:
            await conn.close()
            raise
        store = cls(conn, unmatched=row[0] if row else 0)
        store._checkpointer = Checkpointer(path, store._tx)
        await store._checkpointer.start()
        return store

    async def migrate(self) -> int:
        async with self._tx.held():
            return await migrate(self._conn)

    async def close(self) -> None:
        if self._checkpointer is not None:
            await self._checkpointer.stop()
        await self._conn.close()

    # DeliveryLog

    async def record(self, batch: DeliveryBatch) -> None:
        await self._write_delivery(partial(self._delivery.record, batch=batch))

    async def purge_unmatched(self, before: datetime) -> list[DroppedReceipt]:
        return await self._write_delivery(
            partial(self._delivery.purge_unmatched, before=timestamp(before))
        )

    async def _write_delivery(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn`` in its own transaction, one trip to the connection's thread, under the lock;
        the count of unmatched receipts is put back when the transaction is rolled back.

        The count is saved and put back in that thread, where ``fn`` changes it: a caller
        cancelled while waiting does not withdraw ``fn`` (thread.run_in_db), which then runs
        whole and commits; put back from here, the count would undo a committed change.
        """
        writer = self._delivery

        def counted(db: sqlite3.Connection) -> T:
            unmatched = writer.unmatched
            try:
                return in_transaction(fn, db)
            except BaseException:
                writer.unmatched = unmatched
                raise

        async with self._tx.held():
            return await run_in_db(self._conn, counted)

    # InboundQueue

    async def unhandled_inbound(self, limit: int) -> list[StoredInbound]:
        return await self._thread.read(partial(_unhandled_inbound, limit=limit))

    async def mark_inbound_handled(self, handled: list[HandledInbound]) -> None:
        rows = [(timestamp(h.at), h.outcome.value, h.id) for h in handled]
        await self._thread.write(partial(_mark_inbound_handled, rows=rows))

    # MessageStore

    async def get_message(self, message_id: str) -> Message | None:
        rows = await self._fetch(
            "SELECT id, recipient, sender, text, state, parts, encoding, channel, error,"
            " created_at, updated_at, expires_at FROM messages WHERE id = ?",
            (message_id,),
        )
        return _message(rows[0]) if rows else None

    async def message_history(self, message_id: str) -> list[MessageEvent]:
        rows = await self._fetch(
            "SELECT at, state, detail FROM message_events WHERE message_id = ? ORDER BY at, id",
            (message_id,),
        )
        return [MessageEvent(datetime.fromisoformat(at), state, text) for at, state, text in rows]

    async def queued_messages(self) -> list[Message]:
        rows = await self._fetch(
            "SELECT id, recipient, sender, text, state, parts, encoding, channel, error,"
            " created_at, updated_at, expires_at FROM messages"
            " WHERE state = 'queued' ORDER BY created_at"
        )
        return [_message(row) for row in rows]

    # TokenStore and AuditLog, in sqlite/access.py

    async def add_token(self, token: ApiToken, audit: AuditEntry | None = None) -> None:
        await self._access.add_token(token, audit)

    async def token_by_hash(self, token_hash: str) -> ApiToken | None:
        return await self._access.token_by_hash(token_hash)

    async def token(self, token_id: str) -> ApiToken | None:
        return await self._access.token(token_id)

    async def tokens(self) -> list[ApiToken]:
        return await self._access.tokens()

    async def revoke_token(self, token_id: str, *, at: datetime, audit: AuditEntry) -> bool:
        return await self._access.revoke_token(token_id, at=at, audit=audit)

    async def audit(self, entry: AuditEntry) -> None:
        await self._access.audit(entry)

    async def audit_entries(
        self, *, before: int | None, limit: int, action: AuditAction | None = None
    ) -> list[AuditEntry]:
        return await self._access.audit_entries(before=before, limit=limit, action=action)

    # SubscriptionStore, delegated to sqlite/catalogue.py and sqlite/subscriptions.py

    async def services(self, *, active_only: bool = False) -> list[Service]:
        return await self._catalogue.services(active_only=active_only)

    async def service(self, keyword: str) -> Service | None:
        return await self._catalogue.service(keyword)

    async def add_service(self, service: Service) -> None:
        await self._catalogue.add_service(service)

    async def replace_service(self, service: Service) -> None:
        await self._catalogue.replace_service(service)

    async def subscriber(self, msisdn: str) -> Subscriber | None:
        return await self._subscriptions.subscriber(msisdn)

    async def subscriptions(self, msisdn: str) -> list[Subscription]:
        return await self._subscriptions.subscriptions(msisdn)

    async def join(
        self,
        msisdn: str,
        service: str,
        *,
        at: datetime,
        source: Source,
        consent: str,
        language: str | None = None,
    ) -> bool:
        return await self._subscriptions.join(
            msisdn, service, at=at, source=source, consent=consent, language=language
        )

    async def leave(
        self, msisdn: str, service: str, *, at: datetime, source: Source, consent: str
    ) -> bool:
        return await self._subscriptions.leave(
            msisdn, service, at=at, source=source, consent=consent
        )

    async def stop_all(
        self, msisdn: str, *, at: datetime, source: Source, consent: str
    ) -> list[str]:
        return await self._subscriptions.stop_all(msisdn, at=at, source=source, consent=consent)

    async def unstop(self, msisdn: str, *, at: datetime, source: Source, consent: str) -> list[str]:
        return await self._subscriptions.unstop(msisdn, at=at, source=source, consent=consent)

    async def set_language(
        self, msisdn: str, language: str, *, at: datetime, source: Source, consent: str
    ) -> None:
        await self._subscriptions.set_language(
            msisdn, language, at=at, source=source, consent=consent
        )

    async def apply(self, changes: Sequence[Change]) -> list[ChangeResult]:
        return await self._subscriptions.apply(changes)

    async def join_many(
        self,
        rows: Sequence[tuple[str, str | None]],
        service: str,
        *,
        at: datetime,
        source: Source,
        consent: str,
    ) -> ImportCounts:
        return await self._subscriptions.join_many(
            rows, service, at=at, source=source, consent=consent
        )

    async def history(self, msisdn: str) -> list[ConsentEvent]:
        return await self._subscriptions.history(msisdn)

    def audience(self, service: str, *, batch: int = 5000) -> AsyncIterator[Sequence[Subscriber]]:
        return self._subscriptions.audience(service, batch=batch)

    async def audience_size(self, service: str) -> int:
        return await self._subscriptions.audience_size(service)

    # BroadcastStore, in sqlite/broadcasts.py

    async def add_broadcast(self, broadcast: Broadcast) -> int:
        return await self._thread.write(partial(broadcasts.add, b=broadcast))

    async def broadcast(self, broadcast_id: int) -> Broadcast | None:
        return await self._thread.read(partial(broadcasts.get, broadcast_id=broadcast_id))

    async def broadcasts(
        self, *, ministry: str | None, before: int | None, limit: int
    ) -> list[Broadcast]:
        return await self._thread.read(
            partial(broadcasts.listing, ministry=ministry, before=before, limit=limit)
        )

    async def open_broadcasts(self) -> list[Broadcast]:
        return await self._thread.read(broadcasts.open_broadcasts)

    async def approve_broadcast(
        self,
        broadcast_id: int,
        *,
        by: str,
        at: datetime,
        state: BroadcastState,
        expires_at: datetime,
    ) -> bool:
        return await self._thread.write(
            partial(broadcasts.approve, broadcast_id=broadcast_id, by=by, at=at, state=state,
                    expires_at=expires_at)
        )  # fmt: skip

    async def cancel_broadcast(self, broadcast_id: int, *, by: str, at: datetime) -> int | None:
        return await self._thread.write(
            partial(broadcasts.cancel, broadcast_id=broadcast_id, by=by, at=at)
        )

    async def set_broadcast_state(
        self,
        broadcast_id: int,
        state: BroadcastState,
        *,
        at: datetime,
        started: bool = False,
        finished: bool = False,
    ) -> bool:
        return await self._thread.write(
            partial(broadcasts.set_state, broadcast_id=broadcast_id, state=state, at=at,
                    started=started, finished=finished)
        )  # fmt: skip

    async def audience_by_language(
        self, service: str, languages: list[str], default: str
    ) -> dict[str, int]:
        return await self._thread.read(
            partial(broadcasts.audience_by_language, service=service, languages=languages,
                    default=default)
        )  # fmt: skip

    async def fan_out_chunk(
        self,
        broadcast: Broadcast,
        *,
        chunk: int,
        carrier_of: Callable[[str], str | None],
        at: datetime,
    ) -> tuple[int, bool]:
        return await self._thread.write(
            partial(broadcasts.fan_out_chunk, b=broadcast, chunk=chunk, carrier_of=carrier_of,
                    at=at)
        )  # fmt: skip

    async def fanned_out(self, broadcast_id: int) -> bool:
        return await self._thread.read(partial(broadcasts.fanned_out, broadcast_id=broadcast_id))

    async def queued_count(self, broadcast_id: int) -> int:
        return await self._thread.read(partial(broadcasts.queued_count, broadcast_id=broadcast_id))

    async def queued_by_priority(self) -> dict[Priority, int]:
        return await self._thread.read(broadcasts.queued_by_priority)

    async def expire_outbox(self, broadcast_id: int, *, at: datetime) -> int:
        return await self._thread.write(
            partial(broadcasts.expire, broadcast_id=broadcast_id, at=at)
        )

    async def broadcast_stats(self, broadcast_id: int) -> BroadcastStats:
        return await self._thread.read(partial(broadcasts.stats, broadcast_id=broadcast_id))

    async def take_ready(
        self, *, carrier: str, priority: Priority, after: int, limit: int
    ) -> list[OutboxMessage]:
        return await self._thread.read(
            partial(broadcasts.take_ready, carrier=carrier, priority=priority, after=after,
                    limit=limit)
        )  # fmt: skip

    async def take_retries(
        self, *, carrier: str, priority: Priority, now: datetime, limit: int
    ) -> list[OutboxMessage]:
        return await self._thread.read(
            partial(broadcasts.take_retries, carrier=carrier, priority=priority, now=now,
                    limit=limit)
        )  # fmt: skip

    # KpiStore, in sqlite/kpis.py

    async def service_counts(self) -> list[ServiceCount]:
        return await self._thread.read(kpis.service_counts)

    async def subscriber_counts(self) -> SubscriberCounts:
        return await self._thread.read(kpis.subscriber_counts)

    async def consent_flow(self, periods: Sequence[Period]) -> list[ConsentFlow]:
        return await self._thread.read(partial(kpis.consent_flow, periods=periods))

    async def broadcasts_sent(self, periods: Sequence[Period]) -> list[dict[str, int]]:
        return await self._thread.read(partial(kpis.broadcasts_sent, periods=periods))

    async def delivery_totals(self, period: Period) -> DeliveryTotals:
        return await self._thread.read(partial(kpis.delivery_totals, period=period))

    async def _fetch(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        # Under the lock: on the writer's own connection a read would otherwise see a batch
        # half-written (a message's new state before its history row).
        async with self._tx.held(), self._conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())


def _unhandled_inbound(db: sqlite3.Connection, *, limit: int) -> list[StoredInbound]:
    rows = db.execute(
        "SELECT id, sender, recipient, text, channel, received_at FROM inbound"
        " WHERE handled_at IS NULL ORDER BY received_at, rowid LIMIT ?",
        (limit,),
    ).fetchall()
    return [
        StoredInbound(id_, sender, to, text, channel, datetime.fromisoformat(at))
        for id_, sender, to, text, channel, at in rows
    ]


def _mark_inbound_handled(db: sqlite3.Connection, *, rows: list[tuple[str, str, str]]) -> None:
    db.executemany("UPDATE inbound SET handled_at = ?, outcome = ? WHERE id = ?", rows)


def _message(row: Any) -> Message:
    return Message(
        id=row[0],
        to=row[1],
        sender=row[2],
        text=row[3],
        state=MessageState(row[4]),
        parts=row[5],
        encoding=row[6],
        channel=row[7],
        error=row[8],
        created_at=datetime.fromisoformat(row[9]),
        updated_at=datetime.fromisoformat(row[10]),
        expires_at=datetime.fromisoformat(row[11]),
    )
