"""The access and messages repositories' contract on every backend: tokens, the audit log,
idempotency keys, the status callbacks' queue, single messages and the inbound queue (TokenStore,
AuditLog, IdempotencyStore, CallbackQueue, MessageStore, InboundQueue).

Messages, their history and inbound texts are made by the delivery log (DeliveryLog.record),
which PostgreSQL has not yet (issue 14): the tests make those rows with plain SQL per backend,
in the helpers under "Rows made with plain SQL"; a state change there fires the callbacks'
trigger as the delivery log's does. PostgreSQL's queues are shared by several gateways: the
tests under "Several gateways" hold for it alone (SQLite has one gateway; its reads are no
claims).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeAlias

import asyncpg
import pytest

from smsgw.access.audit import AuditAction, AuditEntry
from smsgw.access.idempotency import KEPT, Remembered
from smsgw.access.tokens import Role, hash_secret, issue
from smsgw.delivery.message import Message, MessageEvent, MessageState
from smsgw.delivery.store import MessageFilter
from smsgw.inbound.queue import HandledInbound, InboundOutcome, StoredInbound
from smsgw.storage.postgres import PostgresStore
from smsgw.storage.postgres.callbacks import LEASE
from smsgw.storage.sqlite import SqliteStore
from smsgw.storage.sqlite.times import timestamp

AnyStore: TypeAlias = SqliteStore | PostgresStore

T0 = datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
HOOK = "https://crm.example.org/sms-status"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def message(
    id_: str, *, to: str = "+5016012345", created: float = 0, by: str | None = None,
    state: MessageState = MessageState.QUEUED, url: str | None = None,
) -> Message:  # fmt: skip
    return Message(
        id=id_, to=to, sender="1515", text="Vaccination day Saturday ¿sí?", state=state, parts=1,
        encoding="ucs2", channel=None, error=None, created_at=at(created),
        updated_at=at(created), expires_at=at(created + 3600), created_by=by, callback_url=url,
    )  # fmt: skip


def entry(action: AuditAction, target: str, *, seconds: float = 0, **detail: Any) -> AuditEntry:
    return AuditEntry(at(seconds), "t-admin", "admin", None, action, target, detail)


# ------------------------------------------------------------------------------------ tokens


async def test_a_token_is_found_by_the_hash_of_its_secret_and_by_its_id(
    any_store: AnyStore,
) -> None:
    secret, token = issue(
        Role.OFFICER, now=T0, ministry="Health", expires_days=30, person="Ana Pérez",
        callback_url=HOOK,
    )  # fmt: skip
    await any_store.tokens.add_token(token)
    found = await any_store.tokens.token_by_hash(hash_secret(secret))
    assert found is not None
    assert found == token
    assert found.usable(T0)
    assert not found.usable(T0 + timedelta(days=31))
    assert await any_store.tokens.token(token.id) == token
    assert await any_store.tokens.token_by_hash(hash_secret("smsgw_other")) is None
    assert await any_store.tokens.token("nope") is None


async def test_tokens_are_listed_oldest_first_revoked_and_expired_ones_too(
    any_store: AnyStore,
) -> None:
    _, old = issue(Role.ADMIN, now=at(-3600), expires_days=0)  # expired at once
    _, operator = issue(Role.OPERATOR, now=at(0), person="NOC")
    _, revoked = issue(Role.SUPERVISOR, now=at(60), ministry="education")
    revoked = dataclasses.replace(revoked, revoked_at=at(120))
    for token in (revoked, old, operator):
        await any_store.tokens.add_token(token)
    assert await any_store.tokens.tokens() == [old, operator, revoked]


async def test_a_token_is_issued_with_its_audit_entry_in_one_transaction(
    any_store: AnyStore,
) -> None:
    _, token = issue(Role.OPERATOR, now=T0, person="NOC")
    issued = entry(AuditAction.TOKEN_ISSUED, token.id, role="operator")
    await any_store.tokens.add_token(token, issued)
    _, twin = issue(Role.OPERATOR, now=T0)
    twin = dataclasses.replace(twin, token_hash=token.token_hash)  # the hash is unique
    with pytest.raises((sqlite3.IntegrityError, asyncpg.UniqueViolationError)):
        await any_store.tokens.add_token(twin, entry(AuditAction.TOKEN_ISSUED, twin.id))
    assert await any_store.tokens.tokens() == [token]
    (stored,) = await any_store.audit.audit_entries(before=None, limit=10)
    assert dataclasses.replace(stored, id=0) == issued


async def test_a_token_is_revoked_once_and_each_revoke_is_audited(any_store: AnyStore) -> None:
    _, token = issue(Role.OFFICER, now=T0, ministry="health")
    await any_store.tokens.add_token(token)
    revoke = entry(AuditAction.TOKEN_REVOKED, token.id, seconds=60)
    assert await any_store.tokens.revoke_token(token.id, at=at(60), audit=revoke)
    assert not await any_store.tokens.revoke_token(token.id, at=at(90), audit=revoke)
    assert not await any_store.tokens.revoke_token("nope", at=at(90), audit=revoke)
    stored = await any_store.tokens.token(token.id)
    assert stored is not None
    assert stored == dataclasses.replace(token, revoked_at=at(60))
    assert not stored.usable(at(61))
    entries = await any_store.audit.audit_entries(before=None, limit=10)
    assert [(e.action, e.target, e.at) for e in entries] == [
        (AuditAction.TOKEN_REVOKED, token.id, at(60))
    ]


async def test_a_token_s_last_use_is_kept_and_never_goes_back(any_store: AnyStore) -> None:
    _, used = issue(Role.ADMIN, now=T0, person="CRM")
    _, idle = issue(Role.OPERATOR, now=T0, person="NOC")
    for token in (used, idle):
        await any_store.tokens.add_token(token)
    await any_store.tokens.tokens_used({used.id: at(60), "gone": at(60)})  # a deleted one: none
    await any_store.tokens.tokens_used({used.id: at(30)})  # another gateway's older note
    seen = {t.id: t.last_used_at for t in await any_store.tokens.tokens()}
    assert seen == {used.id: at(60), idle.id: None}
    await any_store.tokens.tokens_used({used.id: at(120)})
    found = await any_store.tokens.token(used.id)
    assert found == dataclasses.replace(used, last_used_at=at(120))


# --------------------------------------------------------------------------------- audit log


async def test_audit_entries_are_newest_first_a_page_at_a_time(any_store: AnyStore) -> None:
    for n in range(5):
        await any_store.audit.audit(entry(AuditAction.SERVICE_UPDATED, f"S{n}", seconds=n))
    entries = await any_store.audit.audit_entries(before=None, limit=10)
    assert [e.target for e in entries] == ["S4", "S3", "S2", "S1", "S0"]
    assert len({e.id for e in entries}) == 5
    assert all(e.id > 0 for e in entries)
    page = await any_store.audit.audit_entries(before=entries[1].id, limit=2)
    assert page == entries[2:4]
    assert await any_store.audit.audit_entries(before=entries[-1].id, limit=2) == []


async def test_audit_entries_are_filtered_by_action(any_store: AnyStore) -> None:
    actions = [AuditAction.TOKEN_ISSUED, AuditAction.MESSAGE_SENT, AuditAction.TOKEN_ISSUED]
    for n, action in enumerate(actions):
        await any_store.audit.audit(entry(action, f"x{n}", seconds=n))
    issued = await any_store.audit.audit_entries(
        before=None, limit=10, action=AuditAction.TOKEN_ISSUED
    )
    assert [e.target for e in issued] == ["x2", "x0"]
    older = await any_store.audit.audit_entries(
        before=issued[0].id, limit=10, action=AuditAction.TOKEN_ISSUED
    )
    assert [e.target for e in older] == ["x0"]
    none = await any_store.audit.audit_entries(
        before=None, limit=10, action=AuditAction.BROADCAST_CANCELLED
    )
    assert none == []


async def test_an_audit_entry_reads_back_whole_its_detail_as_json(any_store: AnyStore) -> None:
    sent = AuditEntry(
        T0, "t-1", "officer", "health", AuditAction.MESSAGES_SENT, None,
        {"ids": ["m1", "m2"], "text": "¿Sí? 你好", "count": 2, "when": T0, "nested": {"a": None}},
    )  # fmt: skip
    await any_store.audit.audit(sent)
    await any_store.audit.audit(AuditEntry(T0, "cli", None, None, AuditAction.TOKEN_ISSUED, "t"))
    cli, stored = await any_store.audit.audit_entries(before=None, limit=10)
    # what JSON cannot hold is kept as text (a time: its str())
    assert stored == dataclasses.replace(sent, id=stored.id, detail=sent.detail | {"when": str(T0)})
    assert (cli.actor, cli.role, cli.ministry, cli.target, cli.detail) == (
        "cli",
        None,
        None,
        "t",
        {},
    )


# ------------------------------------------------------------------------- idempotency keys


async def test_a_key_is_taken_once_then_answers_what_the_first_use_did(
    any_store: AnyStore,
) -> None:
    keys = any_store.idempotency
    assert await keys.claim("t1", "k", "d1", at=T0) is None
    assert await keys.claim("t1", "k", "d1", at=at(1)) == Remembered("d1", None, None)
    assert await keys.claim("t1", "k", "d2", at=at(1)) == Remembered("d1", None, None)
    await keys.remember("t1", "k", status=201, body='{"id": "m1"}')
    assert await keys.claim("t1", "k", "d1", at=at(2)) == Remembered("d1", 201, '{"id": "m1"}')
    assert await keys.claim("t2", "k", "d9", at=at(2)) is None  # keys are per token


async def test_a_key_is_remembered_for_24_hours_then_taken_anew(any_store: AnyStore) -> None:
    keys = any_store.idempotency
    assert await keys.claim("t", "k", "d1", at=T0 - KEPT - timedelta(minutes=1)) is None
    await keys.remember("t", "k", status=201, body="{}")
    assert await keys.claim("t", "k", "d2", at=T0) is None  # past 24 hours: free again
    assert await keys.claim("t", "k", "d3", at=T0) == Remembered("d2", None, None)
    assert await keys.claim("t", "k", "d3", at=T0 + KEPT) == Remembered("d2", None, None)


async def test_a_key_whose_first_use_failed_is_free_again_not_one_answered(
    any_store: AnyStore,
) -> None:
    keys = any_store.idempotency
    assert await keys.claim("t", "failed", "d1", at=T0) is None
    await keys.forget("t", "failed")
    assert await keys.claim("t", "failed", "d2", at=at(1)) is None
    assert await keys.claim("t", "answered", "d1", at=T0) is None
    await keys.remember("t", "answered", status=202, body="[]")
    await keys.forget("t", "answered")  # answered: kept
    assert await keys.claim("t", "answered", "d1", at=at(1)) == Remembered("d1", 202, "[]")
    await keys.forget("t", "never-used")


async def test_requests_with_one_key_at_once_have_one_winner(any_store: AnyStore) -> None:
    keys = any_store.idempotency
    claims = await asyncio.gather(*(keys.claim("t", "k", f"d{n}", at=T0) for n in range(8)))
    winners = [n for n, seen in enumerate(claims) if seen is None]
    assert len(winners) == 1
    first = Remembered(f"d{winners[0]}", None, None)
    assert all(seen == first for seen in claims if seen is not None)


# -------------------------------------------------------------------------- status callbacks


async def test_each_state_change_is_due_in_order_one_at_a_time_per_message(
    any_store: AnyStore, tmp_path: Path
) -> None:
    await _insert_messages(
        any_store, tmp_path, [message("m1", url=HOOK, by="t1"), message("quiet")]
    )
    await _change_state(any_store, tmp_path, "m1", "submitted", at(1), parts=2)
    await _change_state(
        any_store, tmp_path, "m1", "undeliverable", at(2), error="ESME_RINVDSTADR", parts=2
    )
    await _change_state(any_store, tmp_path, "quiet", "submitted", at(1))  # no callback URL
    assert await any_store.callbacks.due_callbacks(at(0.5), limit=10) == []  # not yet
    (first,) = await any_store.callbacks.due_callbacks(at(5), limit=10)
    assert (first.message_id, first.url, first.token, first.attempts) == ("m1", HOOK, "t1", 0)
    assert first.created_at == at(1)
    assert json.loads(first.payload) == {
        "id": "m1", "state": "submitted", "at": timestamp(at(1)), "error": None, "parts": 2
    }  # fmt: skip
    await any_store.callbacks.callback_delivered(first.id)
    (second,) = await any_store.callbacks.due_callbacks(at(5), limit=10)
    assert second.id > first.id
    assert json.loads(second.payload) == {
        "id": "m1", "state": "undeliverable", "at": timestamp(at(2)), "error": "ESME_RINVDSTADR",
        "parts": 2,
    }  # fmt: skip
    await any_store.callbacks.callback_delivered(second.id)
    assert await any_store.callbacks.due_callbacks(at(5), limit=10) == []


async def test_a_failed_callback_holds_back_its_messages_next_until_given_up(
    any_store: AnyStore, tmp_path: Path
) -> None:
    await _insert_messages(any_store, tmp_path, [message("m1", url=HOOK)])
    for n, state in enumerate(("submitted", "delivered"), start=1):
        await _change_state(any_store, tmp_path, "m1", state, at(n))
    (first,) = await any_store.callbacks.due_callbacks(at(5), limit=10)
    await any_store.callbacks.callback_failed(first.id, error="HTTP 503", next_at=at(60))
    assert await any_store.callbacks.due_callbacks(at(30), limit=10) == []  # nor the next one
    (again,) = await any_store.callbacks.due_callbacks(at(60), limit=10)
    assert (again.id, again.attempts, again.payload) == (first.id, 1, first.payload)
    await any_store.callbacks.callback_failed(first.id, error="HTTP 503", next_at=None)
    (second,) = await any_store.callbacks.due_callbacks(at(61), limit=10)  # given up: next
    assert json.loads(second.payload)["state"] == "delivered"


async def test_due_callbacks_come_soonest_first_up_to_the_limit(
    any_store: AnyStore, tmp_path: Path
) -> None:
    await _insert_messages(any_store, tmp_path, [message(f"m{n}", url=HOOK) for n in range(4)])
    for n, seconds in enumerate((3, 1, 4, 2)):
        await _change_state(any_store, tmp_path, f"m{n}", "submitted", at(seconds))
    due = await any_store.callbacks.due_callbacks(at(10), limit=3)
    assert [c.message_id for c in due] == ["m1", "m3", "m0"]


# ------------------------------------------------------------------------------- messages


async def test_a_stored_message_reads_back_with_its_history_oldest_first(
    any_store: AnyStore, tmp_path: Path
) -> None:
    stored = message("m1", by="t1", url=HOOK)
    await _insert_messages(any_store, tmp_path, [stored])
    events = [
        ("m1", at(0), "queued", None),
        ("m1", at(2), "delivered", "part 1/1"),
        ("m1", at(1), "submitted", None),  # stored later, happened earlier
        ("m1", at(2), "retry_scheduled", "after delivered, same time: by id"),
        ("other", at(1), "queued", None),
    ]
    await _insert_events(any_store, tmp_path, events)
    assert await any_store.messages.get_message("m1") == stored
    assert await any_store.messages.message_history("m1") == [
        MessageEvent(at(0), "queued"),
        MessageEvent(at(1), "submitted"),
        MessageEvent(at(2), "delivered", "part 1/1"),
        MessageEvent(at(2), "retry_scheduled", "after delivered, same time: by id"),
    ]
    assert await any_store.messages.get_message("nope") is None
    assert await any_store.messages.message_history("nope") == []


async def test_the_states_of_several_messages_are_read_at_once(
    any_store: AnyStore, tmp_path: Path
) -> None:
    sent = [message("a1"), message("a2", state=MessageState.DELIVERED)]
    await _insert_messages(any_store, tmp_path, sent)
    found = await any_store.messages.message_states(["a2", "a1", "gone"])
    assert found == {"a1": MessageState.QUEUED, "a2": MessageState.DELIVERED}
    assert await any_store.messages.message_states([]) == {}


async def test_queued_messages_are_the_oldest_first_up_to_the_limit(
    any_store: AnyStore, tmp_path: Path
) -> None:
    rows = [
        message("m-late", created=30),
        message("m-sent", created=0, state=MessageState.SUBMITTED),
        message("m-first", created=10),
        message("m-second", created=20),
    ]
    await _insert_messages(any_store, tmp_path, rows)
    take = any_store.messages.take_queued
    assert await take(instance="gw", carriers=(), limit=2) == [rows[2], rows[3]]
    assert await take(instance="gw", carriers=(), limit=10) == [rows[2], rows[3], rows[0]]


async def test_a_tokens_messages_are_counted_since_a_time(
    any_store: AnyStore, tmp_path: Path
) -> None:
    rows = [message(f"m{n}", created=n * 60, by="t1") for n in range(4)]
    rows += [message("other", created=60, by="t2"), message("reply", created=60)]
    await _insert_messages(any_store, tmp_path, rows)
    assert await any_store.messages.sent_by("t1", since=at(60)) == 3  # at or after
    assert await any_store.messages.sent_by("t1", since=at(-1)) == 4
    assert await any_store.messages.sent_by("t2", since=at(61)) == 0
    assert await any_store.messages.sent_by("nobody", since=at(-1)) == 0


async def test_messages_are_found_newest_first_by_every_filter_a_page_at_a_time(
    any_store: AnyStore, tmp_path: Path
) -> None:
    rows = [
        message("a", created=0, by="t1"),
        message("b", created=10, by="t1", to="+5016099999"),
        message("c", created=10, by="t2"),  # same time as b: by id
        message("d", created=20, by="t1", state=MessageState.DELIVERED),
        message("e", created=30),
    ]
    await _insert_messages(any_store, tmp_path, rows)
    find = any_store.messages.find_messages

    async def ids(where: MessageFilter, limit: int = 10) -> list[str]:
        return [m.id for m in await find(where, limit=limit)]

    assert await ids(MessageFilter()) == ["e", "d", "c", "b", "a"]
    assert await find(MessageFilter(), limit=1) == [rows[4]]
    assert await ids(MessageFilter(created_by="t1")) == ["d", "b", "a"]
    assert await ids(MessageFilter(to="+5016012345", state=MessageState.QUEUED)) == ["e", "c", "a"]
    assert await ids(MessageFilter(state=MessageState.DELIVERED)) == ["d"]
    assert await ids(MessageFilter(since=at(10))) == ["e", "d", "c", "b"]
    assert await ids(MessageFilter(created_by="t1", since=at(10), to="+5016099999")) == ["b"]
    page = await find(MessageFilter(), limit=2)
    after = MessageFilter(before=(page[-1].created_at, page[-1].id))
    assert await ids(after, limit=2) == ["c", "b"]
    assert await ids(MessageFilter(before=(at(10), "c"), created_by="t1")) == ["b", "a"]


# --------------------------------------------------------------------------- inbound queue


async def test_inbound_texts_are_handed_out_oldest_first_until_marked_handled(
    any_store: AnyStore, tmp_path: Path
) -> None:
    texts = [
        StoredInbound("i-late", "+5016000003", "1515", "STOP", "btl-1", at(3)),
        StoredInbound("i-first", "+5016000001", "1515", "JOIN SALUD", "btl-1", at(1)),
        StoredInbound("i-second", "ALERTS", "1515", "¿hola?", "smart-1", at(2)),
    ]
    await _insert_inbound(any_store, tmp_path, texts)
    assert await any_store.inbound.unhandled_inbound(2) == [texts[1], texts[2]]
    await any_store.inbound.mark_inbound_handled(
        [
            HandledInbound("i-first", InboundOutcome.ANSWERED, at(10)),
            HandledInbound("i-second", InboundOutcome.NOT_ANSWERED, at(10)),
        ]
    )
    await any_store.inbound.mark_inbound_handled([])
    assert await any_store.inbound.unhandled_inbound(10) == [texts[0]]
    await any_store.inbound.mark_inbound_handled(
        [HandledInbound("i-late", InboundOutcome.SILENCED, at(11))]
    )
    assert await any_store.inbound.unhandled_inbound(10) == []
    assert await _handled(any_store, tmp_path) == [
        ("i-first", at(10), "answered"),
        ("i-late", at(11), "silenced"),
        ("i-second", at(10), "not_answered"),
    ]


# ---------------------------------------------------------------------------- Several gateways
# PostgreSQL only: its callbacks and inbound texts are claimed (leased), SQLite's only read.


def _postgres(store: AnyStore) -> PostgresStore:
    if isinstance(store, SqliteStore):
        pytest.skip("one gateway per SQLite database: its queues are read, not claimed")
    return store


async def test_gateways_taking_callbacks_at_once_each_get_their_own_in_order(
    any_store: AnyStore, tmp_path: Path
) -> None:
    store = _postgres(any_store)
    await _insert_messages(store, tmp_path, [message(f"m{n}", url=HOOK) for n in range(6)])
    for n in range(6):
        for seconds, state in ((1, "submitted"), (2, "delivered")):
            await _change_state(store, tmp_path, f"m{n}", state, at(seconds + n / 10))
    takes = await asyncio.gather(
        *(store.callbacks.due_callbacks(at(10), limit=3) for _ in range(4))
    )
    taken = [callback for take in takes for callback in take]
    assert sorted(c.message_id for c in taken) == [f"m{n}" for n in range(6)]
    assert {json.loads(c.payload)["state"] for c in taken} == {"submitted"}
    # taken: leased, and their messages' next ones wait for them, for this gateway too
    assert await store.callbacks.due_callbacks(at(10), limit=10) == []
    await store.callbacks.callback_delivered(taken[0].id)
    (after,) = await store.callbacks.due_callbacks(at(10), limit=10)
    assert (after.message_id, json.loads(after.payload)["state"]) == (
        taken[0].message_id, "delivered"
    )  # fmt: skip


async def test_a_callback_whose_gateway_died_is_handed_out_again_once_its_lease_lapses(
    any_store: AnyStore, tmp_path: Path
) -> None:
    store = _postgres(any_store)
    await _insert_messages(store, tmp_path, [message("m1", url=HOOK)])
    await _change_state(store, tmp_path, "m1", "submitted", at(1))
    (taken,) = await store.callbacks.due_callbacks(at(10), limit=10)
    assert await store.callbacks.due_callbacks(at(10) + LEASE / 2, limit=10) == []
    (again,) = await store.callbacks.due_callbacks(at(10) + LEASE, limit=10)
    assert again == taken


async def test_gateways_taking_texts_at_once_each_get_their_own_and_a_numbers_stay_together(
    any_store: AnyStore, tmp_path: Path
) -> None:
    store = _postgres(any_store)
    senders = [f"+50160000{n:02d}" for n in range(10)]
    texts = [
        StoredInbound(f"i{n:02d}", senders[n % 10], "1515", f"text {n}", "btl-1", at(n))
        for n in range(30)
    ]
    await _insert_inbound(store, tmp_path, texts)
    takes = await asyncio.gather(*(store.inbound.unhandled_inbound(4) for _ in range(5)))
    taken = [text for take in takes for text in take]
    assert len({text.id for text in taken}) == len(taken)  # none handed out twice
    for take in takes:
        assert take == sorted(take, key=lambda text: text.received_at)
        mine = {text.sender for text in take}
        others = {text.sender for other in takes if other is not take for text in other}
        assert not mine & others  # a number's texts go to one handler at a time
    # every number has a text taken: nothing is left for now
    assert await store.inbound.unhandled_inbound(100) == []
    await store.inbound.mark_inbound_handled(
        [HandledInbound(text.id, InboundOutcome.ANSWERED, at(99)) for text in taken]
    )
    rest = await store.inbound.unhandled_inbound(100)
    assert {text.id for text in rest} == {text.id for text in texts} - {t.id for t in taken}


async def test_a_text_whose_gateway_died_is_handed_out_again_once_its_lease_lapses(
    any_store: AnyStore, tmp_path: Path
) -> None:
    store = _postgres(any_store)
    text = StoredInbound("i1", "+5016000001", "1515", "JOIN", "btl-1", at(1))
    later = StoredInbound("i2", "+5016000001", "1515", "STOP", "btl-1", at(2))
    await _insert_inbound(store, tmp_path, [text])
    assert await store.inbound.unhandled_inbound(10) == [text]
    await _insert_inbound(store, tmp_path, [later])
    assert await store.inbound.unhandled_inbound(10) == []  # its number has a text taken
    await _lapse_inbound_leases(store)
    assert await store.inbound.unhandled_inbound(10) == [text, later]


# ------------------------------------------------------------------ Rows made with plain SQL
# Per-backend SQL, marked as such: PostgreSQL's delivery log (DeliveryLog.record, which makes
# these rows in the gateway) is not ported yet (issue 14); replace these with
# store.delivery.record(DeliveryBatch(...)) once it is. _handled and _lapse_inbound_leases read
# or set what no method shows.


def _sqlite(tmp_path: Path, sql: str, rows: Sequence[Sequence[object]]) -> None:
    with closing(sqlite3.connect(tmp_path / "store.db")) as db, db:
        db.executemany(sql, rows)


async def _insert_messages(store: AnyStore, tmp_path: Path, messages: list[Message]) -> None:
    sql = """INSERT INTO messages (id, recipient, sender, text, state, parts, encoding, channel,
        error, created_at, updated_at, expires_at, created_by, callback_url) VALUES """
    rows = [
        (m.id, m.to, m.sender, m.text, m.state.value, m.parts, m.encoding, m.channel, m.error,
         m.created_at, m.updated_at, m.expires_at, m.created_by, m.callback_url)
        for m in messages
    ]  # fmt: skip
    if isinstance(store, SqliteStore):
        _sqlite(tmp_path, sql + "(?,?,?,?,?,?,?,?,?,?,?,?,?,?)", [_sqlite_times(r) for r in rows])
        return
    async with store.db.pool.acquire() as conn:
        await conn.executemany(
            sql + "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)", rows
        )


async def _change_state(
    store: AnyStore, tmp_path: Path, message_id: str, state: str, when: datetime, *,
    error: str | None = None, parts: int = 1,
) -> None:  # fmt: skip
    """A message's new state, as the delivery log sets it: the callbacks' trigger fires."""
    if isinstance(store, SqliteStore):
        _sqlite(
            tmp_path,
            "UPDATE messages SET state = ?, updated_at = ?, error = ?, parts = ? WHERE id = ?",
            [(state, timestamp(when), error, parts, message_id)],
        )
        return
    async with store.db.pool.acquire() as conn:
        await conn.execute(
            "UPDATE messages SET state = $1, updated_at = $2, error = $3, parts = $4"
            " WHERE id = $5",
            state, when, error, parts, message_id,
        )  # fmt: skip


async def _insert_events(
    store: AnyStore, tmp_path: Path, events: list[tuple[str, datetime, str, str | None]]
) -> None:
    sql = "INSERT INTO message_events (message_id, at, state, detail) VALUES "
    if isinstance(store, SqliteStore):
        _sqlite(tmp_path, sql + "(?, ?, ?, ?)", [_sqlite_times(event) for event in events])
        return
    async with store.db.pool.acquire() as conn:
        await conn.executemany(sql + "($1, $2, $3, $4)", events)


async def _insert_inbound(store: AnyStore, tmp_path: Path, texts: list[StoredInbound]) -> None:
    sql = "INSERT INTO inbound (id, sender, recipient, text, channel, carrier_ids, received_at)"
    rows = [(t.id, t.sender, t.to, t.text, t.channel, "[]", t.received_at) for t in texts]
    if isinstance(store, SqliteStore):
        _sqlite(tmp_path, sql + " VALUES (?, ?, ?, ?, ?, ?, ?)", [_sqlite_times(r) for r in rows])
        return
    async with store.db.pool.acquire() as conn:
        await conn.executemany(sql + " VALUES ($1, $2, $3, $4, $5, $6, $7)", rows)


async def _handled(store: AnyStore, tmp_path: Path) -> list[tuple[str, datetime, str]]:
    sql = "SELECT id, handled_at, outcome FROM inbound WHERE handled_at IS NOT NULL ORDER BY id"
    if isinstance(store, SqliteStore):
        with closing(sqlite3.connect(tmp_path / "store.db")) as db:
            rows = db.execute(sql).fetchall()
        return [(id_, datetime.fromisoformat(when), outcome) for id_, when, outcome in rows]
    async with store.db.pool.acquire() as conn:
        return [(row[0], row[1], row[2]) for row in await conn.fetch(sql)]


async def _lapse_inbound_leases(store: PostgresStore) -> None:
    async with store.db.pool.acquire() as conn:
        await conn.execute("UPDATE inbound SET taken_until = now() - interval '1 second'")


def _sqlite_times(row: Sequence[object]) -> tuple[object, ...]:
    return tuple(timestamp(v) if isinstance(v, datetime) else v for v in row)
