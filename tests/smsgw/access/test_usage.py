"""access/usage.py: a token's uses noted in memory, written a batch at a time; a batch the store
refuses is kept for the next."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from smsgw.access.tokens import Role, issue
from smsgw.access.usage import TokenUsage
from smsgw.errors import StorageUnavailable
from smsgw.storage.sqlite import SqliteStore

T0 = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class Failing:
    """A TokenStore whose writes fail while ``down``; what reached it, in order."""

    def __init__(self) -> None:
        self.down = False
        self.written: list[dict[str, datetime]] = []

    async def tokens_used(self, uses: Mapping[str, datetime]) -> None:
        if self.down:
            raise StorageUnavailable("disk full")
        self.written.append(dict(uses))


async def test_uses_go_to_the_store_a_batch_at_a_time(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "store.db")
    try:
        _, token = issue(Role.ADMIN, now=T0, person="CRM")
        await store.tokens.add_token(token)
        clock = Clock()
        usage = TokenUsage(store.tokens, clock=clock)
        for seconds in (1, 2, 30):  # three requests: one write, the last time
            clock.now = T0 + timedelta(seconds=seconds)
            usage.used(token.id)
        assert (await store.tokens.tokens())[0].last_used_at is None  # nothing on the way
        await usage.flush()
        assert (await store.tokens.tokens())[0].last_used_at == T0 + timedelta(seconds=30)
    finally:
        await store.close()


async def test_a_batch_the_store_refuses_waits_for_the_next_and_the_later_use_wins() -> None:
    store, clock = Failing(), Clock()
    usage = TokenUsage(store, clock=clock)  # type: ignore[arg-type]  # tokens_used alone
    usage.used("a")
    usage.used("b")
    store.down = True
    await usage.flush()
    assert store.written == []
    clock.now = T0 + timedelta(minutes=1)
    usage.used("a")
    store.down = False
    await usage.flush()
    assert store.written == [{"a": T0 + timedelta(minutes=1), "b": T0}]
    await usage.flush()  # nothing new: no write
    assert len(store.written) == 1


async def test_stopping_writes_the_last_uses() -> None:
    store = Failing()
    usage = TokenUsage(store, every_s=3600)  # type: ignore[arg-type]
    await usage.start()
    usage.used("a")
    await usage.stop()
    assert [set(batch) for batch in store.written] == [{"a"}]
