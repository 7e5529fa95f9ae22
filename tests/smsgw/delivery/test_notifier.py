"""The Notifier over a queue that hands callbacks out as claims (as PostgreSQL's does): a
message's next callback, claimed while the one before it is still being settled, is posted
after it, not skipped until its claim lapses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiohttp import web

from smsgw.delivery.callbacks import Callback, Notifier
from tests.smsgw.testbed import WAIT, eventually


class ClaimingQueue:
    """Each callback handed out once; a message's next only once the one before is gone."""

    def __init__(self, callbacks: list[Callback]) -> None:
        self.callbacks = {c.id: c for c in callbacks}
        self.claimed: set[int] = set()
        self.settling = asyncio.Event()  # the first delivery is being stored
        self.go_on = asyncio.Event()

    async def due_callbacks(self, now: datetime, *, limit: int) -> list[Callback]:
        first: dict[str, Callback] = {}
        for callback in sorted(self.callbacks.values(), key=lambda c: c.id):
            first.setdefault(callback.message_id, callback)
        due = [c for c in first.values() if c.id not in self.claimed]
        self.claimed.update(c.id for c in due)
        return due

    async def callback_delivered(self, callback_id: int) -> None:
        del self.callbacks[callback_id]  # committed: the next one is due at once...
        self.settling.set()
        await self.go_on.wait()  # ...while this call has not returned yet

    async def callback_failed(
        self, callback_id: int, *, error: str, next_at: datetime | None
    ) -> None:
        raise AssertionError(error)


class NoTokens:
    async def token(self, token_id: str) -> None:
        return None


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[bytes]]]:
    taken: list[bytes] = []

    async def handle(request: web.Request) -> web.Response:
        taken.append(await request.read())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/status", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/status", taken
    await runner.cleanup()


async def test_the_next_callback_claimed_while_the_first_settles_is_posted_after_it(
    receiver: tuple[str, list[bytes]],
) -> None:
    url, taken = receiver
    now = datetime.now(UTC)
    queue = ClaimingQueue([
        Callback(n, "m1", url, None, f'{{"state": "{state}"}}', 0, now)
        for n, state in ((1, "submitted"), (2, "delivered"))
    ])  # fmt: skip
    notifier = Notifier(queue, NoTokens(), poll_s=0.01)  # type: ignore[arg-type]
    await notifier.start()
    try:
        async with asyncio.timeout(WAIT):
            await queue.settling.wait()
        await eventually(lambda: 2 in queue.claimed)  # a round claims the next meanwhile
        queue.go_on.set()
        await eventually(lambda: len(taken) == 2)
    finally:
        await notifier.stop()
    assert taken == [b'{"state": "submitted"}', b'{"state": "delivered"}']
