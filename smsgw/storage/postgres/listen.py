"""News from the other gateways on the database, by LISTEN/NOTIFY: work for this one to claim
(outbox rows, messages given back, texts) and changes it keeps in memory (the catalogue's
keywords, broadcasts approved or cancelled).

Triggers send the notifications (migrations.py), so every writer does, the CLI included; they
leave at commit, at most one per topic and payload per transaction. Notifications only wake:
each gateway still looks for work at least every second, so one lost (this connection down, a
notification sent meanwhile) costs that second at most. After a reconnection every watcher is
called once, for what may have been missed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Literal

import asyncpg
import structlog

from smsgw.storage.postgres.db import is_passing
from smsgw.tasks import Tasks

_log = structlog.get_logger(__name__)

Topic = Literal["outbox", "messages", "inbound", "catalogue", "broadcasts"]
TOPICS: tuple[Topic, ...] = ("outbox", "messages", "inbound", "catalogue", "broadcasts")
Watcher = Callable[[str], object]  # called with the payload ("" after a reconnection)


def channel(topic: Topic) -> str:
    return f"smsgw_{topic}"


class Listener:
    """One connection of its own, LISTENing on every topic while the gateway runs."""

    def __init__(self, dsn: str, instance: str, *, retry_s: float = 1.0) -> None:
        self._dsn = dsn
        self._instance = instance
        self._retry_s = retry_s
        self._watchers: dict[str, list[Watcher]] = {channel(t): [] for t in TOPICS}
        self._tasks = Tasks()
        self.connected = asyncio.Event()

    def watch(self, topic: Topic, watcher: Watcher) -> None:
        self._watchers[channel(topic)].append(watcher)
        if not self._tasks.running:
            self._tasks.spawn(self._run(), name="postgres-listen")

    async def close(self) -> None:
        await self._tasks.cancel()

    async def _run(self) -> None:
        connected_before = False
        while True:
            connected_before |= await self._listen(resumed=connected_before)
            await asyncio.sleep(self._retry_s)

    async def _listen(self, *, resumed: bool) -> bool:
        """One connection's life: until it is lost; whether it was made."""
        try:
            conn: asyncpg.Connection[asyncpg.Record] = await asyncpg.connect(
                self._dsn, server_settings={"application_name": f"smsgw {self._instance} listen"}
            )
        except Exception as exc:  # noqa: BLE001  # not there yet: the polls carry on meanwhile
            if not is_passing(exc):
                _log.exception("postgres_listen_failed")
            return False
        lost = asyncio.Event()
        try:
            conn.add_termination_listener(lambda _conn: lost.set())
            for name in self._watchers:
                await conn.add_listener(name, self._notified)
            self.connected.set()
            if resumed:
                _log.info("postgres_listen_resumed")
            for name in self._watchers:  # what changed before LISTEN took hold, or meanwhile
                self._call(name, "")
            await lost.wait()
        except Exception as exc:  # noqa: BLE001
            if not is_passing(exc):
                _log.exception("postgres_listen_failed")
        finally:
            self.connected.clear()
            conn.terminate()
        _log.warning("postgres_listen_lost")
        return True

    def _notified(self, _conn: object, _pid: int, name: str, payload: object) -> None:
        self._call(name, str(payload))

    def _call(self, name: str, payload: str) -> None:
        for watcher in self._watchers[name]:
            try:
                watcher(payload)
            except Exception:  # noqa: BLE001  # one watcher's bug must not deafen the others
                _log.exception("postgres_watcher_failed", channel=name)
