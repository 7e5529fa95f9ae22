"""The background tasks of one component: each has this owner, which cancels and awaits them
all when the component stops (STYLE B1.7: every task has an owner)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


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
