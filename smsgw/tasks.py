"""The background tasks of one component: each has this owner, which cancels and awaits them
all when the component stops (STYLE B1.7: every task has an owner)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import structlog

_log = structlog.get_logger(__name__)


async def every(seconds: float, job: Callable[[], Awaitable[None]], *, failed: str) -> None:
    """Runs ``job`` every ``seconds`` until cancelled (a task's root): a failure is logged as
    the event ``failed``, and the next run comes all the same."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await job()
        except Exception:  # noqa: BLE001 - the task's root: logged, the next run comes
            _log.exception(failed)


class Tasks:
    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[None]] = []

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.append(task)
        return task

    def forget_done(self) -> None:
        """Drop the tasks that ended (for an owner that spawns many short ones)."""
        self._tasks = [task for task in self._tasks if not task.done()]

    @property
    def running(self) -> bool:
        return any(not task.done() for task in self._tasks)

    async def cancel(self) -> None:
        """Cancel every task and wait until each has ended (their errors are theirs to log)."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
