from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from channels.base import DeliveryReceipt, ReceiptState
from smsgw.access.tokens import Role, hash_secret, issue
from smsgw.delivery.message import DeliveryBatch
from smsgw.delivery.recorder import Recorder
from smsgw.storage.sqlite import SqliteStore
from smsgw.storage.sqlite.migrations import LATEST
from tests.smsgw.testbed import new_message


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


async def test_migrations_run_once_however_often_the_store_is_opened(tmp_path: Path) -> None:
    path = tmp_path / "smsgw.db"
    for _ in range(3):
        store = await SqliteStore.open(path)
        assert await store.migrate() == LATEST
        await store.close()
    assert _rows(path, "SELECT version FROM schema_version") == [(v,) for v in range(1, LATEST + 1)]
    assert _rows(path, "PRAGMA journal_mode") == [("wal",)]


async def test_the_store_creates_the_database_folder(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "new" / "folder" / "smsgw.db")
    await store.close()
    assert (tmp_path / "new" / "folder" / "smsgw.db").exists()


async def test_a_token_is_found_by_the_hash_of_its_secret(
    store: SqliteStore, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    secret, token = issue(Role.OFFICER, now=now, ministry="health", expires_days=30)
    await store.tokens.add_token(token)
    found = await store.tokens.token_by_hash(hash_secret(secret))
    assert found == token
    assert found.usable(now)
    assert not found.usable(now + timedelta(days=31))
    assert await store.tokens.token_by_hash(hash_secret("smsgw_other")) is None
    assert secret not in str(_rows(tmp_path / "store.db", "SELECT * FROM api_tokens"))


async def test_a_stored_message_reads_back_with_its_first_history_row(
    store: SqliteStore, recorder: Recorder
) -> None:
    message = new_message()
    await recorder.message_queued(message)
    assert await store.messages.get_message(message.id) == message
    (event,) = await store.messages.message_history(message.id)
    assert (event.state, event.at) == ("queued", message.created_at)
    assert await store.messages.take_queued(instance="local", carriers=(), limit=10) == [message]
    assert await store.messages.get_message("nope") is None


async def test_unmatched_receipts_older_than_the_cut_off_are_purged(store: SqliteStore) -> None:
    batch = DeliveryBatch(
        receipts=[
            ("btl", DeliveryReceipt("ff01", ReceiptState.DELIVERED, "000", "btl-1"), time.time())
        ]
    )
    await store.delivery.record(batch)
    assert await store.delivery.purge_unmatched(datetime.now(UTC) - timedelta(minutes=10)) == []
    (dropped,) = await store.delivery.purge_unmatched(datetime.now(UTC) + timedelta(seconds=1))
    assert (dropped.carrier, dropped.carrier_id, dropped.state) == ("btl", "ff01", "delivered")
    assert await store.delivery.purge_unmatched(datetime.now(UTC) + timedelta(seconds=1)) == []
