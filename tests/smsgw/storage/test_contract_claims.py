"""Single messages held by one gateway at a time: a message is taken by a gateway that binds
its carrier, held while that one renews its hold, and left to the others when it lets go or
dies. On SQLite (one gateway per database) a take is a read: the same contract, less of it."""

from __future__ import annotations

import dataclasses

import pytest

from smsgw.delivery.message import DeliveryBatch, Message
from smsgw.storage.postgres import PostgresStore
from smsgw.storage.sqlite import SqliteStore
from tests import postgres
from tests.smsgw.testbed import new_message

AnyStore = SqliteStore | PostgresStore


async def _stored(store: AnyStore, *carriers: str | None) -> list[Message]:
    made = [dataclasses.replace(new_message(), carrier=carrier) for carrier in carriers]
    await store.delivery.record(DeliveryBatch(messages=made))
    return made


async def test_a_take_gives_the_oldest_queued_on_the_carriers_asked_or_on_none(
    any_store: AnyStore,
) -> None:
    btl, smart, nowhere = await _stored(any_store, "btl", "smart", None)
    taken = await any_store.messages.take_queued(instance="gw-1", carriers=["btl"], limit=10)
    if isinstance(any_store, SqliteStore):  # one gateway: it binds every carrier
        assert taken == [btl, smart, nowhere]
    else:
        assert taken == [btl, nowhere]
    assert (await any_store.messages.get_message(btl.id)) == btl  # the carrier is kept


async def test_a_message_held_by_one_gateway_is_not_taken_by_another(
    any_store: AnyStore,
) -> None:
    first, second = await _stored(any_store, "btl", "btl")
    take = any_store.messages.take_queued
    assert await take(instance="gw-1", carriers=["btl"], limit=1) == [first]
    if isinstance(any_store, PostgresStore):
        assert await take(instance="gw-2", carriers=["btl"], limit=10) == [second]
        assert await take(instance="gw-3", carriers=["btl"], limit=10) == []
        # its holder takes it again (a burst it keeps out of memory), bar those it holds
        assert await take(instance="gw-1", carriers=["btl"], limit=10, excluding=[]) == [first]
        assert await take(instance="gw-1", carriers=["btl"], limit=10,
                          excluding=[first.id]) == []  # fmt: skip
    assert await take(instance="gw-1", carriers=["btl"], limit=10, excluding=[first.id]) == (
        [] if isinstance(any_store, PostgresStore) else [second]
    )


async def test_a_released_or_lapsed_hold_leaves_the_message_to_the_others(
    any_store: AnyStore,
) -> None:
    if isinstance(any_store, SqliteStore):
        pytest.skip("nothing is held on SQLite (one gateway): see the test above")
    first, second = await _stored(any_store, "btl", "btl")
    take = any_store.messages.take_queued
    assert await take(instance="gw-1", carriers=["btl"], limit=10) == [first, second]
    await any_store.messages.release_messages("gw-1", [first.id])
    assert await take(instance="gw-2", carriers=["btl"], limit=10) == [first]
    await any_store.db.write(  # gw-1 died: its hold on the second lapses
        lambda conn: conn.execute(
            "UPDATE messages SET claimed_until = now() - interval '1 second' WHERE id = $1",
            second.id,
        )
    )
    assert await take(instance="gw-2", carriers=["btl"], limit=10,
                      excluding=[first.id]) == [second]  # fmt: skip
    await any_store.messages.renew_messages("gw-1", [second.id])  # too late: not its any more
    assert await take(instance="gw-1", carriers=["btl"], limit=10) == []


async def test_messages_made_by_a_gateway_are_held_by_it(postgres_database: str) -> None:
    """The delivery log of a named gateway stores its new messages held by it: the others
    leave them alone while it sends them."""
    mine = await PostgresStore.open(postgres_database, instance="gw-1")
    await mine.db.read(postgres.empty)
    other = await PostgresStore.open(postgres_database, instance="gw-2")
    try:
        [made] = await _stored(mine, "btl")
        assert await other.messages.take_queued(instance="gw-2", carriers=["btl"], limit=10) == []
        await mine.messages.release_messages("gw-1", [made.id])  # it binds no btl channel
        assert await other.messages.take_queued(instance="gw-2", carriers=["btl"], limit=10) == [
            made
        ]
    finally:
        await other.close()
        await mine.close()
